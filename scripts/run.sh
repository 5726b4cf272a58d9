#!/usr/bin/env bash
# Start the whole lab in the foreground (Ctrl-C stops it cleanly).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure_postgres.sh
VENV="${BREAKFIX_VENV:-.venv}"
# the LLM crew is an optional extra: say how to have it, and run on without it
if ! "$VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("crewai") is None)'
then
  echo "run: the agent diagnoses with its rules (deterministic mode); for its LLM crew" \
    "(AGENT_MODE=llm) install the llm extra: $VENV/bin/pip install -e '.[llm]'" \
    "(or BREAKFIX_EXTRAS=llm make setup)"
fi
exec "$VENV/bin/breakfix" run
