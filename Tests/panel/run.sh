#!/usr/bin/env bash
# The operators' panel in a real browser (headless Chromium driven by Selenium): log in, watch an order arrive, ship
# it end to end from the panel, build and hand over its manifest, receive its return, and be refused with a forged
# form token and without a session. Takes the screenshots in docs/panel/ (PANEL_SCREENSHOTS=1 writes them there).
#
#   Tests/panel/run.sh                  # FLEXBRIDGE_BIN=… to test a built binary
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ -z "${FLEXBRIDGE_BIN:-}" ]]; then
    source Tests/support/build.sh; build_flexbridge
    FLEXBRIDGE_BIN="$(swift build --show-bin-path)/flexbridge"
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium chromium-driver >/dev/null
fi
python3 -c 'import selenium' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check selenium
exec timeout --kill-after=10 600 python3 Tests/panel/panel_browser.py "$(realpath "$FLEXBRIDGE_BIN")"
