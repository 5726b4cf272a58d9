#!/usr/bin/env bash
# Run the test suite against real Postgres; "no tests collected" (pytest exit 5) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/ensure_postgres.sh || exit 1
"${BREAKFIX_VENV:-.venv}/bin/python" -m pytest "$@"
code=$?
if [ "$code" -eq 5 ]; then
  echo "test: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$code"
