# breakfix-prometheus: Prometheus 2.42 and Alertmanager 0.25 from Debian packages, one image
# for both containers, one layer (vfs copies each layer in full).
FROM breakfix-base
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      prometheus prometheus-alertmanager \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc /usr/share/man \
      /usr/share/locale
