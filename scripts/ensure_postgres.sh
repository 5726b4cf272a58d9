#!/usr/bin/env bash
# Make sure PostgreSQL server binaries exist: the machine's, or else the pgserver package.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${BREAKFIX_VENV:-.venv}"

if "$VENV/bin/python" -c "from lab.postgres import find_bindir; find_bindir()" 2>/dev/null; then
  exit 0
fi
echo "setup: no PostgreSQL server binaries on this machine; installing the pgserver package"
"$VENV/bin/python" -m pip install --quiet -e ".[pgserver]"
"$VENV/bin/python" -c "from lab.postgres import find_bindir; print('setup: using', find_bindir())"
