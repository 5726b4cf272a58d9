#!/usr/bin/env bash
# ruff (lint + format check) and mypy strict on our packages.
set -euo pipefail
cd "$(dirname "$0")/.."
# mypy checks the optional code (the LLM crew, the Supabase sink) against those extras' types
BREAKFIX_EXTRAS=llm,supabase scripts/setup.sh
BIN="${BREAKFIX_VENV:-.venv}/bin"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
"$BIN/mypy"
