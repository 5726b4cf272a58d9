# breakfix-runtime: the lab's base image plus Debian's PostgreSQL 15 and python3-venv. It runs
# both databases (`postgres:15` can stand in where a registry is reachable) and every Python
# service, whose code is the checkout (mounted read-only) and whose dependencies are a venv
# on a volume that the `init` container installs (see docker-compose.yml for why: vfs).
# One RUN, one layer: on vfs every layer and every container is a full copy of the image.
FROM breakfix-base
RUN mkdir -p /etc/postgresql-common \
 && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      postgresql-15 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc /usr/share/man \
      /usr/share/locale /usr/share/postgresql/15/man \
 # JIT is off without them (the lab does not use it): LLVM is most of PostgreSQL's size here.
 && rm -rf /usr/lib/postgresql/15/lib/llvmjit* /usr/lib/postgresql/15/lib/bitcode \
      /usr/lib/x86_64-linux-gnu/libLLVM-*
