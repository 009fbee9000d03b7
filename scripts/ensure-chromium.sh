#!/usr/bin/env bash
# The dashboard's browser test drives Debian's headless Chromium (npm packages cannot download browsers here).
# Installs it when missing and we may (root with apt-get); otherwise the browser test says why it skipped.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "ensure-chromium: could not install chromium; the dashboard browser test will fail" >&2
fi
exit 0
