#!/usr/bin/env bash
# Fuzzes the Amazon simulator with schemathesis over the four derived OpenAPI documents: malformed and random
# requests to every operation must never get a 5xx (no faults are injected here). Run from the repository root.
#
#   Tests/fuzz/run.sh                       # builds and starts `flexbridge simulate` on port 18091, then fuzzes it
#   SIMULATOR_URL=http://127.0.0.1:8090 Tests/fuzz/run.sh   # fuzzes a simulator that is already running
set -euo pipefail

source Tests/support/simulator.sh
EXAMPLES="${FUZZ_MAX_EXAMPLES:-40}"
WORK="$(mktemp -d)"
trap 'stop_simulator; rm -rf "$WORK"' EXIT

python3 -m pip install --quiet --disable-pip-version-check -r Tests/fuzz/requirements.txt
if [[ -z "${SIMULATOR_URL:-}" ]]; then
    start_simulator "${FUZZ_PORT:-18091}" --no-throttle
fi

json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }
REFRESH=$(curl -sf -X POST "$SIMULATOR_URL/_simulator/authorizations" -d '{"merchantId":"A1SIMSELLER"}' | json "['refreshToken']")
TOKEN=$(curl -sf -X POST "$SIMULATOR_URL/auth/o2/token" \
    --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$REFRESH" \
    --data-urlencode "client_id=$SIMULATOR_CLIENT_ID" --data-urlencode "client_secret=$SIMULATOR_CLIENT_SECRET" | json "['access_token']")
AUTH="x-amz-access-token: $TOKEN"
API="$SIMULATOR_URL/externalFulfillment"

# Real objects, so that the fuzzer reaches the operations' logic and not only their 404s.
LOCATION=$(curl -sf -X POST "$API/2026-07-30/location" -H "$AUTH" -H 'content-type: application/json' \
    -d '{"merchantIds":["A1SIMSELLER"],"marketplaceId":"A21TJRUUN4KGV","channels":["MFN"],"locationName":"Fuzz"}' | json "['locationIds']['MFN']")
SHIPMENT=$(curl -sf -X POST "$API/2024-09-11/shipments" -H "$AUTH" -H 'content-type: application/json' \
    -d "{\"locationId\":\"$LOCATION\",\"marketplaceId\":\"A21TJRUUN4KGV\",\"marketplaceChannel\":\"MFN\",\"shippingType\":\"MARKETPLACE\"}" | json "['shipmentId']")
curl -sf -X POST "$API/2024-09-11/shipments/$SHIPMENT?operation=CONFIRM" -H "$AUTH" >/dev/null
LINE_UNITS=$(curl -sf "$API/2024-09-11/shipments/$SHIPMENT" -H "$AUTH" | json "['lineItems'][0]['numberOfUnits']")
curl -sf -X POST "$API/2024-09-11/shipments/$SHIPMENT/packages" -H "$AUTH" -H 'content-type: application/json' -d "{\"packages\":[{\"id\":\"P1\",\
\"dimensions\":{\"length\":{\"value\":\"10\",\"dimensionUnit\":\"CM\"},\"width\":{\"value\":\"10\",\"dimensionUnit\":\"CM\"},\"height\":{\"value\":\"10\",\"dimensionUnit\":\"CM\"}},\
\"weight\":{\"value\":\"500\",\"weightUnit\":\"G\"},\"packageLineItems\":[{\"packageLineItemId\":\"1\",\"quantity\":$LINE_UNITS}]}]}" >/dev/null
curl -sf -X POST "$SIMULATOR_URL/_simulator/listings" -d '{"merchantId":"A1SIMSELLER","marketplaceId":"A21TJRUUN4KGV","skus":["SKU-1"]}' >/dev/null

cat >"$WORK/schemathesis.toml" <<TOML
[parameters]
"path.shipmentId" = "$SHIPMENT"
"path.packageId" = "P1"
"query.packageId" = "P1"
"query.locationId" = "$LOCATION"
TOML

status=0
for api in Inventory Location Returns Shipments; do
    # schemathesis 4's coverage phase trips over a Python AST bug on the shipments document; its fuzzing and
    # stateful phases still send malformed values to every operation there.
    phases="examples,coverage,fuzzing,stateful"
    [[ "$api" == Shipments ]] && phases="examples,fuzzing,stateful"
    echo "== $api"
    schemathesis --config-file "$WORK/schemathesis.toml" run "Sources/AmazonEF$api/openapi.yaml" \
        --url "$SIMULATOR_URL" -H "$AUTH" --checks not_a_server_error --phases "$phases" \
        --max-examples "$EXAMPLES" --workers 2 --seed 20261122 --no-color || status=1
done
exit $status
