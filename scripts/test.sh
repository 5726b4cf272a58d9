#!/usr/bin/env bash
# Run the test suite against real Postgres; "no tests collected" (pytest exit 5) is a failure.
#
# First the system packages the tests run (scripts/system_deps.sh: installed as root; not root,
# it says what is missing and those tests skip saying how to install it).
#
# Tests run in BREAKFIX_TEST_WORKERS processes (pytest-xdist, default 3), a whole file per
# process (each file's live lab stays in one process); 1 runs them in one process. The longest
# modules are listed first so that they start first.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/system_deps.sh || exit 1
scripts/ensure_postgres.sh || exit 1
workers="${BREAKFIX_TEST_WORKERS:-3}"
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(
    -m "not deep"
    tests/deploy/test_compose_lab.py
    tests/evals/test_evals.py
    tests/evals/test_out_of_band.py
    tests/agent/test_api.py
    tests
  )
fi
if [ "$workers" -gt 1 ]; then
  args=(-n "$workers" --dist loadfile "${args[@]}")
fi
args=(--durations=25 "${args[@]}")  # where CI's minutes go
"${BREAKFIX_VENV:-.venv}/bin/python" -m pytest "${args[@]}"
code=$?
if [ "$code" -eq 5 ]; then
  echo "test: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$code"
