#!/usr/bin/env bash
# The documents' walk-throughs, run as written against the simulator: every fenced block of README.md and docs/*.md
# marked `<!-- walkthrough: NAME -->` (or `<!-- walkthrough: NAME background -->` for `serve`/`simulate`), read from
# the Markdown at run time, so that a document that drifts from the product fails the build. The convention and how
# the commands run are described at the top of Tests/docs/walkthrough.py.
#
#   Tests/docs/run.sh                                   # builds flexbridge, runs every walk-through
#   FLEXBRIDGE_BIN=/path/to/flexbridge Tests/docs/run.sh  # uses that binary, builds nothing
#   Tests/docs/run.sh --only docs/orders.md            # one document (or DOC:NAME); --list shows the commands
#
# `swift run flexbridge ARGS` in a document runs "$FLEXBRIDGE_BIN" ARGS: in the walk-through's bash session `swift` is
# a shell function that does only that and refuses any other `swift` command (so a walk-through never builds or runs
# the test suite). Likewise `curl` is a function adding --fail-with-body, so an HTTP error fails the walk-through.
# Each walk-through runs in a new temporary directory, on free ports put in place of the documented 8080 and 8090,
# and everything it started is killed when it ends. The whole run is bounded (170 s by default, --total).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ -z ${FLEXBRIDGE_BIN:-} ]]; then
    source Tests/support/build.sh; build_flexbridge
    FLEXBRIDGE_BIN="$(swift build --show-bin-path)/flexbridge"
fi
# Walk-throughs run in their own folders: a relative path would not be found there.
exec timeout --kill-after=10 300 python3 Tests/docs/walkthrough.py --binary "$(realpath "$FLEXBRIDGE_BIN")" "$@"
