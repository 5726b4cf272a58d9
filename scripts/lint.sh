#!/usr/bin/env bash
# ruff (lint + format check) and mypy strict on our packages.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BREAKFIX_VENV:-.venv}/bin"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
"$BIN/mypy"
