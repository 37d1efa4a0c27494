#!/usr/bin/env bash
# Debian's Chromium for the browser test of the page to try a model (tests/test_app.py drives it with Playwright,
# whose own browser download cannot reach its CDN from CI). Run as root; returns at once when it is installed.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then echo "[chromium_up] $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "chromium_up.sh must run as root" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
echo "[chromium_up] apt-get install chromium"
if ! apt-get install -y -q --no-install-recommends chromium >/tmp/chromium_up_apt.log 2>&1; then
  apt-get update -q >>/tmp/chromium_up_apt.log 2>&1
  apt-get install -y -q --no-install-recommends chromium >>/tmp/chromium_up_apt.log 2>&1 \
    || { tail -20 /tmp/chromium_up_apt.log; exit 1; }
fi
/usr/bin/chromium --version
