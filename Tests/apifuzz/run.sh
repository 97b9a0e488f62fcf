#!/usr/bin/env bash
# Fuzzes FlexBridge's own API with schemathesis over Sources/FlexBridgeAPI/openapi.yaml against `flexbridge serve`,
# once on SQLite and once on a fresh PostgreSQL database (created and dropped by the run), every operation, with the
# coverage phase's boundary values: no request may get a 5xx, serve must never crash and must answer /health after.
# Real objects (an authorised connection to the simulator, a hub, listings, stock, orders, a command, a label, a
# manifest, a webhook) are set up first and their ids passed as parameters (see apifuzz.py). Run from anywhere.
#
#   Tests/apifuzz/run.sh                       # builds flexbridge; FLEXBRIDGE_BIN=… to use a binary instead
#   FUZZ_MAX_EXAMPLES=20 Tests/apifuzz/run.sh  # fewer examples per operation (default 100, about 2 min per database)
#   FLEXBRIDGE_TEST_POSTGRES_URL=postgres://flexbridge@127.0.0.1:54329/postgres   # set by .ci/run; unset: SQLite only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ -z "${FLEXBRIDGE_BIN:-}" ]]; then
    source Tests/support/build.sh; build_flexbridge
    FLEXBRIDGE_BIN="$(swift build --show-bin-path)/flexbridge"
fi
python3 -m pip install --quiet --disable-pip-version-check -r Tests/fuzz/requirements.txt
exec python3 Tests/apifuzz/apifuzz.py "$FLEXBRIDGE_BIN"
