#!/usr/bin/env bash
# Create (or refresh) the virtual environment in .venv and install qa into it.
# torch 2.13.0 (CPU build) is installed first so no CUDA build is pulled in.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
if [ "${QA_FRESH_VENV:-0}" = "1" ] || [ ! -x .venv/bin/python ]; then
    python3 -m venv --clear .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -e ".${extra}"
