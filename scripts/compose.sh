#!/usr/bin/env bash
# The lab on Docker Compose: `up` (engine, images, secret files, every container healthy),
# `down` (no container left; volumes kept unless --volumes), `ps`, or any compose command.
# Works with the Compose v2 plugin (`docker compose`) or Debian's docker-compose 1.29.
set -euo pipefail
cd "$(dirname "$0")/.."

export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-breakfix}"
WAIT_S="${BREAKFIX_COMPOSE_WAIT_S:-600}"
SECRETS=.compose/secrets

say() { echo "compose: $*"; }
die() { echo "compose: error: $*" >&2; exit 1; }

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose "$@"
  elif command -v docker-compose >/dev/null 2>&1; then
    docker-compose "$@"
  else
    die "no Compose: install the Compose v2 plugin or Debian's docker-compose"
  fi
}

ensure_compose() {
  docker compose version >/dev/null 2>&1 && return
  command -v docker-compose >/dev/null 2>&1 && return
  [ "$(id -u)" -eq 0 ] || die "no Compose, and only root can install docker-compose"
  say "installing docker-compose (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose \
    >/dev/null || die "could not install docker-compose"
}

build_images() {
  local image file before after
  for pair in breakfix-runtime:deploy/runtime.Dockerfile \
    breakfix-prometheus:deploy/prometheus.Dockerfile; do
    image="${pair%%:*}"
    file="${pair#*:}"
    say "image $image ($file)"
    before=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    docker build --network host -q -t "$image" -f "$file" deploy >/dev/null
    after=$(docker image inspect -f '{{.Id}}' "$image")
    # A rebuilt image leaves the old one dangling, and vfs keeps each layer in full.
    if [ -n "$before" ] && [ "$before" != "$after" ]; then
      docker image rm "$before" >/dev/null 2>&1 || true
    fi
  done
}

secret_files() {
  mkdir -p .compose
  # A TLS-inspecting proxy in front of PyPI: pip in `init` needs the host's CA bundle.
  if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt .compose/pip-ca.crt
  else
    : >.compose/pip-ca.crt
  fi
  docker run --rm --network none -e PYTHONPATH=/opt/breakfix -e PYTHONDONTWRITEBYTECODE=1 \
    -v "$PWD:/opt/breakfix:ro" -v "$PWD/$SECRETS:/out" breakfix-runtime \
    python3 -m breakfix.compose_secrets /out
}

containers() {
  docker ps -a --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
    --format '{{.Label "com.docker.compose.service"}} {{.State}} {{.Status}}'
}

wait_healthy() {
  local deadline=$((SECONDS + WAIT_S)) pending
  while :; do
    pending=""
    while read -r service state status; do
      [ -n "$service" ] || continue
      if [ "$service" = init ]; then
        case "$status" in
          "Exited (0)"*) continue ;;
          Exited*) compose logs --tail=30 init >&2; die "init failed: $status" ;;
        esac
      fi
      case "$status" in
        *"(healthy)"*) ;;
        *"(unhealthy)"*) compose logs --tail=30 "$service" >&2; die "$service is unhealthy" ;;
        Exited*) compose logs --tail=30 "$service" >&2; die "$service exited: $status" ;;
        *) pending="$pending $service" ;;
      esac
    done < <(containers)
    [ -z "$pending" ] && break
    [ "$SECONDS" -ge "$deadline" ] && die "not healthy after ${WAIT_S}s:$pending"
    sleep 2
  done
  say "every container healthy ($(containers | grep -vc '^init ') services)"
}

up() {
  scripts/docker_engine.sh
  ensure_compose
  build_images
  secret_files
  docker volume create "${BREAKFIX_VENV_VOLUME:-breakfix-venv}" >/dev/null
  compose up -d --remove-orphans
  wait_healthy
}

down() {
  if ! docker info >/dev/null 2>&1; then
    say "no docker engine running: nothing to stop"
    return
  fi
  ensure_compose
  compose down --remove-orphans "$@"
  local left
  left=$(containers | wc -l)
  [ "$left" -eq 0 ] || die "$left container(s) of $COMPOSE_PROJECT_NAME left"
  say "no container left${1:+ (volumes removed)}"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) shift; down "$@" ;;
  wait) wait_healthy ;;
  "") die "usage: scripts/compose.sh up | down [--volumes] | wait | <compose command>" ;;
  *) compose "$@" ;;
esac
