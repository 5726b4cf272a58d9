#!/usr/bin/env bash
# Start the whole lab in the foreground (Ctrl-C stops it cleanly).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure_postgres.sh
exec "${BREAKFIX_VENV:-.venv}/bin/breakfix" run
