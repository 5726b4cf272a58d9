#!/bin/sh
# The `init` container: (re)install the services' venv on its volume when the dependencies
# in pyproject.toml changed, then prepare the state dir and the databases
# (breakfix.compose_init). The checkout is mounted read-only at /opt/breakfix.
set -eu
SRC=/opt/breakfix
VENV=/opt/venv
python3 -c 'import tomllib; print("\n".join(tomllib.load(open("/opt/breakfix/pyproject.toml", "rb"))["project"]["dependencies"]))' \
  > /tmp/requirements.txt
wanted=$(sha256sum /tmp/requirements.txt | cut -d" " -f1)
if [ "$(cat "$VENV/.breakfix-deps" 2>/dev/null || true)" != "$wanted" ]; then
  echo "init: installing the services' dependencies into $VENV (first run: a few minutes)"
  # A TLS-inspecting proxy in front of PyPI: scripts/compose.sh passes the host's CA bundle.
  if [ -s /run/secrets/pip-ca.crt ]; then export PIP_CERT=/run/secrets/pip-ca.crt; fi
  python3 -m venv --clear "$VENV"
  "$VENV/bin/pip" install --no-cache-dir --disable-pip-version-check -q -r /tmp/requirements.txt
  echo "$SRC" > "$VENV/lib/python3.11/site-packages/breakfix-source.pth"
  printf '#!%s/bin/python\nimport sys\nfrom breakfix.cli.main import app\nsys.exit(app())\n' \
    "$VENV" > "$VENV/bin/breakfix"
  chmod 755 "$VENV/bin/breakfix"
  echo "$wanted" > "$VENV/.breakfix-deps"
fi
exec "$VENV/bin/python" -m breakfix.compose_init
