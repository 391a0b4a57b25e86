#!/usr/bin/env bash
# Debian's chromium for the real-browser tests (../shared/TESTING.md: never `playwright install`).
# Installs it when missing and we can (root or passwordless sudo); otherwise says so, and the
# browser tests skip with that reason.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: /usr/bin/chromium is missing and apt-get is unavailable; browser tests will be skipped" >&2
  exit 0
fi
if [ "$(id -u)" = "0" ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "note: /usr/bin/chromium is missing and installing it needs root; browser tests will be skipped" >&2
  exit 0
fi
echo "installing Debian's chromium for the browser tests (about 35 s)..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq chromium >/dev/null \
  || echo "warning: could not install chromium; browser tests will be skipped" >&2
exit 0
