#!/usr/bin/env bash
# Kills `flexbridge serve` with SIGKILL in the middle of an inventory sync and checks, against the simulator's
# ground truth, that every SKU converges after the restart and no sequence number is reused or lowered; then kills it
# while JSON listings feeds carry MFN stock (four waves of 20,000 listings, a kill after each): every listing
# converges to the WMS's last quantity and no change goes in two feeds; then again and again while Send to Amazon
# plans go through Amazon's steps: each plan reaches its labels, created once at Amazon, no confirmation sent twice.
#
#   Tests/crash/run.sh                  # CRASH_SKUS=…, FEED_CRASH_SKUS=…, FEED_CRASH_WAVES=… to change
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source Tests/support/build.sh; build_flexbridge
python3 Tests/crash/kill_during_sync.py "$(swift build --show-bin-path)/flexbridge"
python3 Tests/crash/kill_during_feeds.py "$(swift build --show-bin-path)/flexbridge"
python3 Tests/crash/kill_during_inbound_plans.py "$(swift build --show-bin-path)/flexbridge"
