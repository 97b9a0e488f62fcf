#!/usr/bin/env bash
# Two `flexbridge serve` nodes on one fresh PostgreSQL database (created and dropped by the run) under ~40 concurrent
# clients for about 40 s: stock batches sharing SKUs in different orders, and the same fulfilment command sent 20 times
# at once under one Idempotency-Key. No answer may be a 5xx, no stock write may be lost (last write wins per SKU), and
# each key must store exactly one command; contention.py explains the design. PostgreSQL only: without
# FLEXBRIDGE_TEST_POSTGRES_URL (set by .ci/run) it says so and passes.
#
#   Tests/contention/run.sh                    # builds flexbridge; FLEXBRIDGE_BIN=… to use a binary instead
#   CONTENTION_SECONDS=20 Tests/contention/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ -z "${FLEXBRIDGE_TEST_POSTGRES_URL:-}" ]]; then
    echo "Tests/contention: SKIPPED, FLEXBRIDGE_TEST_POSTGRES_URL is not set (it needs a PostgreSQL server)."
    exit 0
fi
if [[ -z "${FLEXBRIDGE_BIN:-}" ]]; then
    source Tests/support/build.sh; build_flexbridge
    FLEXBRIDGE_BIN="$(swift build --show-bin-path)/flexbridge"
fi
exec python3 Tests/contention/contention.py "$FLEXBRIDGE_BIN"
