#!/usr/bin/env bash
# Make sure the tools of the observability tests (issue 12) are installed:
#   promtool and prometheus (Debian's `prometheus`), chromium (Debian's `chromium`), and
#   a Chinese and an emoji font (`fonts-wqy-microhei`, 5 MB, `fonts-noto-color-emoji`, 11 MB)
#   so that screenshots of the status page show the campaigns' titles, not empty boxes.
# Installs the missing ones with apt-get (as root, or through sudo); prints one line
# per tool. The tests in tests/observe/ and tests/unit/test_alert_rules.py use them.
set -euo pipefail

log() { echo "ensure_observability: $*"; }

missing=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || missing+=(fonts-wqy-microhei)
fc-list 2>/dev/null | grep -qi "color emoji" || missing+=(fonts-noto-color-emoji)

if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
    log "installing ${missing[*]} with apt-get"
    # The prometheus package would start its own server (on :9090) as a system service:
    # the tests start their own, so keep the package's from starting.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ] && [ -z "$sudo" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
        trap "rm -f '$policy'" EXIT
    fi
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

for tool in prometheus promtool chromium; do
    command -v "$tool" >/dev/null 2>&1 || { echo "ensure_observability: $tool still missing" >&2; exit 1; }
done
log "$(promtool --version 2>&1 | head -n 1); $(chromium --version 2>/dev/null | head -n 1)"
