#!/usr/bin/env bash
# Drives the Amazon simulator with Amazon's own Python SDK (amzn-sp-api): starts `flexbridge simulate`, runs
# Tests/sdk/test_amazon_sdk.py against it, stops it. Run from the repository root.
set -euo pipefail
source Tests/support/simulator.sh

python3 -m pip install --quiet --disable-pip-version-check -r Tests/sdk/requirements.txt
start_simulator "${SDK_TEST_PORT:-18092}"
python3 -m pytest -q -p no:cacheprovider Tests/sdk/test_amazon_sdk.py
