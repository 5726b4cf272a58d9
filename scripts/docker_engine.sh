#!/usr/bin/env bash
# Make a real Docker engine and the `breakfix-base` image available; safe to run again.
# No registry is reachable here, so the image is built from Debian packages with debootstrap.
set -euo pipefail

IMAGE="${BREAKFIX_BASE_IMAGE:-breakfix-base}"
SUITE="${BREAKFIX_BASE_SUITE:-bookworm}"
PACKAGES="${BREAKFIX_BASE_PACKAGES:-python3}"
START_TIMEOUT="${BREAKFIX_DOCKERD_TIMEOUT:-60}"
PIDFILE=/var/run/breakfix-dockerd.pid
LOG=/var/log/breakfix-dockerd.log

say() { echo "docker_engine: $*"; }
die() { echo "docker_engine: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

engine_up() { docker info >/dev/null 2>&1; }

# The mirror apt already uses on this machine (deb822 `.sources` or one-line `sources.list`).
debian_mirror() {
  if [ -n "${BREAKFIX_DEBIAN_MIRROR:-}" ]; then
    echo "$BREAKFIX_DEBIAN_MIRROR"
    return
  fi
  local uri
  uri=$(awk -v suite="$SUITE" '
    /^URIs:/ { uris = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && uris != "") { print uris; exit } }
    /^deb / { for (i = 3; i <= NF; i++) if ($i == suite) { print ($2 ~ /^\[/ ? $3 : $2); exit } }
  ' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
    2>/dev/null | head -n 1)
  echo "${uri:-http://deb.debian.org/debian}"
}

start_engine() {
  if engine_up; then
    say "engine already running"
    return
  fi
  command -v docker >/dev/null 2>&1 || die "no docker client; install docker.io"
  command -v dockerd >/dev/null 2>&1 || die "no dockerd; install docker.io (apt-get install docker.io)"
  [ "$(id -u)" -eq 0 ] || die "dockerd is not running and only root can start it (run as root)"

  local started pid=""
  started=$(now)
  [ -s "$PIDFILE" ] && pid=$(cat "$PIDFILE")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    say "dockerd (pid $pid) already starting; waiting"
  else
    touch "$LOG" 2>/dev/null || LOG=$(mktemp -t breakfix-dockerd.XXXXXX.log)
    say "starting dockerd (log $LOG)"
    # vfs and no iptables/bridge: works without overlayfs or netfilter; containers use host net.
    setsid nohup dockerd --storage-driver=vfs --iptables=false --bridge=none \
      --pidfile="$PIDFILE" >>"$LOG" 2>&1 </dev/null 9>&- &
    pid=$!
  fi
  local deadline=$((SECONDS + START_TIMEOUT))
  until engine_up; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG" >&2 || true
      die "dockerd exited during start-up; see $LOG"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$LOG" >&2 || true
      die "dockerd did not answer within ${START_TIMEOUT}s; see $LOG"
    fi
    sleep 0.5
  done
  say "engine up in $(elapsed "$started")s"
}

build_image() {
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "image $IMAGE present"
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "image $IMAGE is missing and debootstrap needs root"
  local started mirror
  started=$(now)
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap; } \
      || die "could not install debootstrap"
  fi
  mirror=$(debian_mirror)
  ROOTFS=$(mktemp -d /var/tmp/breakfix-rootfs.XXXXXX)
  trap 'rm -rf "$ROOTFS"' EXIT
  say "debootstrap $SUITE (+$PACKAGES) from $mirror"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$mirror" \
    >"$ROOTFS.debootstrap.log" 2>&1 || {
    tail -n 20 "$ROOTFS.debootstrap.log" >&2
    die "debootstrap failed; full log in $ROOTFS.debootstrap.log"
  }
  rm -f "$ROOTFS.debootstrap.log"
  # The package cache only makes the vfs layer bigger.
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  chmod 755 "$ROOTFS"  # mktemp made it 0700: the image's / would let only root through
  tar -C "$ROOTFS" -c . | docker import - "$IMAGE" >/dev/null || die "docker import failed"
  say "image $IMAGE built in $(elapsed "$started")s"
}

# One run at a time: two concurrent callers would start two daemons or debootstrap twice.
# (dockerd is started with fd 9 closed, or the daemon would hold this lock for its lifetime.)
lock=/var/lock/breakfix-docker-engine.lock
[ "$(id -u)" -eq 0 ] || lock="${TMPDIR:-/tmp}/breakfix-docker-engine.$(id -u).lock"
exec 9>"$lock"
flock 9

total=$(now)
start_engine
build_image
say "ready in $(elapsed "$total")s"
