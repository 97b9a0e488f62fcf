#!/usr/bin/env bash
# Three `flexbridge serve` nodes and 300 seller connections on one fresh PostgreSQL database (created and dropped by the
# run): one node killed with SIGKILL, one stopped cleanly, a fourth started. The shares must rebalance each time, no
# seller may be worked by two nodes at once, nothing may be lost or applied twice; fleet.py explains the checks and
# prints the handover times BENCHMARKS.md quotes. PostgreSQL only: without FLEXBRIDGE_TEST_POSTGRES_URL (set by
# .ci/run) it says so and passes.
#
#   Tests/fleet/run.sh                          # builds flexbridge; FLEXBRIDGE_BIN=… to use a binary instead
#   FLEET_CONNECTIONS=100 Tests/fleet/run.sh
#   FLEET_PRESENCE=false Tests/fleet/run.sh     # a dead node's connections taken when its leases expire
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ -z "${FLEXBRIDGE_TEST_POSTGRES_URL:-}" ]]; then
    echo "Tests/fleet: SKIPPED, FLEXBRIDGE_TEST_POSTGRES_URL is not set (it needs a PostgreSQL server)."
    exit 0
fi
if [[ -z "${FLEXBRIDGE_BIN:-}" ]]; then
    source Tests/support/build.sh; build_flexbridge
    FLEXBRIDGE_BIN="$(swift build --show-bin-path)/flexbridge"
fi
exec python3 Tests/fleet/fleet.py "$FLEXBRIDGE_BIN"
