# Sourced by the scripts that test against a running simulator: `start_simulator PORT [OPTIONS…]` builds
# `flexbridge`, starts `flexbridge simulate` on PORT with the test application's credentials and the given options,
# waits until it answers, exports SIMULATOR_URL, and stops it when the calling script exits.

SIMULATOR_CLIENT_ID=amzn1.application-oa2-client.simulator
SIMULATOR_CLIENT_SECRET=simulator-secret
export SIMULATOR_CLIENT_ID SIMULATOR_CLIENT_SECRET
SIMULATOR_PID=""
SIMULATOR_LOG="$(mktemp)"

stop_simulator() {
    if [[ -n "$SIMULATOR_PID" ]]; then kill "$SIMULATOR_PID" 2>/dev/null || true; wait "$SIMULATOR_PID" 2>/dev/null || true; fi
    rm -f "$SIMULATOR_LOG"
}
trap stop_simulator EXIT

start_simulator() {
    local port="$1"
    shift
    source Tests/support/build.sh; build_flexbridge
    "$(swift build --show-bin-path)/flexbridge" simulate --port "$port" \
        --client-id "$SIMULATOR_CLIENT_ID" --client-secret "$SIMULATOR_CLIENT_SECRET" "$@" >"$SIMULATOR_LOG" 2>&1 &
    SIMULATOR_PID=$!
    export SIMULATOR_URL="http://127.0.0.1:$port"
    for _ in $(seq 1 120); do
        curl -sf "$SIMULATOR_URL/_simulator/health" >/dev/null && return 0
        kill -0 "$SIMULATOR_PID" 2>/dev/null || { cat "$SIMULATOR_LOG"; return 1; }
        sleep 0.5
    done
    echo "the simulator did not answer on $SIMULATOR_URL within a minute" >&2
    return 1
}
