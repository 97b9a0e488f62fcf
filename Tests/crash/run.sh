#!/usr/bin/env bash
# Kills `flexbridge serve` with SIGKILL in the middle of an inventory sync and checks, against the simulator's
# ground truth, that every SKU converges after the restart and no sequence number is reused or lowered.
#
#   Tests/crash/run.sh                  # 20,000 SKUs (CRASH_SKUS=… to change)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
swift build --product flexbridge >/dev/null
python3 Tests/crash/kill_during_sync.py "$(swift build --show-bin-path)/flexbridge"
