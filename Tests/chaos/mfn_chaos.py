#!/usr/bin/env python3
"""MFN orders under chaos: merchant-fulfilled orders in two marketplaces are placed at the simulator while it fails
one Orders API call in ten (5% 500, 2% 503, 3% answers dropped after the call was applied) and FlexBridge is killed
with SIGKILL and restarted several times. A WMS stand-in ships every order through the API: an order of several
units in two packages (one unit first, leaving it PARTIALLY_SHIPPED, then the rest), a single unit in one; the
carrier comes from the connection's ship-method table, or is named where the order's level is not mapped. One order
in twenty is cancelled by Amazon instead of shipped.

Checks, against the simulator's ground truth and request log:
- every order appears exactly once as order.created in the event feed;
- every order not cancelled is SHIPPED at the simulator, with exactly the packages the WMS asked for: one
  confirmation per ship command, each package's units as asked, none sent twice (no confirmShipment refused as a
  package confirmed already);
- every cancellation is reflected in FlexBridge's order and its order.cancelled event.

Usage: mfn_chaos.py FLEXBRIDGE_BINARY   (Tests/chaos/run.sh builds it and calls this)
Environment: MFN_CHAOS_ORDERS (1000), MFN_CHAOS_KILLS (3), MFN_CHAOS_SECONDS (budget, 900).
"""
import collections
import json
import os
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import CLIENT_ID, CLIENT_SECRET, Rig, call, expect  # noqa: E402

BINARY = sys.argv[1]
ORDERS = int(os.environ.get("MFN_CHAOS_ORDERS", "1000"))
KILLS = int(os.environ.get("MFN_CHAOS_KILLS", "3"))
BUDGET = int(os.environ.get("MFN_CHAOS_SECONDS", "900"))
MERCHANT = "A1MFNCHAOSSELLER"
MARKETPLACES = ["A21TJRUUN4KGV", "A1F83G8C2ARO7P"]
NOTIFICATION_SECRET = "mfn-chaos-notification-secret-01"
FAULTED = ["searchOrders", "getOrder", "confirmShipment"]
BASKETS = [{"MUG": 1}, {"MUG": 2}, {"MUG": 1, "CUP": 2}, {"KETTLE": 1}, {"CUP": 3}]
LEVELS = ["Standard", "Expedited", "SecondDay", "NextDay"]
SHIP_METHODS = [  # SecondDay is left unmapped: those orders are flagged and shipped with a carrier named
    {"serviceLevel": "Standard", "wmsCarrier": "ups", "wmsMethod": "ground", "carrierCode": "UPS", "shippingMethod": "Ground"},
    {"serviceLevel": "Expedited", "wmsCarrier": "dhl", "wmsMethod": "express", "carrierCode": "DHL"},
    {"serviceLevel": "NextDay", "wmsCarrier": "local", "wmsMethod": "courier", "carrierCode": "Other", "carrierName": "Swift Couriers"},
]


def connect(rig):
    """A connection for the seller in both marketplaces, authorised at the simulator, syncing MFN orders."""
    status, connection = call("POST", f"{rig.api}/connections", {
        "name": "MFN chaos", "sellingPartnerId": MERCHANT, "region": "EU", "marketplaceIds": MARKETPLACES,
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "endpoint": rig.sim})
    expect(status == 201, f"create connection: {status} {connection}")
    cid = connection["id"]
    status, minted = call("POST", f"{rig.sim}/_simulator/authorizations", {"merchantId": MERCHANT})
    expect(status == 201, f"simulator authorization: {status} {minted}")
    status, body = call("PUT", f"{rig.api}/connections/{cid}/refresh-token", {"refreshToken": minted["refreshToken"]})
    expect(status == 200, f"refresh token: {status} {body}")
    status, body = call("PUT", f"{rig.api}/connections/{cid}/settings", {
        "mfnOrderSyncEnabled": True, "shipMethods": SHIP_METHODS})
    expect(status == 200, f"settings: {status} {body}")
    return cid


def main():
    rig = Rig(BINARY, "flexbridge-mfn-chaos-", simulator_args=["--no-throttle"], serve_args=["--node-id", "mfn-chaos"],
              serve_env={"FLEXBRIDGE_NOTIFICATION_SECRET": NOTIFICATION_SECRET, "FLEXBRIDGE_MFN_POLL_SECONDS": "5"})
    sim, api, api_port = rig.sim, rig.api, rig.api_port
    try:
        node = rig.serve()
        connect(rig)
        status, _ = call("POST", f"{sim}/_simulator/notifications/destinations", {
            "url": f"http://127.0.0.1:{api_port}/notifications/amazon", "headerName": "x-api-key", "secret": NOTIFICATION_SECRET})
        expect(status == 201, f"notification destination: {status}")
        # Rates well above Amazon's (getOrder 0.5/s would take over half an hour for 1,000 orders), advertised in
        # x-amzn-RateLimit-Limit as Amazon does; bench orders --source mfn measures Amazon's own.
        for operation in FAULTED:
            status, body = call("PUT", f"{sim}/_simulator/rate-limits/{operation}", {"rate": 100, "burst": 200})
            expect(status == 200, f"rate limit for {operation}: {status} {body}")
            status, body = call("PUT", f"{sim}/_simulator/faults", {
                "operation": operation, "internalErrorRate": 0.05, "unavailableRate": 0.02, "dropAfterApplyRate": 0.03})
            expect(status == 200, f"faults for {operation}: {status} {body}")

        started = time.time()
        placed = {}  # order id -> what was placed
        created = collections.Counter()
        cancelled_events = set()
        packages = {}  # order id -> [(idempotency key, request body)] the WMS decided on
        accepted = collections.defaultdict(set)  # order id -> keys FlexBridge took
        cancelled_at_amazon = set()
        kills_done, next_kill = 0, started + 12
        cursor = 0
        resent = 0

        def truth():
            _, state = call("GET", f"{sim}/_simulator/state")
            return {o["id"]: o for o in state["mfnOrders"] if o["merchantId"] == MERCHANT}

        while True:
            now = time.time()
            if now - started >= BUDGET:
                orders = truth()
                open_orders = [o for o in orders.values() if o["status"] not in ("SHIPPED", "CANCELLED")]
                print(f"  {len(orders)} orders at the simulator, {len(open_orders)} open, {len(created)} announced",
                      file=sys.stderr)
                for order in open_orders[:6]:
                    _, commands = call("GET", f"{api}/orders/{order['id']}/commands", timeout=10)
                    print(f"  {order['id']}: {order['status']}; commands {json.dumps(commands)[:600]}", file=sys.stderr)
                print(f"  work folder (database and logs): {rig.work}", file=sys.stderr)
            expect(now - started < BUDGET, f"not done within {BUDGET} s")
            if len(placed) < ORDERS:
                for _ in range(min(40, ORDERS - len(placed))):
                    n = len(placed)
                    spec = {"merchantId": MERCHANT, "marketplaceId": MARKETPLACES[n % 2],
                            "serviceLevel": LEVELS[(n // 2) % len(LEVELS)], "items": BASKETS[n % len(BASKETS)]}
                    status, body = call("POST", f"{sim}/_simulator/mfn-orders", spec)
                    expect(status == 201, f"place an MFN order: {status} {body}")
                    placed[body["orderIds"][0]] = spec
            if kills_done < KILLS and now >= next_kill:
                node.send_signal(signal.SIGKILL)
                node.wait()
                kills_done += 1
                print(f"{now - started:5.1f} s: SIGKILL {kills_done} of {KILLS} ({len(created)} orders seen)")
                node = rig.serve()
                next_kill = time.time() + 15
            try:
                status, page = call("GET", f"{api}/events?after={cursor}&limit=1000", timeout=10)
            except OSError:
                time.sleep(0.2)
                continue
            if status != 200:
                time.sleep(0.2)
                continue
            for event in page["events"]:
                cursor = event["sequence"]
                if event["type"] == "order.created":
                    created[event["subject"]] += 1
                elif event["type"] == "order.cancelled":
                    cancelled_events.add(event["subject"])
                elif event["type"] == "order.command_failed":
                    # Faults and kills delay a ship, never fail it.
                    expect(event["subject"] in cancelled_at_amazon,
                           f"a command failed on {event['subject']}: {event['data']} (work folder: {rig.work})")
            for order_id in list(created):
                if order_id not in placed:
                    continue
                if int(order_id.replace("-", "")) % 20 == 0:
                    if order_id not in cancelled_at_amazon:
                        status, body = call("POST", f"{sim}/_simulator/mfn-orders/{order_id}/cancel", {"by": "AMAZON"})
                        expect(status == 200, f"cancel {order_id}: {status} {body}")
                        cancelled_at_amazon.add(order_id)
                    continue
                if order_id not in packages:
                    try:
                        status, detail = call("GET", f"{api}/orders/{order_id}", timeout=10)
                    except OSError:
                        continue
                    if status != 200:
                        continue
                    carrier = {"carrierCode": "FedEx"} if detail.get("serviceLevelUnmapped") else {}
                    expect(detail.get("serviceLevelUnmapped") == (placed[order_id]["serviceLevel"] == "SecondDay"),
                           f"{order_id}: flagged unmapped {detail.get('serviceLevelUnmapped')} for {placed[order_id]['serviceLevel']}")
                    lines = detail["lines"]
                    units = sum(line["quantity"] for line in lines)
                    planned = []
                    if units > 1:
                        planned.append((f"{order_id}:1", {"type": "ship", "trackingId": f"T{order_id}-1", **carrier,
                                                          "items": [{"lineItemId": lines[0]["lineItemId"], "quantity": 1}]}))
                    planned.append((f"{order_id}:{len(planned) + 1}",
                                    {"type": "ship", "trackingId": f"T{order_id}-{len(planned) + 1}", **carrier}))
                    packages[order_id] = planned
                for key, body in packages[order_id]:
                    if key in accepted[order_id]:
                        continue
                    try:
                        status, answer = call("POST", f"{api}/orders/{order_id}/commands", body,
                                              headers={"Idempotency-Key": key}, timeout=10)
                    except OSError:
                        resent += 1
                        break
                    if status in (200, 202):
                        accepted[order_id].add(key)
                    else:
                        expect(status >= 500, f"ship {key}: {status} {answer}")
                        resent += 1
                        break
            if len(placed) == ORDERS and kills_done == KILLS and len(created) >= ORDERS:
                orders = truth()
                done = all(o["status"] == ("CANCELLED" if o["id"] in cancelled_at_amazon else "SHIPPED")
                           for o in orders.values())
                if done and cancelled_at_amazon <= cancelled_events:
                    break
            time.sleep(0.3)

        elapsed = time.time() - started
        orders = truth()
        print(f"{elapsed:.0f} s: {len(orders)} MFN orders in {len(MARKETPLACES)} marketplaces, {KILLS} kills, "
              f"{resent} submissions resent")

        # 1. Exactly once in the feed.
        duplicates = [o for o, n in created.items() if n != 1]
        expect(not duplicates, f"order.created more than once: {duplicates[:10]}")
        missing = [o for o in orders if o not in created]
        expect(not missing, f"orders never announced: {missing[:10]}")
        print(f"order.created exactly once for each of {len(created)} orders")

        # 2. Shipped in exactly the packages asked for, each confirmed once.
        partial = 0
        for order_id, order in orders.items():
            if order_id in cancelled_at_amazon:
                expect(order["status"] == "CANCELLED" and not order["confirmations"], f"{order_id}: {order['status']}")
                continue
            expect(order["status"] == "SHIPPED", f"{order_id}: {order['status']}")
            asked = packages[order_id]
            confirmations = order["confirmations"]
            expect(len(confirmations) == len(asked),
                   f"{order_id}: {len(confirmations)} confirmations for {len(asked)} packages: {confirmations}")
            references = [c["packageReferenceId"] for c in confirmations]
            expect(len(set(references)) == len(references), f"{order_id}: a package reference twice: {references}")
            shipped = collections.Counter()
            for confirmation in confirmations:
                for item, quantity in confirmation["items"].items():
                    shipped[item] += quantity
            expect(all(shipped[i["orderItemId"]] == i["quantity"] for i in order["items"]),
                   f"{order_id}: shipped {dict(shipped)} of {order['items']}")
            if len(asked) == 2:
                partial += 1
                expect(sum(confirmations[0]["items"].values()) == 1, f"{order_id}: first package {confirmations[0]}")
            level = placed[order_id]["serviceLevel"]
            codes = {"Standard": "UPS", "Expedited": "DHL", "NextDay": "Other", "SecondDay": "FedEx"}
            expect(all(c["carrierCode"] == codes[level] for c in confirmations), f"{order_id}: {confirmations}")
        _, requests = call("GET", f"{sim}/_simulator/requests")
        calls = [r for r in requests if r["operation"] == "confirmShipment"]
        applied = collections.Counter()
        for request in calls:
            if 200 <= request["status"] < 300 and request.get("fault") in (None, "dropAfterApply"):
                reference = json.loads(request["body"])["packageDetail"]["packageReferenceId"]
                applied[(request["path"], reference)] += 1
        twice = [key for key, n in applied.items() if n > 1]
        expect(not twice, f"a package confirmed twice: {twice[:5]}")
        refused = [(r["path"], r["status"]) for r in calls if 400 <= r["status"] < 500 and r["status"] != 429]
        expect(not refused, f"confirmShipment refused (sent again, or from a copy behind Amazon's): {refused[:5]}")
        faults = collections.Counter(r.get("fault") for r in requests if r.get("fault") and r["operation"] in FAULTED)
        shipped = sum(1 for o in orders.values() if o["status"] == "SHIPPED")
        print(f"{shipped} shipped ({partial} in two packages, the first leaving the order PARTIALLY_SHIPPED), "
              f"{sum(len(o['confirmations']) for o in orders.values())} packages confirmed once each "
              f"in {len(calls)} confirmShipment calls; faults injected: {dict(faults)}")

        # 3. Cancellations reflected.
        for order_id in cancelled_at_amazon:
            status, detail = call("GET", f"{api}/orders/{order_id}")
            expect(status == 200 and detail["order"]["status"] == "CANCELLED", f"{order_id}: not cancelled in FlexBridge")
            expect(order_id in cancelled_events, f"{order_id}: no order.cancelled event")
        print(f"{len(cancelled_at_amazon)} cancellations reflected in orders and events")
    finally:
        rig.stop()


if __name__ == "__main__":
    main()
