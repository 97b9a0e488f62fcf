#!/usr/bin/env bash
# Drives the Amazon simulator with Amazon's own Python SDK (amzn-sp-api): installs Tests/sdk/requirements.txt, starts
# `swift run flexbridge simulate` in the background, waits until it answers, runs Tests/sdk/test_amazon_sdk.py against
# it, stops it, and exits with pytest's status. CI runs it from the repository root (any directory works).
#
#   Tests/sdk/run.sh                                        # simulator on port 18090 (PORT=… to change)
#   SIMULATOR_URL=http://127.0.0.1:8090 Tests/sdk/run.sh    # test a simulator that is already running
#   Tests/sdk/run.sh -k inventory                           # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PORT="${PORT:-18090}"
PYTHON="${PYTHON:-python3}"
export PIP_ROOT_USER_ACTION=ignore   # CI installs as root
export SIMULATOR_CLIENT_ID="${SIMULATOR_CLIENT_ID:-amzn1.application-oa2-client.simulator}"
export SIMULATOR_CLIENT_SECRET="${SIMULATOR_CLIENT_SECRET:-simulator-secret}"
STARTUP_SECONDS="${STARTUP_SECONDS:-300}"   # the first `swift run` builds flexbridge, which is slow

SIMULATOR_PID=""
SIMULATOR_LOG="$(mktemp "${TMPDIR:-/tmp}/flexbridge-sdk-simulator.XXXXXX")"
VENV=""
cleanup() {
    if [[ -n "$SIMULATOR_PID" ]] && kill -0 "$SIMULATOR_PID" 2>/dev/null; then
        # Started with setsid: its process group holds `swift run` and the flexbridge it runs, nothing else.
        kill -TERM -- "-$SIMULATOR_PID" 2>/dev/null || kill -TERM "$SIMULATOR_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SIMULATOR_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$SIMULATOR_PID" 2>/dev/null || true
        wait "$SIMULATOR_PID" 2>/dev/null || true
    fi
    rm -f "$SIMULATOR_LOG"
    [[ -n "$VENV" ]] && rm -rf "$VENV"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The test's Python packages: into this Python if it allows it, else into a throwaway virtual environment
# (an "externally managed" system Python refuses pip installs).
if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check -r Tests/sdk/requirements.txt; then
    echo "pip refused to install into $PYTHON; using a virtual environment" >&2
    VENV="$(mktemp -d "${TMPDIR:-/tmp}/flexbridge-sdk-venv.XXXXXX")"
    "$PYTHON" -m venv "$VENV"
    PYTHON="$VENV/bin/python"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check -r Tests/sdk/requirements.txt
fi

if [[ -z "${SIMULATOR_URL:-}" ]]; then
    export SIMULATOR_URL="http://127.0.0.1:$PORT"
    if curl -sf -o /dev/null --max-time 2 "$SIMULATOR_URL/_simulator/health"; then
        echo "something already answers on port $PORT; stop it or set PORT" >&2
        exit 1
    fi
    launcher=()
    command -v setsid >/dev/null && launcher=(setsid)   # its own process group, so that cleanup stops all of it
    "${launcher[@]}" swift run flexbridge simulate --port "$PORT" \
        --client-id "$SIMULATOR_CLIENT_ID" --client-secret "$SIMULATOR_CLIENT_SECRET" >"$SIMULATOR_LOG" 2>&1 &
    SIMULATOR_PID=$!
    deadline=$((SECONDS + STARTUP_SECONDS))
    until curl -sf -o /dev/null --max-time 2 "$SIMULATOR_URL/_simulator/health"; do
        if ! kill -0 "$SIMULATOR_PID" 2>/dev/null; then
            echo "the simulator exited before it answered:" >&2
            cat "$SIMULATOR_LOG" >&2
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            echo "the simulator did not answer on $SIMULATOR_URL within $STARTUP_SECONDS s:" >&2
            tail -n 50 "$SIMULATOR_LOG" >&2
            exit 1
        fi
        sleep 1
    done
    grep -m 1 -i "listening" "$SIMULATOR_LOG" || true
fi

set +e
"$PYTHON" -m pytest -q -p no:cacheprovider Tests/sdk/test_amazon_sdk.py "$@"
status=$?
set -e
if ((status != 0)) && [[ -n "$SIMULATOR_PID" ]]; then
    echo "--- simulator log (last 40 lines)" >&2
    tail -n 40 "$SIMULATOR_LOG" >&2
fi
exit "$status"
