#!/usr/bin/env bash
# Install the Debian packages the tests run for real; a quick no-op when all are present.
#
# As root: apt-get installs what is missing of PostgreSQL's server binaries, Prometheus (with
# promtool), Alertmanager (with amtool), Chromium and the Docker engine, then starts the engine
# and builds the breakfix-base image (scripts/docker_engine.sh). A Docker failure is a warning:
# those tests skip with a reason. Not root: installs nothing; prints what is missing, what needs
# it and the command that installs it, and exits 0 (the tests that need it skip and say so).
# `make test` runs this first, and CI runs `make test`, so CI cannot hide a step a user lacks.
#
# BREAKFIX_SKIP_SYSTEM_DEPS=1 skips this whole script (a machine whose packages are managed
# some other way, or an image that has them baked in).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BREAKFIX_SKIP_SYSTEM_DEPS:-}" = 1 ]; then
  echo "system_deps: BREAKFIX_SKIP_SYSTEM_DEPS=1; not checking system packages"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
LOCK_TIMEOUT=600  # seconds to wait for another apt/dpkg run (one may be installing right now)
APT=(apt-get -o "DPkg::Lock::Timeout=$LOCK_TIMEOUT")
updated=0

say() { echo "system_deps: $*"; }
die() { echo "system_deps: error: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
have_postgres() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }

# `apt-get update` does not honour DPkg::Lock::Timeout (the lists lock): wait for it here.
apt_update() {
  local deadline=$((SECONDS + LOCK_TIMEOUT)) out
  until out=$("${APT[@]}" update -qq 2>&1 </dev/null); do
    if ! grep -q "Could not get lock" <<<"$out" || [ "$SECONDS" -ge "$deadline" ]; then
      echo "$out" >&2
      return 1
    fi
    sleep 5
  done
  [ -z "$out" ] || echo "$out"
}

apt_install() {
  # Keep package scripts from starting system services (a stock cluster on 5432, dockerd).
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  if [ "$updated" -eq 0 ]; then
    apt_update || return 1
    updated=1
  fi
  "${APT[@]}" install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" </dev/null
}

# Each missing piece: "apt package|what it is, and what needs it"; Docker is handled below.
stack_tests="needed by the stack tests in tests/observability"
missing=()
have_postgres || missing+=("postgresql|PostgreSQL server binaries, needed by the lab and the tests")
{ have prometheus && have promtool; } \
  || missing+=("prometheus|prometheus and promtool, $stack_tests")
{ have prometheus-alertmanager && have amtool; } \
  || missing+=("prometheus-alertmanager|prometheus-alertmanager and amtool, $stack_tests")
[ -x /usr/bin/chromium ] \
  || missing+=("chromium|/usr/bin/chromium, needed by the report tests (Playwright drives it)")
docker_missing=()
have dockerd || docker_missing+=(docker.io)
have debootstrap || docker_missing+=(debootstrap)  # scripts/docker_engine.sh builds the image

if [ "$(id -u)" -ne 0 ]; then
  for piece in "${missing[@]}"; do
    package=${piece%%|*}
    line="missing ${piece#*|}; not root, so not installed here:"
    line+=" run \`make test\` as root, or: sudo apt-get install -y $package"
    [ "$package" = postgresql ] && line+=" (meanwhile scripts/ensure_postgres.sh uses pgserver)"
    say "$line"
  done
  if ! have dockerd; then
    say "missing the Docker engine, needed by the Docker backend tests; not root, so not" \
      "installed here: run \`make test\` as root, or:" \
      "sudo apt-get install -y docker.io debootstrap && sudo scripts/docker_engine.sh"
  elif ! { docker info >/dev/null 2>&1 \
    && docker image inspect "${BREAKFIX_BASE_IMAGE:-breakfix-base}" >/dev/null 2>&1; }; then
    say "no running Docker engine or no ${BREAKFIX_BASE_IMAGE:-breakfix-base} image, needed by" \
      "the Docker backend tests; not root, so not starting it: sudo scripts/docker_engine.sh"
  fi
  exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
  packages=("${missing[@]%%|*}")
  say "installing ${packages[*]}"
  started=$SECONDS
  apt_install "${packages[@]}" || die "apt-get install ${packages[*]} failed"
  say "installed in $((SECONDS - started))s"
  have_postgres || die "no /usr/lib/postgresql/*/bin/initdb after installing postgresql"
  for tool in prometheus promtool prometheus-alertmanager amtool; do
    have "$tool" || die "$tool is not on the PATH after installing its package"
  done
  [ -x /usr/bin/chromium ] || die "no /usr/bin/chromium after installing chromium"
fi

# The Docker engine and the breakfix-base image: failures are reported, not fatal.
if [ ${#docker_missing[@]} -gt 0 ]; then
  say "installing ${docker_missing[*]}"
  apt_install "${docker_missing[@]}" || say "warning: could not install ${docker_missing[*]}" >&2
fi
if have dockerd; then
  scripts/docker_engine.sh \
    || say "warning: no Docker engine or image; the Docker backend tests will skip" >&2
fi
