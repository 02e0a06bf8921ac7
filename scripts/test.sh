#!/usr/bin/env bash
# Set up from scratch (a fresh virtual environment) and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
QA_FRESH_VENV=1 bash scripts/setup.sh "[test]"
.venv/bin/python -m pytest "$@"
