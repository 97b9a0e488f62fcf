#!/usr/bin/env python3
"""Runs a full flow against `flexbridge serve --log-level trace`, its traces exported by OTLP to a collector stand-in,
and greps serve's log and the exported spans for each secret the run made or handled: the application's client secret,
the seller's refresh tokens and access tokens, the consent's link, authorization code and state, the API keys, an
operator's password, a webhook's signing secret, the notification secret and the master key. Any one found fails the
run, with the line (or export) it is on. The traces are checked too: a stock write sent with a traceparent is one
trace from the request through its push to Amazon's batchInventory call."""
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apifuzz"))
from harness import CLIENT_ID, CLIENT_SECRET, MARKETPLACE, Rig, call, expect  # noqa: E402
import flexnodes  # noqa: E402
import otlp  # noqa: E402

NOTIFICATION_SECRET = "notification-secret-" + os.urandom(8).hex()
MERCHANT = "A1SECRETS"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Receiver(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        Receiver.received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def consent(api, sim, cid):
    """The seller's consent through the simulator's Login with Amazon, as a browser does it; returns (code, state)."""
    status, link = call("POST", f"{api}/connections/{cid}/authorization-link")
    expect(status == 201, f"authorization link: {status} {link}")
    opener = urllib.request.build_opener(NoRedirect)
    try:  # FlexBridge's link sends the browser on to Amazon's consent page
        opener.open(link["url"], timeout=30)
        expect(False, "the authorization link did not redirect")
    except urllib.error.HTTPError as answer:
        expect(answer.code == 302, f"authorization link: {answer.code}")
        consent_page = answer.headers["Location"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(consent_page).query))
    form = urllib.parse.urlencode({"application_id": query["application_id"], "state": query["state"],
                                   "redirect_uri": query["redirect_uri"], "selling_partner_id": MERCHANT}).encode()
    try:
        opener.open(urllib.request.Request(f"{sim}/apps/authorize/consent", data=form, method="POST"), timeout=30)
        expect(False, "the consent page did not redirect")
    except urllib.error.HTTPError as answer:
        expect(answer.code == 302, f"consent: {answer.code}")
        location = answer.headers["Location"]
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    with urllib.request.urlopen(location, timeout=30) as page:  # the browser, sent back to FlexBridge
        expect(page.status == 200, f"callback: {page.status}")
    return back["spapi_oauth_code"], back["state"], link["url"].rsplit("/", 1)[1]


def main():
    binary = sys.argv[1]
    collector = otlp.Collector()
    rig = Rig(binary, "flexbridge-secrets-", simulator_args=("--no-throttle",), serve_args=("--log-level", "trace"),
              serve_env={"FLEXBRIDGE_NOTIFICATION_SECRET": NOTIFICATION_SECRET,
                         "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"})
    trace_id = os.urandom(16).hex()
    try:
        rig.serve()
        api, sim = rig.api, rig.sim
        secrets = {"client secret": CLIENT_SECRET, "notification secret": NOTIFICATION_SECRET,
                   "admin key": rig.key, "admin key's secret part": rig.key.split("_", 2)[2]}
        with open(rig.database + ".key") as key_file:
            secrets["master key"] = key_file.read().strip()

        # A key and an operator made through the API.
        status, key = call("POST", f"{api}/keys", {"name": "wms", "role": "wms"})
        expect(status == 201, f"key: {status} {key}")
        secrets["wms key"] = key["secret"]
        password = "operator password " + os.urandom(6).hex()
        status, body = call("POST", f"{api}/operators", {"name": "anna", "password": password, "role": "operator"})
        expect(status == 201, f"operator: {status} {body}")
        secrets["operator password"] = password

        # The seller's consent through Login with Amazon.
        status, connection = call("POST", f"{api}/connections", {
            "name": "Secrets", "sellingPartnerId": MERCHANT, "region": "EU", "marketplaceIds": [MARKETPLACE],
            "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "endpoint": sim})
        expect(status == 201, f"connection: {status} {connection}")
        cid = connection["id"]
        code, state, link_token = consent(api, sim, cid)
        secrets["authorization code"], secrets["consent state"], secrets["consent link"] = code, state, link_token
        status, test = call("POST", f"{api}/connections/{cid}/test")
        expect(status == 200 and test["ok"], f"connection test: {status} {test}")

        # A location mapped to a hub, listings, stock, a webhook and notifications.
        token = call("POST", f"{sim}/_simulator/authorizations", {"merchantId": MERCHANT})[1]["refreshToken"]
        form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": token,
                                       "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        access = call("POST", f"{sim}/auth/o2/token", form, "application/x-www-form-urlencoded")[1]["access_token"]
        status, location = call("POST", f"{sim}/externalFulfillment/2026-07-30/location", {
            "merchantIds": [MERCHANT], "marketplaceId": MARKETPLACE, "channels": ["MFN"], "locationName": "Secrets hub"},
            headers={"x-amz-access-token": access})
        expect(status in (200, 201), f"location: {status} {location}")
        location_id = location["locationIds"]["MFN"]
        status, body = call("PUT", f"{api}/connections/{cid}/hubs", {"hub": "HUB1", "locationId": location_id, "channel": "MFN"})
        expect(status == 200, f"hub: {status} {body}")
        flexnodes.add_listings(api, sim, cid, MERCHANT, ["SKU-1", "SKU-2"])
        # A WMS that traces its calls: the write's trace goes on through the store to Amazon.
        status, body = call("PUT", f"{api}/stock", {"items": [{"hub": "HUB1", "sku": "SKU-1", "quantity": 7}]},
                            headers={"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"})
        expect(status == 202, f"stock: {status} {body}")
        # A trace context the exporter cannot read: it logs the request's carrier, never its API key.
        status, body = call("PUT", f"{api}/stock", {"items": [{"hub": "HUB1", "sku": "SKU-1", "quantity": 7}]},
                            headers={"traceparent": "00-not-a-trace", "tracestate": "x=" + "y" * 600})
        expect(status == 202, f"stock with a bad traceparent: {status} {body}")
        receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        hook_secret = "webhook-secret-" + os.urandom(8).hex()
        status, hook = call("POST", f"{api}/webhooks", {"url": f"http://127.0.0.1:{receiver.server_address[1]}/hook",
                                                         "secret": hook_secret, "fromStart": True})
        expect(status == 201, f"webhook: {status} {hook}")
        secrets["webhook secret"] = hook_secret
        status, body = call("POST", f"{sim}/_simulator/notifications/destinations", {
            "url": f"http://127.0.0.1:{rig.api_port}/notifications/amazon", "headerName": "x-api-key",
            "secret": NOTIFICATION_SECRET})
        expect(status == 201, f"notifications: {status} {body}")

        # Orders through hand-over.
        shipments = flexnodes.generate_orders(api, sim, MERCHANT, location_id, 2)
        for shipment in shipments:
            flexnodes.carry_to_ready_to_ship(api, shipment)
        for shipment in shipments:  # one manifest each: the simulator's orders may go with different carriers
            status, manifest = call("POST", f"{api}/manifests",
                                    {"connectionId": cid, "locationId": location_id, "shipmentIds": [shipment]})
            expect(status == 201, f"manifest: {status} {manifest}")
            status, body = call("POST", f"{api}/manifests/{manifest['id']}/handover")
            expect(status == 202, f"handover: {status} {body}")
        deadline = time.time() + 120
        while time.time() < deadline:
            orders = call("GET", f"{api}/orders?state=shipped")[1]["orders"]
            if {o["shipmentId"] for o in orders} >= set(shipments) and Receiver.received:
                break
            time.sleep(0.5)
        expect({o["shipmentId"] for o in call("GET", f"{api}/orders?state=shipped")[1]["orders"]} >= set(shipments),
               "the orders shipped")
        expect(Receiver.received, "the webhook received events")
    finally:
        rig.stop()

    with open(os.path.join(rig.work, "serve.log"), errors="replace") as log:
        lines = log.readlines()
    # The log is the one asked for: trace and debug lines, the flow's connection named in it.
    expect(len(lines) > 1000 and any(" trace " in line for line in lines) and any(cid in line for line in lines),
           f"serve's log at trace level holds {len(lines)} lines")
    found = []
    for name, secret in secrets.items():
        for number, line in enumerate(lines, 1):
            if secret in line:
                found.append(f"{name} on line {number}: {line.strip()[:300]}")
                break
    for pattern, name in ((r"Atzr\|[A-Za-z0-9_\-]{6,}", "a refresh token"), (r"Atza\|[A-Za-z0-9_\-]{6,}", "an access token")):
        for number, line in enumerate(lines, 1):
            if re.search(pattern, line):
                found.append(f"{name} on line {number}: {line.strip()[:300]}")
                break
    expect(not found, "secrets in serve's log (" + os.path.join(rig.work, "serve.log") + "):\n" + "\n".join(found))
    print(f"{len(lines)} lines of serve's trace log hold none of {len(secrets)} secrets, no refresh or access token")

    # The exported spans: the stock write's trace reaches Amazon's call, and no secret is in any export.
    spans = collector.spans()
    traced = [span for span in spans if span["trace"] == trace_id]
    names = {span["name"] for span in traced}
    expect({"PUT /api/v1/stock", "inventory.push", "amazon batchInventory"} <= names,
           f"the stock write's trace holds its request, its push and Amazon's call: {sorted(names)}")
    pushes = {span["span"] for span in traced if span["name"] == "inventory.push"}
    expect(any(span["name"] == "amazon batchInventory" and span["parent"] in pushes for span in traced),
           "Amazon's call is a child of the push")
    exported = b"".join(collector.exports)
    leaked = [name for name, secret in secrets.items() if secret.encode() in exported]
    leaked += [name for pattern, name in ((rb"Atzr\|[A-Za-z0-9_\-]{6,}", "a refresh token"),
                                          (rb"Atza\|[A-Za-z0-9_\-]{6,}", "an access token")) if re.search(pattern, exported)]
    expect(not leaked, f"secrets in the exported spans: {leaked}")
    print(f"{len(spans)} spans exported in {len(collector.exports)} exports hold none of the secrets; the stock write's "
          f"trace runs through {len(traced)} spans to Amazon's batchInventory call")


if __name__ == "__main__":
    main()
