#!/usr/bin/env bash
# Orders under chaos: 1,000 orders through confirm, pack, label and ship while the simulator fails one call in
# eight and FlexBridge is killed with SIGKILL four times; checks exactly-once announcement, every order shipped,
# no state change sent twice and every cancellation reflected (see orders_chaos.py). Then 1,000 MFN orders in two
# marketplaces shipped in one or two packages while one Orders API call in ten fails and FlexBridge is killed three
# times: each announced once, each package confirmed once, every cancellation reflected (see mfn_chaos.py).
#
#   Tests/chaos/run.sh                  # CHAOS_ORDERS=… CHAOS_KILLS=… MFN_CHAOS_ORDERS=… to change
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source Tests/support/build.sh; build_flexbridge
python3 Tests/chaos/orders_chaos.py "$(swift build --show-bin-path)/flexbridge"
python3 Tests/chaos/mfn_chaos.py "$(swift build --show-bin-path)/flexbridge"
