#!/usr/bin/env bash
# A whole flow — keys, an operator, a seller's consent through Login with Amazon, stock, orders through hand-over,
# a webhook — with serve at --log-level trace; then every secret the run made is looked for in serve's log, and none
# may be there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source Tests/support/build.sh; build_flexbridge
python3 Tests/secrets/no_secrets_in_logs.py "$(swift build --show-bin-path)/flexbridge"
