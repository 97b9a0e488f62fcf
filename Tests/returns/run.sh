#!/usr/bin/env bash
# Returns under SIGKILL: 30 shipped orders returned, each return walked along Amazon's lifecycle in rounds while
# listReturns fails one call in fourteen and FlexBridge is killed with SIGKILL three times; checks that every return
# and every status change reached FlexBridge exactly once (list, history, events) and that receiving a sellable
# return puts its units back on sale at Amazon, once (see returns_crash.py).
#
#   Tests/returns/run.sh                # RETURNS_ORDERS=… RETURNS_KILLS=… RETURNS_SEED=… to change or replay
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source Tests/support/build.sh; build_flexbridge
python3 Tests/returns/returns_crash.py "$(swift build --show-bin-path)/flexbridge"
