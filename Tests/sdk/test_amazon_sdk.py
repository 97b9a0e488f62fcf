"""Amazon's own Python SDK (PyPI amzn-sp-api) driving the FlexBridge simulator end to end.

The SDK checks what it reads (required fields present, inline enum values, list sizes, number and string bounds)
and raises ValueError on anything that breaks its models, so every call below doubles as a check that the
simulator answers in Amazon's shapes. On top of the SDK's own checks, every 2xx body is compared with the SDK's
model (`contract_violations`): unknown JSON keys, which the SDK drops silently, values of the named enums
(Priority, RequirementLevel, Status, …) that the SDK passes through unchecked, and JSON types (a number where Amazon
has a string, or the reverse), which the SDK coerces silently. Set SDK_STRICT=0 to keep only the SDK's own checks.

Environment:
  SIMULATOR_URL            the simulator, e.g. http://127.0.0.1:18090 (the tests are skipped without it)
  SIMULATOR_CLIENT_ID      the simulator's LWA client id (default amzn1.application-oa2-client.simulator)
  SIMULATOR_CLIENT_SECRET  the simulator's LWA client secret (default simulator-secret)

Control paths (outside Amazon's API) only set up what a seller does elsewhere and Amazon's sandbox cannot make:
POST /_simulator/authorizations (a refresh token without the browser flow), POST /_simulator/returns (a customer
return), POST /_simulator/mfn-orders (merchant-fulfilled orders, as buyers would place them), listings, FBA stock and
inbound shipments "in Seller Central", the timing of feeds and of Send to Amazon's operations, expiring a plan's
offered options, the ground truth (GET /_simulator/state) and GET /_simulator/health (run.sh). Everything else goes
through the SDK, as against Amazon.
"""

import base64
import datetime
import contextlib
import importlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

SIMULATOR_URL = os.environ.get("SIMULATOR_URL", "").rstrip("/")
CLIENT_ID = os.environ.get("SIMULATOR_CLIENT_ID", "amzn1.application-oa2-client.simulator")
CLIENT_SECRET = os.environ.get("SIMULATOR_CLIENT_SECRET", "simulator-secret")
STRICT = os.environ.get("SDK_STRICT", "1") != "0"

if not SIMULATOR_URL:
    pytest.skip("SIMULATOR_URL is not set: no simulator to test against", allow_module_level=True)

import urllib3  # noqa: E402  (installed with the SDK)
from spapi import SPAPIClient, SPAPIConfig  # noqa: E402
from spapi.api.external_fulfillment_inventory_v2024_09_11.batch_inventory_api import BatchInventoryApi  # noqa: E402
from spapi.api.external_fulfillment_location_v2026_07_30.sandbox_location_api import SandboxLocationApi  # noqa: E402
from spapi.api.external_fulfillment_returns_v2024_09_11.return_retrieval_api import ReturnRetrievalApi  # noqa: E402
from spapi.api.external_fulfillment_shipments_v2024_09_11.sandbox_shipments_api import SandboxShipmentsApi  # noqa: E402
from spapi.api.external_fulfillment_shipments_v2024_09_11.shipment_processing_api import (  # noqa: E402
    ShipmentProcessingApi,
)
from spapi.api.external_fulfillment_shipments_v2024_09_11.shipment_retrieval_api import (  # noqa: E402
    ShipmentRetrievalApi,
)
from spapi.models.external_fulfillment_inventory_v2024_09_11 import (  # noqa: E402
    BatchInventoryRequest,
    InventoryRequest,
    InventoryRequestParams,
)
from spapi.models.external_fulfillment_inventory_v2024_09_11 import (  # noqa: E402
    MarketplaceAttributes as InventoryMarketplaceAttributes,
)
from spapi.models.external_fulfillment_location_v2026_07_30 import CreateSandboxLocationRequest  # noqa: E402
from spapi.models.external_fulfillment_shipments_v2024_09_11 import (  # noqa: E402
    Amount,
    CreateSandboxShipmentRequest,
    Dimension,
    Package,
    PackageDeliveryStatus,
    PackageDimensions,
    PackageLineItem,
    Packages,
    SandboxShipmentUpdates,
    ShipLabelsInput,
    UpdateSandboxShipmentRequest,
    Weight,
)
from spapi.rest import ApiException  # noqa: E402

MERCHANT = "A1SIMSELLER"
INDIA = "A21TJRUUN4KGV"
SHIPMENTS_MODELS = "spapi.models.external_fulfillment_shipments_v2024_09_11"


# ---------------------------------------------------------------------------------------------------------------------
# The control path (plain JSON, not Amazon's API)


def control(path, body):
    request = urllib.request.Request(
        SIMULATOR_URL + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201, f"POST {path} answered {response.status}, expected 201"
            return json.load(response)
    except urllib.error.HTTPError as error:
        pytest.fail(f"POST {path} answered {error.code}: {error.read().decode(errors='replace')}")


# ---------------------------------------------------------------------------------------------------------------------
# Contract checks stricter than the SDK's own (see the module docstring)


def _model_class(module_name, type_name):
    return getattr(importlib.import_module(module_name), type_name, None)


def _enum_values(klass):
    return {value for name, value in vars(klass).items() if name.isupper() and isinstance(value, str)}


# Values Amazon answers that its own model leaves out of a named enum: v0's ShipmentStatus lacks READY_TO_SHIP, which
# getShipments' ShipmentStatusList filter documents as a current status ("the seller has printed box labels") and
# which a Send to Amazon shipment takes once its transportation is confirmed.
MODEL_GAPS = {("spapi.models.fulfillment_inbound_v0", "ShipmentStatus", "READY_TO_SHIP")}


def contract_violations(data, type_name, module_name, path="$"):
    """Where `data` (parsed JSON) departs from the SDK's model `type_name`; [] when it fits."""
    if data is None:
        return []  # the SDK treats null as absent; its setters reject a missing required field themselves
    if type_name.startswith(("List[", "list[")):
        if not isinstance(data, list):
            return [f"{path}: expected a JSON array, got {type(data).__name__}"]
        inner = type_name[5:-1]
        return [v for i, item in enumerate(data) for v in contract_violations(item, inner, module_name, f"{path}[{i}]")]
    if type_name.startswith(("Dict[", "dict(")):
        if not isinstance(data, dict):
            return [f"{path}: expected a JSON object, got {type(data).__name__}"]
        inner = type_name[type_name.index(",") + 1:-1].strip()
        return [v for k, item in data.items() for v in contract_violations(item, inner, module_name, f"{path}.{k}")]
    if type_name == "str":
        return [] if isinstance(data, str) else [f"{path}: expected a JSON string, got {json.dumps(data)}"]
    if type_name == "int":
        ok = isinstance(data, int) and not isinstance(data, bool)
        return [] if ok else [f"{path}: expected a JSON integer, got {json.dumps(data)}"]
    if type_name == "float":
        ok = isinstance(data, (int, float)) and not isinstance(data, bool)
        return [] if ok else [f"{path}: expected a JSON number, got {json.dumps(data)}"]
    if type_name == "bool":
        return [] if isinstance(data, bool) else [f"{path}: expected a JSON boolean, got {json.dumps(data)}"]
    if type_name in ("object", "datetime", "date"):
        return []
    klass = _model_class(module_name, type_name)
    if klass is None:
        return [f"{path}: the SDK has no model {type_name} in {module_name}"]
    if not klass.swagger_types:  # a named string enum, which the SDK passes through without checking it
        allowed = _enum_values(klass)
        if data in allowed or (module_name, type_name, data) in MODEL_GAPS:
            return []
        return [f"{path}: {json.dumps(data)} is not one of {type_name} {sorted(allowed)}"]
    if not isinstance(data, dict):
        return [f"{path}: expected a JSON object ({type_name}), got {json.dumps(data)[:80]}"]
    known = {json_name: attr for attr, json_name in klass.attribute_map.items()}
    violations = [f"{path}.{key}: not a field of {type_name} (the SDK drops it)" for key in data if key not in known]
    for key, attr in known.items():
        if key in data:
            violations += contract_violations(data[key], klass.swagger_types[attr], module_name, f"{path}.{key}")
    return violations


def assert_fits(data, type_name, module_name, what):
    violations = contract_violations(data, type_name, module_name)
    assert not violations, f"{what} does not fit Amazon's model {type_name}:\n  " + "\n  ".join(violations)


def error_codes(error, module_name=SHIPMENTS_MODELS, type_name="ErrorList"):
    """The codes of an error answer, after checking it has Amazon's {"errors":[{code, message, details?}]} shape."""
    try:
        body = json.loads(error.body)
    except (TypeError, ValueError):
        pytest.fail(f"HTTP {error.status} answer is not JSON: {error.body!r}")
    assert_fits(body, type_name, module_name, f"the HTTP {error.status} answer")
    assert isinstance(body.get("errors"), list) and body["errors"], f"no errors in {body}"
    for item in body["errors"]:
        assert isinstance(item.get("code"), str) and item["code"], f"error without a code: {item}"
        assert isinstance(item.get("message"), str), f"error without a message: {item}"
    return [item["code"] for item in body["errors"]]


# ---------------------------------------------------------------------------------------------------------------------
# The SDK client


def make_api_client(refresh_token):
    """An ApiClient exactly as SPAPIClient builds it, pointed at the simulator, plus three test-only changes.

    1. urllib3's transparent retries on 413/429/503 with a Retry-After header (its default for GET/PUT/DELETE) are
       off, so every answer reaches the test.
    2. A throttled call (429) is repeated after a pause, as a well-behaved client does, unless `retry_throttled` is
       set to False (the throttling test).
    3. Every 2xx body is checked with `contract_violations` when SDK_STRICT is on.
    """
    config = SPAPIConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=refresh_token, region="NA")
    # SPAPIClient asks the LWA endpoint for an access token already here (ApiClient.__init__).
    api_client = SPAPIClient(config, oauth_endpoint=SIMULATOR_URL + "/auth/o2/token", endpoint=SIMULATOR_URL).api_client
    assert api_client.default_headers.get("x-amz-access-token"), "no access token from the simulator's LWA endpoint"

    # 1. No pool exists yet (the token request above went through `requests`), so the pools take this Retry.
    api_client.rest_client.pool_manager.connection_pool_kw["retries"] = urllib3.Retry(
        total=3, redirect=0, status=0, respect_retry_after_header=False
    )

    # 2.
    api_client.retry_throttled = True
    send = api_client.rest_client.request

    def request(*args, **kwargs):
        delay = 0.5
        for attempt in range(10):
            try:
                return send(*args, **kwargs)
            except ApiException as error:
                if error.status != 429 or not api_client.retry_throttled or attempt == 9:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 4.0)

    api_client.rest_client.request = request

    # 3.
    deserialize = api_client.deserialize

    def checked_deserialize(response, response_type):
        result = deserialize(response, response_type)
        if STRICT and response_type and response_type != "file":
            try:
                data = json.loads(response.data)
            except ValueError:
                pytest.fail(f"a {response.status} answer for {response_type} is not JSON: {response.data!r}")
            assert_fits(data, response_type, api_client.api_models_module, f"the {response.status} answer")
        return result

    api_client.deserialize = checked_deserialize
    return api_client


@contextlib.contextmanager
def throttled_calls_raise(api_client):
    api_client.retry_throttled = False
    try:
        yield
    finally:
        api_client.retry_throttled = True


@pytest.fixture(scope="module")
def client():
    authorization = control("/_simulator/authorizations", {"merchantId": MERCHANT})
    assert authorization["merchantId"] == MERCHANT
    assert authorization["refreshToken"].startswith("Atzr|"), authorization
    return make_api_client(authorization["refreshToken"])


@pytest.fixture(scope="module")
def location(client):
    name = f"FlexBridge SDK test {uuid.uuid4().hex[:16]}"
    request = CreateSandboxLocationRequest(merchant_ids=[MERCHANT], marketplace_id=INDIA, channels=["MFN"], location_name=name)
    answer = SandboxLocationApi(client).create_sandbox_location(request)
    assert answer.location_ids is not None and answer.location_ids.mfn, f"no MFN location id in {answer}"
    assert answer.location_ids.fba is None, "only MFN was asked for"
    assert len(answer.location_ids.mfn) <= 36, "getShipments and createSandboxShipment take location ids of 36 chars at most"
    again = SandboxLocationApi(client).create_sandbox_location(request)
    assert again.location_ids.mfn == answer.location_ids.mfn, "locationName is the idempotency key"
    return answer.location_ids.mfn


# ---------------------------------------------------------------------------------------------------------------------
# Helpers


def new_shipment(client, location, order_types=None, line_item_count=None):
    request = CreateSandboxShipmentRequest(
        location_id=location, marketplace_id=INDIA, marketplace_channel="MFN", shipping_type="MARKETPLACE",
        order_type=order_types, line_item_count=line_item_count,
    )
    shipment_id = SandboxShipmentsApi(client).create_sandbox_shipment(request).shipment_id
    assert shipment_id, "createSandboxShipment answered no shipmentId"
    return shipment_id


def status_change(client, shipment_id, status):
    SandboxShipmentsApi(client).update_sandbox_shipment(
        shipment_id,
        UpdateSandboxShipmentRequest(update_type="SHIPMENT_STATUS_CHANGE", updates=SandboxShipmentUpdates(status=status)),
    )


def package_for(shipment, package_id="PKG1"):
    """One package holding every unit of every line item, with what each line's compliance attributes require."""
    lines, hazmat = [], []
    for line in shipment.line_items:
        item = PackageLineItem(package_line_item_id=line.shipment_line_item_id, quantity=line.number_of_units)
        compliance = line.compliance_attributes
        if compliance.serial_number_requirement == "REQUIRED":
            item.serial_numbers = [f"SN-{line.shipment_line_item_id}-{n}" for n in range(line.number_of_units)]
        if compliance.country_of_origin_requirement == "REQUIRED":
            item.country_of_origin = line.recommended_country_of_origin or "IN"
        if compliance.item_value_requirement == "REQUIRED":
            item.item_value = line.item_value or Amount(value="100.00", currency_code=line.recommended_currency_code or "INR")
        if compliance.hazmat_labels_requirement == "REQUIRED":
            hazmat += line.hazmat_labels or []
        lines.append(item)
    return Package(
        id=package_id,
        dimensions=PackageDimensions(
            length=Dimension(value="30", dimension_unit="CM"),
            width=Dimension(value="20", dimension_unit="CM"),
            height=Dimension(value="10", dimension_unit="CM"),
        ),
        weight=Weight(value="750", weight_unit="G"),
        hazmat_labels=hazmat or None,
        package_line_items=lines,
    )


def all_shipments(client, status, location):
    retrieval, shipments, token = ShipmentRetrievalApi(client), [], None
    for _ in range(100):
        arguments = {"location_id": location, "max_results": 100}
        if token:
            arguments["pagination_token"] = token
        page = retrieval.get_shipments(status, **arguments)
        shipments += page.shipments or []
        token = page.pagination.next_token if page.pagination else None
        if not token:
            return shipments
    pytest.fail("getShipments kept answering a nextToken for 100 pages")


def all_returns(client, location):
    api, returns, token = ReturnRetrievalApi(client), [], None
    for _ in range(100):
        arguments = {"return_location_id": location, "max_results": 100}
        if token:
            arguments["next_token"] = token
        page = api.list_returns(**arguments)
        returns += page.returns or []
        token = page.next_token
        if not token:
            return returns
    pytest.fail("listReturns kept answering a nextToken for 100 pages")


def fetch_document(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return response.read()


# ---------------------------------------------------------------------------------------------------------------------
# (a) The whole Seller Flex workflow


@pytest.fixture(scope="module")
def shipped(client, location):
    """A GIFT_WRAP shipment carried from ACCEPTED to SHIPPED by the SDK alone; its id."""
    retrieval, processing = ShipmentRetrievalApi(client), ShipmentProcessingApi(client)

    shipment_id = new_shipment(client, location, ["GIFT_WRAP"])
    shipment = retrieval.get_shipment(shipment_id)
    assert shipment.id == shipment_id
    assert shipment.location_id == location
    assert shipment.marketplace_attributes.marketplace_id == INDIA
    assert shipment.marketplace_attributes.channel_name == "MFN"
    assert shipment.status == "ACCEPTED"
    assert shipment.line_items and all(line.number_of_units >= 1 for line in shipment.line_items)
    assert any(line.gift_attributes and line.gift_attributes.gift_wrap_requirement == "REQUIRED"
               for line in shipment.line_items), "a GIFT_WRAP order has a line whose gift wrap is REQUIRED"

    ShipmentProcessingApi(client).process_shipment(shipment_id, "CONFIRM")
    assert retrieval.get_shipment(shipment_id).status == "CONFIRMED"

    processing.create_packages(shipment_id, Packages(packages=[package_for(shipment)]))
    packed = retrieval.get_shipment(shipment_id)
    assert packed.status == "PACKAGE_CREATED"
    assert [package.id for package in packed.packages or []] == ["PKG1"]

    options = processing.retrieve_shipping_options(shipment_id, "PKG1")
    assert options.shipping_options, "a MARKETPLACE shipment has shipping options"
    chosen = options.recommended_shipping_option or options.shipping_options[0]
    assert chosen.shipping_option_id
    assert retrieval.get_shipment(shipment_id).status == "PICKUP_SLOT_RETRIEVED"

    invoice = processing.generate_invoice(shipment_id)
    assert invoice.document and invoice.document.content
    assert base64.b64decode(invoice.document.content).startswith(b"%PDF")
    assert retrieval.get_shipment(shipment_id).status == "INVOICE_GENERATED"
    again = processing.retrieve_invoice(shipment_id)
    assert base64.b64decode(again.document.content).startswith(b"%PDF")
    assert again.document.content == invoice.document.content

    labels = processing.generate_ship_labels(
        shipment_id, "GENERATE", shipping_option_id=chosen.shipping_option_id, body=ShipLabelsInput(package_ids=["PKG1"])
    )
    assert len(labels.package_ship_label_list) == 1
    label = labels.package_ship_label_list[0]
    assert label.package_id == "PKG1"
    assert label.status == "SUCCESS", label.error_details
    assert label.ship_label_metadata and label.ship_label_metadata.tracking_id
    assert label.ship_label_metadata.carrier_name
    assert label.file_data and label.file_data.url
    assert fetch_document(label.file_data.url), "the label URL serves the label"
    assert retrieval.get_shipment(shipment_id).status == "SHIPLABEL_GENERATED"

    processing.update_package_status(shipment_id, "PKG1", body=PackageDeliveryStatus(status="SHIPPED"))
    assert retrieval.get_shipment(shipment_id).status == "SHIPPED"
    return shipment_id


def test_full_flow_to_delivery(client, location, shipped):
    status_change(client, shipped, "DELIVERED")
    shipment, status, headers = ShipmentRetrievalApi(client).get_shipment_with_http_info(shipped)
    assert status == 200 and shipment.status == "DELIVERED"
    assert headers.get("x-amzn-RequestId"), "every answer carries x-amzn-RequestId"
    assert headers.get("x-amzn-RateLimit-Limit"), "an admitted call carries x-amzn-RateLimit-Limit"
    delivered = all_shipments(client, "DELIVERED", location)
    assert shipped in [shipment.id for shipment in delivered]
    assert all(shipment.status == "DELIVERED" for shipment in delivered)


# ---------------------------------------------------------------------------------------------------------------------
# (b) A marketplace cancellation


def test_marketplace_cancellation(client, location):
    shipment_id = new_shipment(client, location)
    status_change(client, shipment_id, "CANCELLED")
    shipment = ShipmentRetrievalApi(client).get_shipment(shipment_id)
    assert shipment.status == "CANCELLED"
    with pytest.raises(ApiException) as refused:
        ShipmentProcessingApi(client).process_shipment(shipment_id, "CONFIRM")
    assert refused.value.status in (409, 422), refused.value
    assert error_codes(refused.value)
    assert ShipmentRetrievalApi(client).get_shipment(shipment_id).status == "CANCELLED", "a refused call changes nothing"


# ---------------------------------------------------------------------------------------------------------------------
# (c) batchInventory


def known_skus(client, location, shipped, count=2):
    """`count` distinct merchant SKUs from sandbox shipments at the location, making more shipments if needed."""
    retrieval = ShipmentRetrievalApi(client)
    skus = []
    for shipment_id in [shipped] + [None] * 6:
        shipment_id = shipment_id or new_shipment(client, location, line_item_count="MULTIPLE")
        for line in retrieval.get_shipment(shipment_id).line_items:
            if line.merchant_sku not in skus:
                skus.append(line.merchant_sku)
        if len(skus) >= count:
            return skus[:count]
    pytest.fail(f"seven sandbox shipments carried only the SKUs {skus}")


def test_batch_inventory(client, location, shipped):
    skus = known_skus(client, location, shipped)
    attributes = InventoryMarketplaceAttributes(marketplace_id=INDIA, channel_name="MFN")
    sequence = int(time.time() * 1000)

    def uri(kind, sku):
        return f"/inventory/{kind}?" + urllib.parse.urlencode({"locationId": location, "skuId": sku})

    def update(sku, quantity, number):
        return InventoryRequest(method="POST", uri=uri("update", sku), body=InventoryRequestParams(
            quantity=quantity, client_sequence_number=number, marketplace_attributes=attributes))

    def fetch(sku):
        return InventoryRequest(method="POST", uri=uri("fetch", sku),
                                body=InventoryRequestParams(marketplace_attributes=attributes))

    api = BatchInventoryApi(client)

    # Two updates in one call: a 207 whose items succeed.
    answer, status, _ = api.batch_inventory_with_http_info(BatchInventoryRequest(requests=[update(sku, 25, sequence) for sku in skus]))
    assert status == 207
    assert [item.status.status_code for item in answer.responses] == [200, 200]
    for sku, item in zip(skus, answer.responses):
        assert item.body.sku_id == sku and item.body.location_id == location
        assert item.body.client_sequence_number == sequence

    # A fetch shows what the update set, less the open shipments' reservations.
    answer = api.batch_inventory(BatchInventoryRequest(requests=[fetch(sku) for sku in skus]))
    assert [item.status.status_code for item in answer.responses] == [200, 200]
    for sku, item in zip(skus, answer.responses):
        assert item.body.sku_id == sku
        assert item.body.reserved_quantity is not None and item.body.sellable_quantity is not None
        assert item.body.sellable_quantity == max(0, 25 - item.body.reserved_quantity)
    reserved = answer.responses[0].body.reserved_quantity

    # An unknown SKU fails alone, inside a 207.
    answer, status, _ = api.batch_inventory_with_http_info(
        BatchInventoryRequest(requests=[update("NO-SUCH-SKU-XYZ", 25, sequence + 1)]))
    assert status == 207
    item = answer.responses[0]
    assert item.status.status_code == 400
    assert "INVALID_SKU" in [error.error_type for error in item.body.actionable_errors or []]

    # The same sequence number again changes nothing.
    answer = api.batch_inventory(BatchInventoryRequest(requests=[update(skus[0], 99, sequence), fetch(skus[0])]))
    stale, after = answer.responses
    assert stale.status.status_code == 409, f"a repeated clientSequenceNumber must not succeed: {stale}"
    assert after.status.status_code == 200
    assert after.body.reserved_quantity == reserved
    assert after.body.sellable_quantity == max(0, 25 - reserved), "the stale update must not change the quantity"


# ---------------------------------------------------------------------------------------------------------------------
# (e) Returns


def test_returns(client, location, shipped):
    created = control("/_simulator/returns", {"shipmentId": shipped})
    assert created.get("id"), created
    listed = all_returns(client, location)
    assert created["id"] in [item.id for item in listed]
    item = ReturnRetrievalApi(client).get_return(created["id"])
    assert item.id == created["id"]
    assert item.return_location_id in (None, location)
    assert item.marketplace_channel_details.shipment_id in (None, shipped)
    assert item.status == "CREATED"


# ---------------------------------------------------------------------------------------------------------------------
# Every kind of sandbox order deserializes (and fits the model, with SDK_STRICT)


@pytest.mark.parametrize("order_type", [
    "HAZMAT", "GIFT_MESSAGE", "MPS", "SERIAL", "CROSS_BORDER", "REPLACEMENT", "EXCHANGE",
    "PHARMA_NON_PRESCRIPTION", "PHARMA_PRESCRIPTION",
])
def test_every_order_type_deserializes(client, location, order_type):
    shipment = ShipmentRetrievalApi(client).get_shipment(new_shipment(client, location, [order_type]))
    assert shipment.status in ("CREATED", "ACCEPTED")
    if order_type in ("REPLACEMENT", "EXCHANGE"):
        assert shipment.shipment_info.shipment_type == order_type
        assert shipment.shipment_info.original_shipment_info and shipment.shipment_info.original_shipment_info.id
    if order_type == "SERIAL":
        assert any(line.compliance_attributes.serial_number_requirement == "REQUIRED" for line in shipment.line_items)


# ---------------------------------------------------------------------------------------------------------------------
# (c2) Merchant-fulfilled orders: Orders 2026-01-01 (searchOrders, getOrder) and v0's confirmShipment

ORDERS_MODELS = "spapi.models.orders_v2026_01_01"
ORDERS_V0_MODELS = "spapi.models.orders_v0"
US = "ATVPDKIKX0DER"


@pytest.fixture(scope="module")
def mfn_orders(client):
    """Three MFN orders made through the control path ("in Seller Central"), the first with two lines."""
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    first = control("/_simulator/mfn-orders", {
        "merchantId": MERCHANT, "marketplaceId": US, "serviceLevel": "SecondDay", "prime": True,
        "items": {"SDK-MFN-A": 2, "SDK-MFN-B": 1}})["orderIds"]
    rest = control("/_simulator/mfn-orders", {"merchantId": MERCHANT, "marketplaceId": US, "count": 2})["orderIds"]
    return since, first + rest


def test_mfn_search_and_get(client, mfn_orders):
    from spapi.api.orders_v2026_01_01.get_order_api import GetOrderApi
    from spapi.api.orders_v2026_01_01.search_orders_api import SearchOrdersApi

    since, ids = mfn_orders
    search = SearchOrdersApi(client)
    found, token, pages = [], None, 0
    while True:
        kwargs = {"pagination_token": token} if token else {}
        page = search.search_orders(created_after=since, marketplace_ids=[US], fulfilled_by=["MERCHANT"],
                                    max_results_per_page=2, included_data=["FULFILLMENT", "RECIPIENT"], **kwargs)
        pages += 1
        found += page.orders
        token = page.pagination.next_token if page.pagination else None
        if not token:
            break
    assert pages >= 2, "three orders at two a page take two pages"
    mine = {order.order_id: order for order in found if order.order_id in ids}
    assert set(mine) == set(ids), f"searchOrders found {sorted(mine)}, made {ids}"
    first = mine[ids[0]]
    assert first.fulfillment.fulfillment_status == "UNSHIPPED" and first.fulfillment.fulfilled_by == "MERCHANT"
    assert first.fulfillment.fulfillment_service_level == "SecondDay"
    assert first.fulfillment.ship_by_window.latest_date_time > first.created_time
    assert first.recipient.delivery_address.country_code == "US"
    assert first.buyer is None, "BUYER was not asked for"
    assert sorted((item.product.seller_sku, item.quantity_ordered) for item in first.order_items) == [
        ("SDK-MFN-A", 2), ("SDK-MFN-B", 1)]

    order = GetOrderApi(client).get_order(ids[0], included_data=["BUYER", "PACKAGES"]).order
    assert order.order_id == ids[0] and order.buyer.buyer_name
    assert order.fulfillment is None and order.packages == []
    with pytest.raises(ApiException) as missing:
        GetOrderApi(client).get_order("111-0000000-0000000")
    assert missing.value.status == 404 and error_codes(missing.value, ORDERS_MODELS) == ["NotFound"]
    with pytest.raises(ApiException) as refused:
        search.search_orders(marketplace_ids=[US])
    assert refused.value.status == 400, "createdAfter or lastUpdatedAfter is required"


def test_mfn_confirm_shipment_partial_then_whole(client, mfn_orders):
    from spapi.api.orders_v0.orders_v0_api import OrdersV0Api
    from spapi.api.orders_v2026_01_01.get_order_api import GetOrderApi
    from spapi.models.orders_v0 import ConfirmShipmentOrderItem, ConfirmShipmentRequest, PackageDetail

    _, ids = mfn_orders
    order = GetOrderApi(client).get_order(ids[0]).order
    lines = {item.product.seller_sku: item.order_item_id for item in order.order_items}

    def confirm(reference, items, tracking="1Z999AA10123456784"):
        request = ConfirmShipmentRequest(marketplace_id=US, package_detail=PackageDetail(
            package_reference_id=reference, carrier_code="UPS", shipping_method="2nd Day Air", tracking_number=tracking,
            ship_date=datetime.datetime.now(datetime.timezone.utc),
            order_items=[ConfirmShipmentOrderItem(order_item_id=lines[sku], quantity=units) for sku, units in items]))
        return OrdersV0Api(client).confirm_shipment(ids[0], request)

    confirm("1", [("SDK-MFN-A", 1)])
    after = GetOrderApi(client).get_order(ids[0], included_data=["FULFILLMENT", "PACKAGES"]).order
    assert after.fulfillment.fulfillment_status == "PARTIALLY_SHIPPED"
    assert [p.package_reference_id for p in after.packages] == ["1"] and after.packages[0].tracking_number
    with pytest.raises(ApiException) as again:
        confirm("1", [("SDK-MFN-A", 1)])
    assert again.value.status == 400 and error_codes(again.value, ORDERS_V0_MODELS, "ConfirmShipmentErrorResponse") == [
        "InvalidInput"]
    with pytest.raises(ApiException) as too_many:
        confirm("2", [("SDK-MFN-A", 2)])
    assert too_many.value.status == 400, "one unit of SDK-MFN-A is left"
    confirm("2", [("SDK-MFN-A", 1), ("SDK-MFN-B", 1)], tracking="1Z999AA10123456785")
    done = GetOrderApi(client).get_order(ids[0], included_data=["FULFILLMENT", "PACKAGES"]).order
    assert done.fulfillment.fulfillment_status == "SHIPPED" and len(done.packages) == 2
    assert all(item.fulfillment.quantity_unfulfilled == 0 for item in done.order_items)


# ---------------------------------------------------------------------------------------------------------------------
# Listings Items 2021-08-01 and Feeds 2021-06-30: MFN stock and prices, one SKU a call or many in a JSON listings feed

LISTINGS_MODELS = "spapi.models.listings_items_v2021_08_01"
FEEDS_MODELS = "spapi.models.feeds_v2021_06_30"


def control_put(path, body):
    request = urllib.request.Request(SIMULATOR_URL + path, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"}, method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, f"PUT {path} answered {response.status}"
        return json.load(response)


def http(method, url, data=None, headers=None):
    """A plain HTTP call to a signed document URL, as the SDK's users make it: (status, body bytes)."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def listings(client):
    """Three merchant-fulfilled listings made through the control path, 5 units at 20.00 each."""
    skus = [f"SDK-LST-{uuid.uuid4().hex[:8]}-{index}" for index in range(3)]
    made = control("/_simulator/listings-items", {"merchantId": MERCHANT, "items": [
        {"sku": sku, "marketplaceIds": [US], "quantity": 5, "price": 20.0} for sku in skus]})
    assert made["listings"] == 3
    return skus


def quantity_patch(units, **extra):
    from spapi.models.listings_items_v2021_08_01 import ListingsItemPatchRequest, PatchOperation
    return ListingsItemPatchRequest(product_type="PRODUCT", patches=[PatchOperation(
        op="replace", path="/attributes/fulfillment_availability",
        value=[{"fulfillment_channel_code": "DEFAULT", "quantity": units, **extra}])])


def test_listings_get_patch_search(client, listings):
    from spapi.api.listings_items_v2021_08_01.listings_api import ListingsApi
    from spapi.models.listings_items_v2021_08_01 import ListingsItemPatchRequest, PatchOperation

    api = ListingsApi(client)

    def units(sku):
        item = api.get_listings_item(MERCHANT, sku, [US], included_data=["fulfillmentAvailability"])
        return item.fulfillment_availability[0].quantity

    item = api.get_listings_item(MERCHANT, listings[0], [US],
                                 included_data=["summaries", "attributes", "offers", "fulfillmentAvailability", "issues"])
    assert item.sku == listings[0] and item.summaries[0].marketplace_id == US and item.summaries[0].asin.startswith("B0")
    assert item.fulfillment_availability[0].fulfillment_channel_code == "DEFAULT" and units(listings[0]) == 5
    assert item.offers[0].price.currency_code == "USD" and float(item.offers[0].price.amount) == 20.0
    assert item.attributes["fulfillment_availability"] == [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}]

    accepted = api.patch_listings_item(MERCHANT, listings[0], [US], quantity_patch(42, lead_time_to_ship_max_days=2))
    assert accepted.status == "ACCEPTED" and accepted.issues == [] and accepted.submission_id
    assert units(listings[0]) == 42
    refused = api.patch_listings_item(MERCHANT, listings[0], [US], quantity_patch(-1))
    assert refused.status == "INVALID" and refused.issues[0].severity == "ERROR"
    assert refused.issues[0].attribute_names == ["fulfillment_availability.quantity"]
    preview = api.patch_listings_item(MERCHANT, listings[0], [US], quantity_patch(7), mode="VALIDATION_PREVIEW",
                                      included_data=["identifiers", "issues"])
    assert preview.status == "VALID" and preview.identifiers[0].asin == item.summaries[0].asin
    assert units(listings[0]) == 42, "neither a refused patch nor a preview changes the listing"

    def price(currency, amount):
        return ListingsItemPatchRequest(product_type="PRODUCT", patches=[PatchOperation(
            op="replace", path="/attributes/purchasable_offer", value=[{
                "marketplace_id": US, "currency": currency, "audience": "ALL",
                "our_price": [{"schedule": [{"value_with_tax": amount}]}]}])])

    wrong = api.patch_listings_item(MERCHANT, listings[0], [US], price("EUR", 19.99))
    assert wrong.status == "INVALID" and "USD" in wrong.issues[0].message
    assert api.patch_listings_item(MERCHANT, listings[0], [US], price("USD", 19.99)).status == "ACCEPTED"
    offered = api.get_listings_item(MERCHANT, listings[0], [US], included_data=["offers"]).offers[0]
    assert offered.price.amount == "19.99"
    unknown = api.patch_listings_item(MERCHANT, "SDK-NO-SUCH-SKU", [US], quantity_patch(1))
    assert unknown.status == "INVALID" and unknown.issues
    with pytest.raises(ApiException) as missing:
        api.get_listings_item(MERCHANT, "SDK-NO-SUCH-SKU", [US])
    assert missing.value.status == 404 and error_codes(missing.value, LISTINGS_MODELS) == ["NOT_FOUND"]

    by_sku = api.search_listings_items(MERCHANT, [US], identifiers=listings[:2], identifiers_type="SKU")
    assert by_sku.number_of_results == 2 and {i.sku for i in by_sku.items} == set(listings[:2])
    asin = api.get_listings_item(MERCHANT, listings[1], [US]).summaries[0].asin
    by_asin = api.search_listings_items(MERCHANT, [US], identifiers=[asin], identifiers_type="ASIN")
    assert [i.sku for i in by_asin.items] == [listings[1]], "an ASIN finds the seller's SKUs for it"
    seen, token = [], None
    while True:
        kwargs = {"page_token": token} if token else {}
        page = api.search_listings_items(MERCHANT, [US], identifiers=listings, identifiers_type="SKU", page_size=2,
                                         sort_by="sku", sort_order="ASC", **kwargs)
        seen += [i.sku for i in page.items]
        token = page.pagination.next_token if page.pagination else None
        if not token:
            break
    assert seen == sorted(listings), f"pages of two walk all three in SKU order: {seen}"
    with pytest.raises(ApiException) as lonely:
        api.search_listings_items(MERCHANT, [US], identifiers=listings[:1])
    assert lonely.value.status == 400, "identifiers need identifiersType"


def test_json_listings_feed(client, listings):
    from spapi.api.feeds_v2021_06_30.feeds_api import FeedsApi
    from spapi.api.listings_items_v2021_08_01.listings_api import ListingsApi
    from spapi.models.feeds_v2021_06_30 import CreateFeedDocumentSpecification, CreateFeedSpecification

    feeds = FeedsApi(client)
    control_put("/_simulator/feed-processing", {"queueSeconds": 0, "baseSeconds": 0.2, "secondsPerThousandMessages": 0})
    content_type = "application/json; charset=UTF-8"

    def patch(message_id, sku, units):
        return {"messageId": message_id, "sku": sku, "operationType": "PATCH", "productType": "PRODUCT", "patches": [
            {"op": "replace", "path": "/attributes/fulfillment_availability",
             "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": units}]}]}

    def submit(messages, upload=True):
        document = feeds.create_feed_document(CreateFeedDocumentSpecification(content_type=content_type))
        assert document.feed_document_id and document.url.startswith("http")
        body = json.dumps({"header": {"sellerId": MERCHANT, "version": "2.0", "issueLocale": "en_US"},
                           "messages": messages}).encode()
        if upload:
            assert http("PUT", document.url, body, {"Content-Type": "text/plain"})[0] == 403, \
                "the upload's Content-Type must be the one the URL was signed for"
            assert http("PUT", document.url, body, {"Content-Type": content_type})[0] == 200
        return feeds.create_feed(CreateFeedSpecification(
            feed_type="JSON_LISTINGS_FEED", marketplace_ids=[US], input_feed_document_id=document.feed_document_id))

    feed_id = submit([patch(1, listings[1], 77), patch(2, "SDK-NO-SUCH-SKU", 1), patch(3, listings[2], "lots")]).feed_id
    deadline = time.time() + 30
    feed = feeds.get_feed(feed_id)
    while feed.processing_status in ("IN_QUEUE", "IN_PROGRESS") and time.time() < deadline:
        time.sleep(0.3)
        feed = feeds.get_feed(feed_id)
    assert feed.processing_status == "DONE" and feed.result_feed_document_id, feed
    assert feed.processing_start_time and feed.processing_end_time >= feed.processing_start_time
    result = feeds.get_feed_document(feed.result_feed_document_id)
    status, data = http("GET", result.url)
    assert status == 200, data
    report = json.loads(data)
    assert report["header"]["feedId"] == feed_id and report["header"]["version"] == "2.0"
    assert report["summary"] == {"errors": 2, "warnings": 0, "messagesProcessed": 3, "messagesAccepted": 1,
                                 "messagesInvalid": 2}, report
    assert sorted(issue["messageId"] for issue in report["issues"]) == [2, 3]
    assert any(issue.get("attributeName") == "fulfillment_availability.quantity" for issue in report["issues"])
    listings_api = ListingsApi(client)
    units = {sku: listings_api.get_listings_item(MERCHANT, sku, [US], included_data=["fulfillmentAvailability"])
             .fulfillment_availability[0].quantity for sku in listings[1:]}
    assert units == {listings[1]: 77, listings[2]: 5}, "the accepted message applied; the refused one changed nothing"

    with pytest.raises(ApiException) as not_uploaded:
        submit([patch(1, listings[1], 1)], upload=False)
    assert not_uploaded.value.status == 400 and error_codes(not_uploaded.value, FEEDS_MODELS)

    control_put("/_simulator/feed-processing", {"queueSeconds": 600, "baseSeconds": 0.2, "secondsPerThousandMessages": 0})
    queued = submit([patch(1, listings[1], 2)]).feed_id
    feeds.cancel_feed(queued)
    assert feeds.get_feed(queued).processing_status == "CANCELLED"
    with pytest.raises(ApiException) as twice:
        feeds.cancel_feed(queued)
    assert twice.value.status == 400, "only a queued feed can be cancelled"
    listed = feeds.get_feeds(feed_types=["JSON_LISTINGS_FEED"], page_size=100)
    assert {feed_id, queued} <= {f.feed_id for f in listed.feeds}
    with pytest.raises(ApiException) as untyped:
        feeds.get_feeds(page_size=10)
    assert untyped.value.status == 400, "getFeeds needs feedTypes or nextToken"
    control_put("/_simulator/feed-processing", {"queueSeconds": 5, "baseSeconds": 10, "secondsPerThousandMessages": 1})


def test_fba_inventory_summaries(client):
    from spapi.api.fba_inventory_v1.fba_inventory_api import FbaInventoryApi

    inventory = FbaInventoryApi(client)
    germany = "A1PA6795UKMFR9"
    control_put("/_simulator/fba-inventory", {"merchantId": MERCHANT, "marketplaceId": germany, "items": [
        {"sku": f"SDK-FBA-{n:03d}", "fulfillable": n, "inboundShipped": 2, "reserved": 1} for n in range(1, 61)]})
    first = inventory.get_inventory_summaries("Marketplace", germany, [germany], details=True)
    summaries = first.payload.inventory_summaries
    assert first.payload.granularity.granularity_id == germany and len(summaries) == 50, first.payload.granularity
    assert first.pagination and first.pagination.next_token, "60 SKUs take two pages of 50"
    seventh = next(s for s in summaries if s.seller_sku == "SDK-FBA-007")
    assert seventh.inventory_details.fulfillable_quantity == 7 and seventh.total_quantity == 10, seventh
    assert seventh.inventory_details.reserved_quantity.total_reserved_quantity == 1
    assert seventh.inventory_details.inbound_shipped_quantity == 2 and seventh.fn_sku and seventh.asin
    second = inventory.get_inventory_summaries("Marketplace", germany, [germany], details=True,
                                               next_token=first.pagination.next_token)
    assert len(second.payload.inventory_summaries) == 10 and not (second.pagination and second.pagination.next_token)
    plain = inventory.get_inventory_summaries("Marketplace", germany, [germany], seller_skus=["SDK-FBA-001"])
    assert [s.seller_sku for s in plain.payload.inventory_summaries] == ["SDK-FBA-001"]
    assert plain.payload.inventory_summaries[0].inventory_details is None, "details only when asked for"
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    time.sleep(1.1)
    control_put("/_simulator/fba-inventory", {"merchantId": MERCHANT, "marketplaceId": germany, "items": [
        {"sku": "SDK-FBA-002", "fulfillable": 0}]})
    changed = inventory.get_inventory_summaries("Marketplace", germany, [germany], start_date_time=since)
    assert "SDK-FBA-002" in [s.seller_sku for s in changed.payload.inventory_summaries]
    with pytest.raises(ApiException) as wrong:
        inventory.get_inventory_summaries("Marketplace", INDIA, [germany])
    assert wrong.value.status == 400, "granularityId must be the marketplace asked for"
    with pytest.raises(ApiException) as stale:
        inventory.get_inventory_summaries("Marketplace", germany, [germany], next_token="not-a-token")
    assert stale.value.status == 400


def test_fba_inbound_shipments(client):
    from spapi.api.fulfillment_inbound_v0.fba_inbound_v0_api import FbaInboundV0Api

    inbound = FbaInboundV0Api(client)
    germany = "A1PA6795UKMFR9"
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    made = control("/_simulator/inbound-shipments", {"merchantId": MERCHANT, "marketplaceId": germany,
                                                     "name": "SDK inbound", "items": {"SDK-IN-A": 12, "SDK-IN-B": 3},
                                                     "status": "SHIPPED", "needBy": "2026-12-24"})["shipmentId"]
    progressed = http("POST", f"{SIMULATOR_URL}/_simulator/inbound-shipments/{made}",
                      json.dumps({"status": "RECEIVING", "received": {"SDK-IN-A": 5}}).encode(),
                      {"content-type": "application/json"})
    assert progressed[0] == 200, progressed
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    found = inbound.get_shipments("DATE_RANGE", germany, shipment_status_list=["SHIPPED", "RECEIVING"],
                                  last_updated_after=since, last_updated_before=until)
    shipment = next(s for s in found.payload.shipment_data if s.shipment_id == made)
    assert shipment.shipment_status == "RECEIVING" and shipment.shipment_name == "SDK inbound", shipment
    assert str(shipment.confirmed_need_by_date) == "2026-12-24" and shipment.ship_from_address.country_code
    by_id = inbound.get_shipments("SHIPMENT", germany, shipment_id_list=[made])
    assert [s.shipment_id for s in by_id.payload.shipment_data] == [made]
    items = inbound.get_shipment_items_by_shipment_id(made, marketplace_id=germany).payload.item_data
    assert {(i.seller_sku, i.quantity_shipped, i.quantity_received) for i in items} == {
        ("SDK-IN-A", 12, 5), ("SDK-IN-B", 3, 0)}, items
    with pytest.raises(ApiException) as unnamed:
        inbound.get_shipments("SHIPMENT", germany)
    assert unnamed.value.status == 400, "getShipments needs statuses or ids"
    with pytest.raises(ApiException) as open_range:
        inbound.get_shipments("DATE_RANGE", germany, shipment_status_list=["SHIPPED"], last_updated_after=since)
    assert open_range.value.status == 400, "a date range has both ends"


# ---------------------------------------------------------------------------------------------------------------------
# Fulfillment Inbound 2024-03-20, "Send to Amazon": a plan through packing, placement, transportation and delivery
# windows to box labels (v0's getLabels) and a v0 inbound shipment

INBOUND_MODELS = "spapi.models.fulfillment_inbound_v2024_03_20"


def finished(api, operation_id, name, status="SUCCESS"):
    """Polls an operation until it leaves IN_PROGRESS (twice a second: getInboundOperationStatus allows 2/s)."""
    deadline = time.time() + 30
    answer = api.get_inbound_operation_status(operation_id)
    while answer.operation_status == "IN_PROGRESS":
        assert time.time() < deadline, f"{name} {operation_id} still IN_PROGRESS after 30 s"
        time.sleep(0.5)
        answer = api.get_inbound_operation_status(operation_id)
    assert answer.operation_id == operation_id and answer.operation == name, answer
    assert answer.operation_status == status, f"{name}: {answer.operation_status} {answer.operation_problems}"
    return answer


def inbound_truth(plan_id):
    with urllib.request.urlopen(SIMULATOR_URL + "/_simulator/state", timeout=30) as response:
        state = json.load(response)
    return next(plan for plan in state["inboundPlans"] if plan["inboundPlanId"] == plan_id)


def test_send_to_amazon(client):
    from spapi.api.fulfillment_inbound_v0.fba_inbound_v0_api import FbaInboundV0Api
    from spapi.api.fulfillment_inbound_v2024_03_20.fba_inbound_api import FbaInboundApi
    from spapi.models.fulfillment_inbound_v2024_03_20 import (
        AddressInput, BoxInput, ConfirmTransportationOptionsRequest, ContactInformation, CreateInboundPlanRequest,
        Dimensions, GeneratePlacementOptionsRequest, GenerateTransportationOptionsRequest, ItemInput,
        PackageGroupingInput, SetPackingInformationRequest, ShipmentTransportationConfiguration,
        TransportationSelection, Weight, WindowInput,
    )

    api, v0 = FbaInboundApi(client), FbaInboundV0Api(client)
    tag = uuid.uuid4().hex[:8]
    listed, stocked = f"SDK-STA-{tag}-A", f"SDK-STA-{tag}-B"
    # One SKU known from its listing, the other from its FBA stock: both may be sent to Amazon.
    control("/_simulator/listings-items", {"merchantId": MERCHANT, "items": [
        {"sku": listed, "marketplaceIds": [US], "fulfillmentChannel": "AMAZON_NA"}]})
    control_put("/_simulator/fba-inventory", {"merchantId": MERCHANT, "marketplaceId": US, "items": [
        {"sku": stocked, "fulfillable": 4}]})
    control_put("/_simulator/inbound-operations", {"seconds": 0.3})
    address = AddressInput(name="FlexBridge Warehouse", address_line1="1 Dock Street", city="Seattle",
                           state_or_province_code="WA", postal_code="98109", country_code="US",
                           phone_number="+12065550100")

    def item(msku, units):
        return ItemInput(msku=msku, quantity=units, label_owner="SELLER", prep_owner="NONE")

    def plan_request(name, items):
        return CreateInboundPlanRequest(destination_marketplaces=[US], items=items, name=name, source_address=address)

    try:
        # The plan.
        name = f"SDK plan {tag}"
        created = api.create_inbound_plan(plan_request(name, [item(listed, 10), item(stocked, 6)]))
        plan_id = created.inbound_plan_id
        assert plan_id.startswith("wf") and len(plan_id) == 38, plan_id
        finished(api, created.operation_id, "createInboundPlan")
        plan = api.get_inbound_plan(plan_id)
        assert plan.status == "ACTIVE" and plan.name == name and plan.marketplace_ids == [US]
        assert plan.source_address.city == "Seattle" and plan.packing_options == [] and plan.shipments == []
        newest = api.list_inbound_plans(page_size=30, status="ACTIVE", sort_by="CREATION_TIME", sort_order="DESC")
        assert newest.inbound_plans[0].inbound_plan_id == plan_id, "the newest plan comes first"
        with pytest.raises(ApiException) as repeated:
            api.create_inbound_plan(plan_request(f"SDK repeated {tag}", [item(listed, 1), item(listed, 2)]))
        assert repeated.value.status == 400 and error_codes(repeated.value, INBOUND_MODELS) == ["InvalidInput"]
        assert listed in json.loads(repeated.value.body)["errors"][0]["message"]

        # Packing: every SKU in one group, or each on its own.
        finished(api, api.generate_packing_options(plan_id).operation_id, "generatePackingOptions")
        options = api.list_packing_options(plan_id).packing_options
        assert len(options) == 2 and {option.status for option in options} == {"OFFERED"}
        together = next(option for option in options if len(option.packing_groups) == 1)
        assert ("GROUND_SMALL_PARCEL", "AMAZON_PARTNERED_CARRIER") in {
            (c.shipping_mode, c.shipping_solution) for c in together.supported_shipping_configurations}
        group = together.packing_groups[0]
        items = api.list_packing_group_items(plan_id, group).items
        assert {(i.msku, i.quantity) for i in items} == {(listed, 10), (stocked, 6)}, items
        assert all(i.fnsku and i.asin and i.label_owner == "SELLER" for i in items)
        finished(api, api.confirm_packing_option(plan_id, together.packing_option_id).operation_id,
                 "confirmPackingOption")
        with pytest.raises(ApiException) as twice:
            api.confirm_packing_option(plan_id, together.packing_option_id)
        assert twice.value.status == 400 and error_codes(twice.value, INBOUND_MODELS) == ["InvalidInput"]

        def boxes(units_listed, units_stocked, quantity):
            return SetPackingInformationRequest(package_groupings=[PackageGroupingInput(packing_group_id=group, boxes=[
                BoxInput(content_information_source="BOX_CONTENT_PROVIDED", quantity=quantity,
                         dimensions=Dimensions(length=40, width=30, height=30, unit_of_measurement="CM"),
                         weight=Weight(unit="KG", value=8.5),
                         items=[item(listed, units_listed), item(stocked, units_stocked)])])])

        short = finished(api, api.set_packing_information(plan_id, boxes(4, 3, 2)).operation_id,
                         "setPackingInformation", status="FAILED")
        assert any(listed in problem.message and "8" in problem.message and "10" in problem.message
                   for problem in short.operation_problems), short.operation_problems
        finished(api, api.set_packing_information(plan_id, boxes(5, 3, 2)).operation_id, "setPackingInformation")

        # Placement: the cheapest option, Amazon-optimized across two fulfilment centres.
        finished(api, api.generate_placement_options(plan_id, GeneratePlacementOptionsRequest()).operation_id,
                 "generatePlacementOptions")
        placements = api.list_placement_options(plan_id).placement_options
        assert len(placements) == 2, placements

        def fee(option):
            return sum(item.value.amount for item in option.fees)

        cheapest = min(placements, key=fee)
        dearest = max(placements, key=fee)
        assert fee(cheapest) == 0 and len(cheapest.shipment_ids) == 2
        assert fee(dearest) == 4.8 and dearest.fees[0].value.code == "USD" and len(dearest.shipment_ids) == 1
        finished(api, api.confirm_placement_option(plan_id, cheapest.placement_option_id).operation_id,
                 "confirmPlacementOption")
        plan = api.get_inbound_plan(plan_id)
        assert [s.shipment_id for s in plan.shipments] == cheapest.shipment_ids
        assert [p.status for p in plan.placement_options] == ["ACCEPTED"]
        shipment_ids = cheapest.shipment_ids
        for shipment_id in shipment_ids:
            shipment = api.get_shipment(plan_id, shipment_id)
            assert shipment.status == "WORKING" and shipment.placement_option_id == cheapest.placement_option_id
            assert shipment.shipment_confirmation_id.startswith("FBA") and len(shipment.shipment_confirmation_id) == 12
            assert shipment.destination.warehouse_id and shipment.destination.address.country_code == "US"
            assert shipment.source.source_type == "SELLER_FACILITY" and shipment.source.address.city == "Seattle"

        # Transportation: UPS quoted per box and unit, or the seller's own carrier after a delivery window.
        ready = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
        contact = ContactInformation(name="Dock Manager", phone_number="+12065550100")
        generated = api.generate_transportation_options(plan_id, GenerateTransportationOptionsRequest(
            placement_option_id=cheapest.placement_option_id,
            shipment_transportation_configurations=[ShipmentTransportationConfiguration(
                shipment_id=shipment_id, ready_to_ship_window=WindowInput(start=ready), contact_information=contact)
                for shipment_id in shipment_ids]))
        finished(api, generated.operation_id, "generateTransportationOptions")
        every = api.list_transportation_options(plan_id, placement_option_id=cheapest.placement_option_id)
        assert len(every.transportation_options) == 4, "two options for each of the two shipments"
        selections = []
        for shipment_id in shipment_ids:
            offered = api.list_transportation_options(plan_id, shipment_id=shipment_id).transportation_options
            partnered = next(o for o in offered if o.shipping_solution == "AMAZON_PARTNERED_CARRIER")
            assert partnered.shipping_mode == "GROUND_SMALL_PARCEL" and partnered.carrier.alpha_code == "UPSN"
            assert partnered.quote.cost.amount == 5.15 and partnered.quote.cost.code == "USD", partnered.quote
            own = next(o for o in offered if o.shipping_solution == "USE_YOUR_OWN_CARRIER")
            assert own.preconditions == ["CONFIRMED_DELIVERY_WINDOW"] and own.quote is None
            selections.append(TransportationSelection(shipment_id=shipment_id,
                                                      transportation_option_id=partnered.transportation_option_id))

            finished(api, api.generate_delivery_window_options(plan_id, shipment_id).operation_id,
                     "generateDeliveryWindowOptions")
            windows = api.list_delivery_window_options(plan_id, shipment_id).delivery_window_options
            assert len(windows) == 3 and all(w.availability_type == "AVAILABLE" for w in windows)
            assert all(w.end_date > w.start_date > datetime.datetime.now(datetime.timezone.utc) for w in windows)
            finished(api, api.confirm_delivery_window_options(
                plan_id, shipment_id, windows[0].delivery_window_option_id).operation_id,
                "confirmDeliveryWindowOptions")
        finished(api, api.confirm_transportation_options(plan_id, ConfirmTransportationOptionsRequest(
            transportation_selections=selections)).operation_id, "confirmTransportationOptions")
        confirmations = []
        for selection in selections:
            shipment = api.get_shipment(plan_id, selection.shipment_id)
            assert shipment.status == "READY_TO_SHIP"
            assert shipment.selected_transportation_option_id == selection.transportation_option_id
            assert shipment.selected_delivery_window and shipment.selected_delivery_window.delivery_window_option_id
            confirmations.append(shipment.shipment_confirmation_id)

        # Box labels and the shipments as v0 shows them.
        labels = v0.get_labels(confirmations[0], "PackageLabel_Plain_Paper", "UNIQUE")
        assert labels.payload and labels.payload.download_url.startswith("http"), labels
        status, pdf = http("GET", labels.payload.download_url)
        assert status == 200 and pdf.startswith(b"%PDF") and confirmations[0].encode() in pdf
        found = v0.get_shipments("SHIPMENT", US, shipment_id_list=confirmations).payload.shipment_data
        assert sorted(s.shipment_id for s in found) == sorted(confirmations), found
        assert {s.shipment_status for s in found} == {"READY_TO_SHIP"} and all(s.destination_fulfillment_center_id
                                                                              for s in found)
        shipped = [i for c in confirmations
                   for i in v0.get_shipment_items_by_shipment_id(c, marketplace_id=US).payload.item_data]
        assert sum(i.quantity_shipped for i in shipped if i.seller_sku == listed) == 10
        assert sum(i.quantity_shipped for i in shipped if i.seller_sku == stocked) == 6

        truth = inbound_truth(plan_id)
        assert truth["status"] == "ACTIVE" and truth["createCalls"] == 1
        assert truth["packingOptionId"] == together.packing_option_id
        assert truth["placementOptionId"] == cheapest.placement_option_id
        assert truth["confirmCalls"] == {"packing": 2, "placement": 1, "transportation": 1, "deliveryWindow": 2}
        assert sorted(s["shipmentConfirmationId"] for s in truth["shipments"]) == sorted(confirmations)
        assert sum(s["units"] for s in truth["shipments"]) == 16 and sum(s["boxes"] for s in truth["shipments"]) == 2

        # An option chosen after it expired is refused.
        late = api.create_inbound_plan(plan_request(f"SDK late {tag}", [item(listed, 2)]))
        finished(api, late.operation_id, "createInboundPlan")
        finished(api, api.generate_packing_options(late.inbound_plan_id).operation_id, "generatePackingOptions")
        offered = api.list_packing_options(late.inbound_plan_id).packing_options[0]
        status, answer = http("POST", f"{SIMULATOR_URL}/_simulator/inbound-plans/{late.inbound_plan_id}/expire")
        assert status == 200 and json.loads(answer)["expired"] >= 1, answer
        with pytest.raises(ApiException) as expired:
            api.confirm_packing_option(late.inbound_plan_id, offered.packing_option_id)
        assert expired.value.status == 400 and "expired" in json.loads(expired.value.body)["errors"][0]["message"]
        assert api.list_packing_options(late.inbound_plan_id).packing_options[0].status == "EXPIRED"

        # A SKU the seller neither lists nor stocks: the plan's creation fails, naming it.
        unknown = f"SDK-STA-{tag}-NONE"
        refused = api.create_inbound_plan(plan_request(f"SDK unknown {tag}", [item(listed, 1), item(unknown, 1)]))
        failed = finished(api, refused.operation_id, "createInboundPlan", status="FAILED")
        assert [p.code for p in failed.operation_problems] == ["FBA_INB_0004"], failed.operation_problems
        assert unknown in failed.operation_problems[0].message and failed.operation_problems[0].severity == "ERROR"
        assert api.get_inbound_plan(refused.inbound_plan_id).status == "ERRORED"
        with pytest.raises(ApiException) as missing:
            api.get_shipment(plan_id, "sh" + str(uuid.uuid4()))
        assert missing.value.status == 404 and error_codes(missing.value, INBOUND_MODELS) == ["NotFound"]
    finally:
        control_put("/_simulator/inbound-operations", {"seconds": 1.0})


# ---------------------------------------------------------------------------------------------------------------------
# (d) Throttling; last, since it empties getShipment's token bucket


def test_burst_is_throttled(client, location, shipped):
    retrieval = ShipmentRetrievalApi(client)
    answered, throttled = 0, []
    with throttled_calls_raise(client):
        for _ in range(40):
            try:
                retrieval.get_shipment(shipped)
                answered += 1
            except ApiException as error:
                assert error.status == 429, f"only throttling may refuse these calls: {error}"
                throttled.append(error)
    assert throttled, f"40 getShipment calls at once were all answered ({answered}); getShipment's burst is 10"
    for error in throttled[:3]:
        assert error_codes(error), error.body
        assert "x-amzn-RequestId" in error.headers, dict(error.headers)  # urllib3 headers: case-insensitive
    # A well-behaved client gets through again after waiting.
    assert retrieval.get_shipment(shipped).id == shipped
