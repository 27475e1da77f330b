#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium and its WebDriver are installed (the dashboard's browser
# test drives them with Selenium). Idempotent, and instant when both are present. Never downloads a
# browser build of its own: only Debian's packages.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then exit 0; fi
echo "ensure-chromium: installing Debian's chromium and chromium-driver" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || {
  apt-get update -q >/dev/null || true
  apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
}
command -v chromium >/dev/null && command -v chromedriver >/dev/null
