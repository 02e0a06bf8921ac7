#!/usr/bin/env bash
# Set up from scratch (a fresh virtual environment) and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
QA_FRESH_VENV=1 bash scripts/setup.sh "[test]"
# The browser tests drive the system Chromium (never a Playwright download); install it on a
# fresh machine when we may. Without it they skip locally and fail in CI (CI=true).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
.venv/bin/python -m pytest "$@"
