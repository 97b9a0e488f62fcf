#!/usr/bin/env bash
# `flexbridge demo` as a newcomer runs it: orders arrive and the demo warehouse ships them through FlexBridge,
# Ctrl-C stops it cleanly, a second run carries on with the same seller and orders, --reset starts afresh.
#
#   Tests/demo/run.sh                  # FLEXBRIDGE_BIN=… to test a built binary
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ -z "${FLEXBRIDGE_BIN:-}" ]]; then
    source Tests/support/build.sh; build_flexbridge
    FLEXBRIDGE_BIN="$(swift build --show-bin-path)/flexbridge"
fi
exec timeout --kill-after=10 600 python3 Tests/demo/demo_test.py "$(realpath "$FLEXBRIDGE_BIN")"
