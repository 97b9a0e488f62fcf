"""Amazon's own Python SDK (amzn-sp-api) against the FlexBridge simulator.

The SDK validates what it reads (required fields, enum values, list sizes) and raises on anything it cannot
deserialize, so every call below doubles as a check that the simulator answers in Amazon's shapes.

Environment: SIMULATOR_URL (e.g. http://127.0.0.1:18090), SIMULATOR_CLIENT_ID, SIMULATOR_CLIENT_SECRET.
"""

import base64
import json
import os
import time
import urllib.request
import uuid

import pytest

spapi = pytest.importorskip("spapi")
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
from spapi.rest import ApiException  # noqa: E402

SIMULATOR_URL = os.environ.get("SIMULATOR_URL")
MERCHANT = "A1SIMSELLER"
INDIA = "A21TJRUUN4KGV"

pytestmark = pytest.mark.skipif(not SIMULATOR_URL, reason="SIMULATOR_URL is not set")


def control(path, body, method="POST"):
    request = urllib.request.Request(
        SIMULATOR_URL + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method=method
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def client():
    # The workflow tests run unthrottled, so that they do not wait out Amazon's 1 call/s shipment limits;
    # test_burst_is_throttled switches Amazon's default throttling back on.
    control("/_simulator/throttling", {"enabled": False}, method="PUT")
    refresh_token = control("/_simulator/authorizations", {"merchantId": MERCHANT})["refreshToken"]
    config = SPAPIConfig(
        client_id=os.environ.get("SIMULATOR_CLIENT_ID", "amzn1.application-oa2-client.simulator"),
        client_secret=os.environ.get("SIMULATOR_CLIENT_SECRET", "simulator-secret"),
        refresh_token=refresh_token,
        region="SANDBOX",
    )
    return SPAPIClient(config, oauth_endpoint=SIMULATOR_URL + "/auth/o2/token", endpoint=SIMULATOR_URL).api_client


@pytest.fixture(scope="module")
def location(client):
    answer = SandboxLocationApi(client).create_sandbox_location(
        {"merchantIds": [MERCHANT], "marketplaceId": INDIA, "channels": ["MFN"], "locationName": f"SDK {uuid.uuid4()}"}
    )
    assert answer.location_ids.mfn
    return answer.location_ids.mfn


def new_shipment(client, location, order_types=None):
    body = {"locationId": location, "marketplaceId": INDIA, "marketplaceChannel": "MFN", "shippingType": "MARKETPLACE"}
    if order_types:
        body["orderType"] = order_types
    return SandboxShipmentsApi(client).create_sandbox_shipment(body).shipment_id


def package_for(shipment, package_id="PKG1"):
    return {
        "id": package_id,
        "dimensions": {
            "length": {"value": "30", "dimensionUnit": "CM"},
            "width": {"value": "20", "dimensionUnit": "CM"},
            "height": {"value": "10", "dimensionUnit": "CM"},
        },
        "weight": {"value": "750", "weightUnit": "G"},
        "packageLineItems": [
            {"packageLineItemId": line.shipment_line_item_id, "quantity": line.number_of_units}
            for line in shipment.line_items
        ],
    }


@pytest.fixture(scope="module")
def shipped(client, location):
    """A shipment carried through Amazon's whole Seller Flex workflow, by the SDK alone."""
    retrieval = ShipmentRetrievalApi(client)
    processing = ShipmentProcessingApi(client)
    shipment_id = new_shipment(client, location, ["GIFT_WRAP"])
    shipment = retrieval.get_shipment(shipment_id)
    assert shipment.status == "ACCEPTED"
    assert shipment.line_items[0].gift_attributes.gift_wrap_requirement == "REQUIRED"

    processing.process_shipment(shipment_id, "CONFIRM")
    assert retrieval.get_shipment(shipment_id).status == "CONFIRMED"

    processing.create_packages(shipment_id, {"packages": [package_for(shipment)]})
    assert retrieval.get_shipment(shipment_id).status == "PACKAGE_CREATED"

    options = processing.retrieve_shipping_options(shipment_id, "PKG1")
    assert options.shipping_options
    chosen = options.recommended_shipping_option or options.shipping_options[0]
    assert retrieval.get_shipment(shipment_id).status == "PICKUP_SLOT_RETRIEVED"

    invoice = processing.generate_invoice(shipment_id)
    assert base64.b64decode(invoice.document.content).startswith(b"%PDF")
    assert retrieval.get_shipment(shipment_id).status == "INVOICE_GENERATED"
    assert processing.retrieve_invoice(shipment_id).document.content == invoice.document.content

    labels = processing.generate_ship_labels(
        shipment_id, "GENERATE", shipping_option_id=chosen.shipping_option_id, body={"packageIds": ["PKG1"]}
    )
    label = labels.package_ship_label_list[0]
    assert label.status == "SUCCESS"
    assert label.ship_label_metadata.tracking_id
    with urllib.request.urlopen(label.file_data.url) as response:
        assert response.read().startswith(b"%PDF")
    assert retrieval.get_shipment(shipment_id).status == "SHIPLABEL_GENERATED"

    processing.update_package_status(shipment_id, "PKG1", body={"status": "SHIPPED"})
    assert retrieval.get_shipment(shipment_id).status == "SHIPPED"
    return shipment_id


def test_full_flow_to_delivery(client, location, shipped):
    SandboxShipmentsApi(client).update_sandbox_shipment(
        shipped, {"updateType": "SHIPMENT_STATUS_CHANGE", "updates": {"status": "DELIVERED"}}
    )
    retrieval = ShipmentRetrievalApi(client)
    assert retrieval.get_shipment(shipped).status == "DELIVERED"
    page = retrieval.get_shipments("DELIVERED", location_id=location, max_results=100)
    assert shipped in [shipment.id for shipment in page.shipments]


def test_marketplace_cancellation(client, location):
    shipment_id = new_shipment(client, location)
    SandboxShipmentsApi(client).update_sandbox_shipment(
        shipment_id, {"updateType": "SHIPMENT_STATUS_CHANGE", "updates": {"status": "CANCELLED"}}
    )
    shipment = ShipmentRetrievalApi(client).get_shipment(shipment_id)
    assert shipment.status == "CANCELLED"
    assert shipment.line_items[0].cancellations[0].cancellation_type == "MARKETPLACE_CANCELLED"
    with pytest.raises(ApiException) as refused:
        ShipmentProcessingApi(client).process_shipment(shipment_id, "CONFIRM")
    assert refused.value.status in (409, 422)
    assert json.loads(refused.value.body)["errors"][0]["code"]


def test_every_order_type_deserializes(client, location):
    retrieval = ShipmentRetrievalApi(client)
    for order_type in ["HAZMAT", "GIFT_MESSAGE", "MPS", "SERIAL", "CROSS_BORDER", "REPLACEMENT", "EXCHANGE",
                       "PHARMA_NON_PRESCRIPTION", "PHARMA_PRESCRIPTION"]:
        shipment = retrieval.get_shipment(new_shipment(client, location, [order_type]))
        if order_type in ("REPLACEMENT", "EXCHANGE"):
            assert shipment.shipment_info.shipment_type == order_type
            assert shipment.shipment_info.original_shipment_info.id


def test_batch_inventory(client, location):
    retrieval = ShipmentRetrievalApi(client)
    skus = sorted({line.merchant_sku for s in retrieval.get_shipments("ACCEPTED", location_id=location).shipments
                   for line in s.line_items})[:2]
    assert skus
    sequence = int(time.time() * 1000)
    attributes = {"marketplaceId": INDIA, "channelName": "MFN"}

    def update(sku, quantity, number):
        return {"method": "POST", "uri": f"/inventory/update?locationId={location}&skuId={sku}",
                "body": {"quantity": quantity, "clientSequenceNumber": number, "marketplaceAttributes": attributes}}

    def fetch(sku):
        return {"method": "POST", "uri": f"/inventory/fetch?locationId={location}&skuId={sku}",
                "body": {"marketplaceAttributes": attributes}}

    api = BatchInventoryApi(client)
    answer = api.batch_inventory({"requests": [update(sku, 25, sequence) for sku in skus]})
    assert [item.status.status_code for item in answer.responses] == [200] * len(skus)
    answer = api.batch_inventory({"requests": [fetch(sku) for sku in skus]})
    for item in answer.responses:
        assert item.status.status_code == 200
        assert item.body.sellable_quantity == max(0, 25 - item.body.reserved_quantity)

    answer = api.batch_inventory({"requests": [update("NO-SUCH-SKU-XYZ", 1, sequence)]})
    assert answer.responses[0].status.status_code == 400
    assert answer.responses[0].body.actionable_errors[0].error_type == "INVALID_SKU"

    answer = api.batch_inventory({"requests": [update(skus[0], 99, sequence), fetch(skus[0])]})
    assert answer.responses[0].status.status_code == 409
    assert answer.responses[0].body.client_sequence_number == sequence
    assert answer.responses[1].body.sellable_quantity == max(0, 25 - answer.responses[1].body.reserved_quantity)


def test_burst_is_throttled(client, location):
    shipment_id = new_shipment(client, location)
    retrieval = ShipmentRetrievalApi(client)
    throttled = []
    control("/_simulator/throttling", {"enabled": True}, method="PUT")
    try:
        for _ in range(40):
            try:
                retrieval.get_shipment(shipment_id)
            except ApiException as error:
                assert error.status == 429, error
                throttled.append(error)
    finally:
        control("/_simulator/throttling", {"enabled": False}, method="PUT")
    assert throttled, "40 calls at once must exceed getShipment's burst"
    error = throttled[0]
    assert json.loads(error.body)["errors"][0]["code"] == "QuotaExceeded"
    assert "x-amzn-RequestId" in error.headers


def test_returns(client, location, shipped):
    created = control("/_simulator/returns", {"shipmentId": shipped})
    api = ReturnRetrievalApi(client)
    listed = api.list_returns(return_location_id=location)
    assert created["id"] in [item.id for item in listed.returns]
    item = api.get_return(created["id"])
    assert item.status == "CREATED"
    assert item.marketplace_channel_details.shipment_id == shipped
