#!/usr/bin/env bash
# Create .venv and install the project with its dev tools; a no-op when nothing changed.
#
# The core lab only: the LLM crew (`llm` extra: CrewAI) and the Supabase sink (`supabase`
# extra) are optional. BREAKFIX_EXTRAS adds extras, comma-separated (`llm,supabase`): CI and
# `make lint` ask for both, so the crew's tests run and mypy checks that code against them.
# An extra once installed stays installed (the stamp keeps the union).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV="${BREAKFIX_VENV:-.venv}"
STAMP="$VENV/.breakfix-installed"

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi

want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
extras="dev${BREAKFIX_EXTRAS:+,$BREAKFIX_EXTRAS}"
stamp_hash="" stamp_extras=""
if [ -f "$STAMP" ]; then
  read -r stamp_hash stamp_extras <"$STAMP" || true
fi
if [ "$stamp_hash" = "$want" ]; then
  missing=""
  for extra in ${extras//,/ }; do
    case ",$stamp_extras," in *",$extra,"*) ;; *) missing=1 ;; esac
  done
  [ -z "$missing" ] && exit 0
  extras="$stamp_extras,$extras"  # keep what is installed in the stamp
fi
extras="$(tr "," "\n" <<<"$extras" | grep -v "^$" | sort -u | paste -sd, -)"

echo "setup: installing Python dependencies into $VENV (extras: $extras)"
"$VENV/bin/python" -m pip install --quiet --upgrade "pip==25.3"
"$VENV/bin/python" -m pip install --quiet -e ".[$extras]"
"$VENV/bin/python" -m pip check
echo "$want $extras" > "$STAMP"
