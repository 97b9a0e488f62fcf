#!/usr/bin/env bash
# Drives the Amazon simulator with Amazon's own Python SDK (amzn-sp-api): builds and starts `flexbridge simulate` on
# a free port, runs Tests/sdk/test_amazon_sdk.py against it, stops it. Run from the repository root.
set -euo pipefail

PORT="${SDK_TEST_PORT:-18092}"
CLIENT_ID=amzn1.application-oa2-client.simulator
CLIENT_SECRET=simulator-secret
LOG="$(mktemp)"
PID=""
cleanup() {
    if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -f "$LOG"
}
trap cleanup EXIT

python3 -m pip install --quiet --disable-pip-version-check -r Tests/sdk/requirements.txt
swift build --product flexbridge >/dev/null
"$(swift build --show-bin-path)/flexbridge" simulate --port "$PORT" \
    --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$PORT/_simulator/health" >/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$LOG"; exit 1; }
    sleep 0.5
done

SIMULATOR_URL="http://127.0.0.1:$PORT" SIMULATOR_CLIENT_ID="$CLIENT_ID" SIMULATOR_CLIENT_SECRET="$CLIENT_SECRET" \
    python3 -m pytest -q -p no:cacheprovider Tests/sdk/test_amazon_sdk.py
