#!/usr/bin/env python3
"""Returns under SIGKILL: orders generated at the simulator are worked to SHIPPED through FlexBridge's API (confirm,
pack, label, ship, each with an idempotency key); every shipment is then returned, one return per line item, a few
as REJECT. In rounds, every open return takes one step along Amazon's return lifecycle (a seeded random walk,
mostly down the main path to DELIVERED, sometimes detouring through a rescheduled pickup or a replanned delivery,
sometimes cancelled or rejected) while listReturns fails 5% of calls with 500 and 2% with 503. After each round
the test waits until FlexBridge shows every return in its new status, so that FlexBridge has to see every status;
in some rounds `flexbridge serve` is killed with SIGKILL right after the changes and started again. FlexBridge
reads returns in pages of 5 (FLEXBRIDGE_RETURNS_PAGE_SIZE) every 2 s (FLEXBRIDGE_RETURNS_POLL_SECONDS).

Checks, against the simulator's ground truth:
- every return is listed by GET /returns (paged 7 at a time), none twice, none extra, each with the shipment,
  RMA id, merchant SKU, units, return location, type and status Amazon holds;
- each return's history in FlexBridge is the list of statuses it took at Amazon, in order, none twice, none missing;
- the event feed has exactly one return.created per return, the statuses of each return's created, updated and
  cancelled events follow its history at Amazon (each previousStatus the status before), return.cancelled exactly
  once for each return cancelled by Amazon or the customer, and no two events with one id;
- receiving a DELIVERED return with all units sellable and restock puts the units back into HUB1 in FlexBridge and
  at Amazon, exactly once: the same Idempotency-Key and body answer the same receipt without raising stock again,
  another key is refused (409), items that do not add up to the return's units or an unknown grade are refused
  (400), an unknown return is 404; each received return has one return.received event;
- serve's log has no panic or fatal error.

Usage: returns_crash.py FLEXBRIDGE_BINARY   (Tests/returns/run.sh builds it and calls this)
Environment: RETURNS_ORDERS (30), RETURNS_KILLS (3; in rounds 1, 3, 5 …), RETURNS_SEED (the walk's choices, random
and printed; the simulator's orders and ids still vary), RETURNS_SECONDS (budget, 300), RETURNS_ROUND_SECONDS (the most
a round may take to show in FlexBridge, 60).
"""
import collections
import json
import os
import random
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import MARKETPLACE, Rig, call, expect, packages_for  # noqa: E402

BINARY = sys.argv[1]
ORDERS = int(os.environ.get("RETURNS_ORDERS", "30"))
KILLS = int(os.environ.get("RETURNS_KILLS", "3"))
SEED = int(os.environ.get("RETURNS_SEED", str(random.randrange(1 << 32))))
BUDGET = int(os.environ.get("RETURNS_SECONDS", "300"))
ROUND_SECONDS = int(os.environ.get("RETURNS_ROUND_SECONDS", "60"))
MERCHANT = "A1RETURNSSELLER"
NOTIFICATION_SECRET = "returns-notification-secret-01"
SKUS = [f"RET-SKU-{i}" for i in range(1, 7)]  # WMS SKU = merchant SKU; enough for orders of up to 4 lines
STOCK = 500
RECEIVE = 3  # DELIVERED returns received at the end
SHIPMENT_WRITES = ["processShipment", "createPackages", "retrieveShippingOptions", "generateInvoice",
                   "retrieveInvoice", "generateShipLabels", "updatePackageStatus", "getShipment", "getShipments"]
STEPS = ["confirm", "pack", "label", "ship"]

# Amazon's return lifecycle as the simulator enforces it, without PROCESSED and PARTIALLY_PROCESSED: the test walks
# returns up to DELIVERED, the seller's side being FlexBridge's receive.
TRANSITIONS = {
    "CREATED": ["CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER", "CUSTOMER_DROPPED_OFF", "CANCELLED", "REJECTED"],
    "CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER": ["CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER", "CUSTOMER_CANCELLED_PICK_UP",
                                                  "CUSTOMER_RESCHEDULED_PICK_UP", "CANCELLED"],
    "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER": ["PICKED_FROM_CUSTOMER", "CUSTOMER_CANCELLED_PICK_UP",
                                              "CUSTOMER_RESCHEDULED_PICK_UP", "REJECTED"],
    "CUSTOMER_RESCHEDULED_PICK_UP": ["CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER", "CUSTOMER_CANCELLED_PICK_UP", "CANCELLED"],
    "CUSTOMER_DROPPED_OFF": ["IN_TRANSIT"],
    "PICKED_FROM_CUSTOMER": ["IN_TRANSIT"],
    "IN_TRANSIT": ["OUT_FOR_DELIVERY", "REPLANNED"],
    "REPLANNED": ["IN_TRANSIT", "OUT_FOR_DELIVERY"],
    "OUT_FOR_DELIVERY": ["DELIVERED", "REPLANNED"],
}
MAIN = {"CREATED": "CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER",
        "CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER": "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER",
        "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER": "PICKED_FROM_CUSTOMER",
        "CUSTOMER_RESCHEDULED_PICK_UP": "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER",
        "CUSTOMER_DROPPED_OFF": "IN_TRANSIT", "PICKED_FROM_CUSTOMER": "IN_TRANSIT", "IN_TRANSIT": "OUT_FOR_DELIVERY",
        "REPLANNED": "OUT_FOR_DELIVERY", "OUT_FOR_DELIVERY": "DELIVERED"}
CANCELLED = {"CANCELLED", "CUSTOMER_CANCELLED_PICK_UP"}
TERMINAL = CANCELLED | {"REJECTED"}
DETOURS_UNTIL = 12  # from this round on every return takes the main path, so that the walk ends


def main():
    rig = Rig(BINARY, "flexbridge-returns-", simulator_args=["--no-throttle"], serve_env={
        "FLEXBRIDGE_RETURNS_PAGE_SIZE": "5", "FLEXBRIDGE_RETURNS_POLL_SECONDS": "2",
        "FLEXBRIDGE_STATUS_POLL_SECONDS": "2",
        "FLEXBRIDGE_NOTIFICATION_SECRET": NOTIFICATION_SECRET})
    sim, api, api_port = rig.sim, rig.api, rig.api_port
    rng = random.Random(SEED)
    print(f"seed {SEED} (RETURNS_SEED={SEED} makes the same choices again)")
    try:
        node = rig.serve()
        started = time.time()

        def left():
            return BUDGET - (time.time() - started)

        def state():
            status, body = call("GET", f"{sim}/_simulator/state")
            expect(status == 200, f"simulator state: {status} {body}")
            return body

        def wait(what, done, seconds=ROUND_SECONDS, report=None):
            """Polls done() until it is true, for at most `seconds` (and what is left of the budget)."""
            bound = min(seconds, left())
            limit = time.time() + bound
            while not done():
                if time.time() >= limit:
                    if report:
                        report()
                    print(f"  work folder (database and logs): {rig.work}", file=sys.stderr)
                    expect(False, f"{what}: not within {max(0, bound):.0f} s ({time.time() - started:.0f} s of the "
                                  f"{BUDGET} s budget gone)")
                time.sleep(0.3)

        # Phase 1: a seller whose SKUs have stock at Amazon, and orders on them worked to SHIPPED.
        cid, location_id, _ = rig.connect_seller(MERCHANT, "Returns test")
        status, _ = call("POST", f"{sim}/_simulator/notifications/destinations", {
            "url": f"http://127.0.0.1:{api_port}/notifications/amazon", "headerName": "x-api-key", "secret": NOTIFICATION_SECRET})
        expect(status == 201, f"notification destination: {status}")
        # Rates above Amazon's defaults for the shipment calls, only to keep the run short; listReturns keeps Amazon's.
        for operation in SHIPMENT_WRITES:
            status, body = call("PUT", f"{sim}/_simulator/rate-limits/{operation}", {"rate": 100, "burst": 200})
            expect(status == 200, f"rate limit for {operation}: {status} {body}")
        status, body = call("POST", f"{sim}/_simulator/listings", {"merchantId": MERCHANT, "marketplaceId": MARKETPLACE, "skus": SKUS})
        expect(status == 201, f"simulator listings: {status} {body}")
        listings = "clientSkuId,channelSerialNo,channelSkuId,marketplace\n" + "".join(f"{s},B000000001,{s},\n" for s in SKUS)
        status, body = call("POST", f"{api}/connections/{cid}/listings", listings, "text/csv")
        expect(status == 200 and body["imported"] == len(SKUS), f"listings: {status} {body}")
        status, body = call("PUT", f"{api}/stock", {"items": [{"hub": "HUB1", "sku": s, "quantity": STOCK} for s in SKUS]})
        expect(status == 202, f"stock: {status} {body}")

        def amazon_stock():
            return {s["skuId"]: s for s in state()["stock"] if s["locationId"] == location_id and s["channel"] == "MFN"}

        wait(f"stock of {STOCK} for {SKUS} at Amazon", lambda: all(
            amazon_stock().get(s, {}).get("quantity") == STOCK for s in SKUS))

        status, body = call("POST", f"{sim}/_simulator/orders", {"merchantId": MERCHANT, "locationId": location_id, "count": ORDERS})
        expect(status == 201 and len(body["shipmentIds"]) == ORDERS, f"generate orders: {status} {body}")
        shipment_ids = body["shipmentIds"]
        submitted = collections.defaultdict(set)  # shipment -> steps accepted by FlexBridge
        last_answer = {}

        def submit_all():
            for shipment_id in shipment_ids:
                steps = submitted[shipment_id]
                if len(steps) == len(STEPS):
                    continue
                status, detail = call("GET", f"{api}/orders/{shipment_id}", timeout=10)
                if status != 200:
                    expect(status == 404, f"order {shipment_id}: {status} {detail}")
                    last_answer[shipment_id] = "not in FlexBridge yet"
                    continue
                shipment = json.loads(detail["shipment"])
                for step in STEPS:
                    if step in steps:
                        continue
                    body = {"type": step}
                    if step == "pack" and packages_for(shipment):
                        body["packages"] = packages_for(shipment)
                    status, answer = call("POST", f"{api}/orders/{shipment_id}/commands", body,
                                          headers={"Idempotency-Key": f"{shipment_id}:{step}"}, timeout=10)
                    expect(status in (200, 202), f"{step} on {shipment_id}: {status} {answer}")
                    steps.add(step)
            return all(len(submitted[s]) == len(STEPS) for s in shipment_ids)

        wait(f"{ORDERS} orders in FlexBridge and their commands accepted", submit_all, BUDGET, lambda: print(
            f"  orders without every command: {[(s, last_answer.get(s)) for s in shipment_ids if len(submitted[s]) < 4][:10]}",
            file=sys.stderr))

        def shipped():
            shipments = {s["id"]: s for s in state()["shipments"] if s["id"] in shipment_ids}
            return all(shipments.get(s, {}).get("status") == "SHIPPED" for s in shipment_ids)

        def report_unshipped():
            shipments = {s["id"]: s for s in state()["shipments"]}
            for shipment_id in [s for s in shipment_ids if shipments.get(s, {}).get("status") != "SHIPPED"][:8]:
                _, commands = call("GET", f"{api}/orders/{shipment_id}/commands", timeout=10)
                print(f"  {shipment_id}: {shipments.get(shipment_id, {}).get('status')} at the simulator; "
                      f"commands: {commands}", file=sys.stderr)

        wait(f"{ORDERS} orders SHIPPED at the simulator", shipped, BUDGET, report_unshipped)
        shipments = {s["id"]: s for s in state()["shipments"] if s["id"] in shipment_ids}
        print(f"{time.time() - started:5.1f} s: {ORDERS} orders shipped through FlexBridge "
              f"({sum(len(s['lines']) for s in shipments.values())} line items)")

        # Phase 2: returns, walked along their lifecycle under listReturns faults and SIGKILL.
        for operation in ["listReturns", "getReturn"]:
            status, body = call("PUT", f"{sim}/_simulator/faults", {
                "operation": operation, "internalErrorRate": 0.05, "unavailableRate": 0.02, "dropAfterApplyRate": 0})
            expect(status == 200, f"faults for {operation}: {status} {body}")
        rejects = set(rng.sample(shipment_ids, max(1, ORDERS // 8)))
        returned_as = {}  # return id -> returnType asked for
        for shipment_id in shipment_ids:
            kind = "REJECT" if shipment_id in rejects else "CUSTOMER"
            status, body = call("POST", f"{sim}/_simulator/returns", {"shipmentId": shipment_id, "returnType": kind})
            expect(status == 201 and len(body["returns"]) == len(shipments[shipment_id]["lines"]),
                   f"returns for {shipment_id} ({len(shipments[shipment_id]['lines'])} lines): {status} {body}")
            for item in body["returns"]:
                returned_as[item["id"]] = kind
        # A few customer returns always take the main path, so that some are DELIVERED for receiving.
        keepers = set(sorted(r for r, kind in returned_as.items() if kind == "CUSTOMER")[:RECEIVE])
        current = {r: "CREATED" for r in returned_as}
        print(f"{time.time() - started:5.1f} s: {len(current)} returns created ({len(rejects)} shipments as REJECT)")

        def seen_by_flexbridge(round_number):
            unseen = dict(current)
            last = {}

            def done():
                for return_id, expected in list(unseen.items()):
                    try:
                        status, body = call("GET", f"{api}/returns/{return_id}", timeout=10)
                    except OSError as error:
                        last[return_id] = repr(error)
                        return False
                    if status == 200 and body["return"]["status"] == expected:
                        del unseen[return_id]
                    else:
                        last[return_id] = f"{status} {body['return']['status'] if status == 200 else str(body)[:200]}"
                return not unseen

            def report():
                print(f"  {len(unseen)} returns not in their status at Amazon in FlexBridge:", file=sys.stderr)
                for return_id in list(unseen)[:10]:
                    print(f"  return {return_id}: {unseen[return_id]} at the simulator, FlexBridge: {last.get(return_id)}",
                          file=sys.stderr)

            wait(f"round {round_number}: FlexBridge showing every return in its status at Amazon", done, ROUND_SECONDS, report)

        seen_by_flexbridge(0)
        kill_rounds = set(range(1, 2 * KILLS, 2))  # odd rounds: the walk takes at least 6 for the returns kept on the main path
        kills_done, round_number = 0, 0
        while any(s not in TERMINAL and s != "DELIVERED" for s in current.values()):
            round_number += 1
            for return_id in sorted(current):
                now_status = current[return_id]
                if now_status in TERMINAL or now_status == "DELIVERED":
                    continue
                choices = TRANSITIONS[now_status]
                if return_id in keepers or round_number >= DETOURS_UNTIL:
                    weights = [1 if c == MAIN[now_status] else 0 for c in choices]
                else:
                    weights = [12 if c == MAIN[now_status] else 1 if c in TERMINAL else 2 for c in choices]
                target = rng.choices(choices, weights)[0]
                status, body = call("POST", f"{sim}/_simulator/returns/{return_id}/status", {"status": target})
                expect(status == 200 and body["status"] == target, f"return {return_id}: {now_status} -> {target}: {status} {body}")
                current[return_id] = target
            if round_number in kill_rounds:
                os.kill(node.pid, signal.SIGKILL)
                node.wait()
                kills_done += 1
                node = rig.serve()
                print(f"{time.time() - started:5.1f} s: round {round_number}: SIGKILL {kills_done} of {KILLS} right after the changes")
            seen_by_flexbridge(round_number)
        expect(kills_done == KILLS, f"the walk ended after {round_number} rounds, before kill {kills_done + 1} of {KILLS}; "
                                    f"kills fall in odd rounds, lower RETURNS_KILLS")
        outcome = collections.Counter(current.values())
        print(f"{time.time() - started:5.1f} s: walk over after {round_number} rounds: {dict(outcome)}")

        # 1. Every return listed once, linked right, in its status at Amazon.
        truth = {r["id"]: r for r in state()["returns"]}
        expect(set(truth) == set(current), f"the simulator holds returns {sorted(set(truth) ^ set(current))[:10]} "
                                           f"the test did not make, or lacks some it made")
        for return_id, r in truth.items():
            expect(r["status"] == current[return_id], f"return {return_id}: {r['status']} at the simulator, the test moved it to {current[return_id]}")
        listed, after, pages = {}, None, 0
        while True:
            query = urllib.parse.urlencode({"limit": 7, **({"after": after} if after else {})})
            status, page = call("GET", f"{api}/returns?{query}")
            expect(status == 200, f"GET /returns?{query}: {status} {page}")
            pages += 1
            expect(len(page["returns"]) <= 7, f"page {pages} holds {len(page['returns'])} returns, limit 7")
            for item in page["returns"]:
                expect(item["returnId"] not in listed, f"return {item['returnId']} listed twice (page {pages})")
                listed[item["returnId"]] = item
            after = page.get("next")
            if not after:
                break
            expect(pages <= len(truth), f"GET /returns still has a next page after {pages} pages")
        expect(not set(listed) - set(truth), f"FlexBridge lists returns Amazon does not have: {sorted(set(listed) - set(truth))[:10]}")
        expect(not set(truth) - set(listed), f"returns at Amazon FlexBridge does not list: {sorted(set(truth) - set(listed))[:10]}")
        for return_id, r in truth.items():
            item = listed[return_id]
            for ours, theirs in [("shipmentId", "shipmentId"), ("rmaId", "rmaId"), ("merchantSku", "merchantSku"),
                                 ("units", "units"), ("returnLocationId", "returnLocationId"), ("status", "status")]:
                expect(item[ours] == r[theirs], f"return {return_id}: {ours} {item[ours]!r} in FlexBridge, {r[theirs]!r} at Amazon")
            expect(item["returnType"] == returned_as[return_id],
                   f"return {return_id}: returnType {item['returnType']!r} in FlexBridge, created as {returned_as[return_id]}")
            expect(item["connectionId"] == cid, f"return {return_id}: connectionId {item['connectionId']!r}, expected {cid}")
        for field, value in [("status", "DELIVERED"), ("shipmentId", shipment_ids[0]), ("rmaId", truth[sorted(truth)[0]]["rmaId"])]:
            status, page = call("GET", f"{api}/returns?{urllib.parse.urlencode({field: value, 'limit': 500})}")
            expect(status == 200, f"GET /returns?{field}={value}: {status} {page}")
            got = sorted(item["returnId"] for item in page["returns"])
            wanted = sorted(r["id"] for r in truth.values() if r[field] == value)
            expect(got == wanted, f"GET /returns?{field}={value}: {got}, Amazon has {wanted}")
        print(f"{len(listed)} returns listed in {pages} pages of 7, each with Amazon's shipment, RMA, SKU, units, location, "
              f"type and status; the status, shipmentId and rmaId filters agree")

        # 2. Each return's history in FlexBridge is its history at Amazon.
        seen_statuses = collections.Counter()
        for return_id, r in truth.items():
            status, body = call("GET", f"{api}/returns/{return_id}")
            expect(status == 200, f"GET /returns/{return_id}: {status} {body}")
            ours = [h["status"] for h in body["history"]]
            theirs = [h["status"] for h in r["history"]]
            expect(ours == theirs, f"return {return_id}: history in FlexBridge {ours}, at Amazon {theirs}")
            document = json.loads(body["document"])
            expect(document.get("id") == return_id and document.get("status") == r["status"],
                   f"return {return_id}: Amazon's document names {document.get('id')} in {document.get('status')}")
            seen_statuses.update(theirs)
        print(f"{sum(seen_statuses.values())} status changes in FlexBridge's histories, each as at Amazon: {dict(seen_statuses)}")

        # 3. Receiving puts sellable units back on sale, once.
        delivered = sorted(r for r, s in current.items() if s == "DELIVERED")
        expect(len(delivered) >= RECEIVE, f"only {len(delivered)} returns DELIVERED, {RECEIVE} needed")
        to_receive = rng.sample(delivered, RECEIVE)

        def levels(sku):
            """(FlexBridge's HUB1 level, its item at the location, Amazon's stock) for a SKU."""
            status, body = call("GET", f"{api}/stock/{sku}")
            expect(status == 200, f"GET /stock/{sku}: {status} {body}")
            hub = next((h["quantity"] for h in body["hubs"] if h["hub"] == "HUB1"), None)
            item = next((i for i in body["locations"] if i["locationId"] == location_id and i["channel"] == "MFN"), None)
            expect(hub is not None and item is not None, f"GET /stock/{sku}: no HUB1 level or no item at {location_id}: {body}")
            return hub, item, amazon_stock().get(sku, {})

        def settled(sku):
            _, item, held = levels(sku)
            return not item["pending"] and item.get("lastSent", {}).get("quantity") == held.get("quantity")

        def receive(return_id, items, key):
            return call("POST", f"{api}/returns/{return_id}/receive", {"items": items, "restock": True},
                        headers={"Idempotency-Key": key})

        first = to_receive[0]
        units = truth[first]["units"]
        refused = [([{"grade": "sellable", "quantity": units + 1}], "more units than returned"),
                   ([{"grade": "sellable", "quantity": units}, {"grade": "defective", "quantity": 1}], "more units than returned"),
                   ([{"grade": "like_new", "quantity": units}], "an unknown grade")]
        if units > 1:
            refused.append(([{"grade": "sellable", "quantity": units - 1}], "fewer units than returned"))
        for n, (items, why) in enumerate(refused):
            status, body = receive(first, items, f"{first}:refused:{n}")
            expect(status == 400, f"receive {first} ({units} units) with {why} {items}: {status} {body}, expected 400")
        status, body = receive("NOSUCHRETURN", [{"grade": "sellable", "quantity": 1}], "nosuchreturn")
        expect(status == 404, f"receive an unknown return: {status} {body}, expected 404")
        status, body = call("GET", f"{api}/returns/{first}")
        expect(status == 200 and not body["return"].get("receipt"), f"return {first} has a receipt after refused receives: {body}")

        for return_id in to_receive:
            r = truth[return_id]
            sku, units = r["merchantSku"], r["units"]
            wait(f"return {return_id}: {sku} synced at Amazon before receiving", lambda: settled(sku))
            hub_before, _, held = levels(sku)
            before = held["quantity"]
            items = [{"grade": "sellable", "quantity": units}]
            status, received = receive(return_id, items, f"{return_id}:receive")
            expect(status == 200, f"receive {return_id}: {status} {received}")
            receipt = received.get("receipt") or {}
            graded = [(i.get("grade"), i.get("quantity")) for i in receipt.get("items", [])]
            expect(received["returnId"] == return_id and receipt.get("restockedHub") == "HUB1"
                   and receipt.get("restockedUnits") == units and graded == [("sellable", units)],
                   f"receive {return_id} ({units} units of {sku}): receipt {receipt}")

            def raised():
                hub, _, held = levels(sku)
                expect(held.get("quantity", 0) <= before + units,
                       f"return {return_id}: {sku} at Amazon went from {before} to {held.get('quantity')}, {units} received")
                return hub == hub_before + units and held.get("quantity") == before + units

            wait(f"return {return_id}: {units} units of {sku} back on sale at Amazon (from {before})", raised)
            status, again = receive(return_id, items, f"{return_id}:receive")
            expect(status == 200 and again.get("receipt") == receipt,
                   f"receive {return_id} again with the same key: {status} {again}, the first receipt {receipt}")
            status, body = receive(return_id, items, f"{return_id}:receive-twice")
            expect(status == 409, f"receive {return_id} with another key: {status} {body}, expected 409")
            wait(f"return {return_id}: {sku} synced at Amazon after the repeated receives", lambda: settled(sku))
            hub, _, held = levels(sku)
            expect(hub == hub_before + units and held.get("quantity") == before + units,
                   f"return {return_id}: after repeating the receive {sku} is {hub} in HUB1 (was {hub_before}) and "
                   f"{held.get('quantity')} at Amazon (was {before}); {units} units received once")
        print(f"{RECEIVE} returns received: their units back in HUB1 and at Amazon once; a repeat with the same key "
              f"answered the same receipt, another key 409, bad items 400, an unknown return 404")

        # 4. The event feed.
        events, cursor = [], 0
        while True:
            status, page = call("GET", f"{api}/events?after={cursor}&limit=1000")
            expect(status == 200, f"events after {cursor}: {status} {page}")
            if not page["events"]:
                break
            events += page["events"]
            cursor = page["events"][-1]["sequence"]
        ids = collections.Counter(e["id"] for e in events)
        expect(all(n == 1 for n in ids.values()), f"events sharing an id: {[i for i, n in ids.items() if n > 1][:10]}")
        by_return = collections.defaultdict(list)
        for event in events:
            if event["type"].startswith("return."):
                expect(event.get("subject") in truth and event["data"].get("returnId") == event["subject"],
                       f"event {event['id']} ({event['type']}) for an unknown return or with another returnId: {event}")
                by_return[event["subject"]].append(event)
        for return_id, r in truth.items():
            mine = by_return[return_id]
            types = collections.Counter(e["type"] for e in mine)
            expect(types["return.created"] == 1, f"return {return_id}: {types['return.created']} return.created events")
            expect(mine[0]["type"] == "return.created", f"return {return_id}: first event {mine[0]['type']}")
            changes = [e for e in mine if e["type"] in ("return.created", "return.updated", "return.cancelled")]
            statuses = [e["data"]["status"] for e in changes]
            history = [h["status"] for h in r["history"]]
            expect(statuses == history, f"return {return_id}: statuses in events {statuses}, at Amazon {history}")
            for prior, event in zip(changes, changes[1:]):
                expect(event["data"].get("previousStatus") == prior["data"]["status"],
                       f"return {return_id}: {event['type']} to {event['data']['status']} says previousStatus "
                       f"{event['data'].get('previousStatus')}, the event before says {prior['data']['status']}")
            cancelled = 1 if r["status"] in CANCELLED else 0
            expect(types["return.cancelled"] == cancelled,
                   f"return {return_id} ({r['status']} at Amazon): {types['return.cancelled']} return.cancelled events, expected {cancelled}")
            if types["return.cancelled"]:
                expect(changes[-1]["type"] == "return.cancelled", f"return {return_id}: return.cancelled is not its last change")
            received = 1 if return_id in to_receive else 0
            expect(types["return.received"] == received,
                   f"return {return_id}: {types['return.received']} return.received events, expected {received}")
        print(f"{len(events)} events, no id twice; one return.created per return, every status change in order, "
              f"{sum(1 for r in truth.values() if r['status'] in CANCELLED)} return.cancelled, {RECEIVE} return.received")

        # 5. No crash but the ones the test caused.
        with open(os.path.join(rig.work, "serve.log"), errors="replace") as log:
            crashes = [line.strip() for line in log if "panic" in line.lower() or "Fatal error" in line]
        expect(not crashes, f"serve's log: {crashes[:5]}")
        print(f"{time.time() - started:.0f} s: {len(truth)} returns, {len(seen_statuses)} statuses seen "
              f"({sum(seen_statuses.values())} changes), {kills_done} kills, seed {SEED}")
    finally:
        rig.stop()

if __name__ == "__main__":
    main()
