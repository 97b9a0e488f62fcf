#!/usr/bin/env python3
"""Kills `flexbridge serve` with SIGKILL again and again while Send to Amazon plans go through Amazon's steps
(create, packing, placement, transportation, delivery windows, confirmation, labels), restarts it each time, and
checks against the simulator's ground truth that every plan reached its labels, that Amazon holds exactly one plan
per FlexBridge plan (created once), and that no confirmation (packing, placement, transportation, delivery window)
reached Amazon twice.

The WMS (this script) chooses each shipment's carrier when a plan waits for it: the seller's own carrier for even
plans (a delivery window is confirmed first), Amazon's partnered carrier for odd ones; the cheapest placement is
taken by the connection's setting. Amazon's operations each take `INBOUND_CRASH_OPERATION_SECONDS`, so that kills
land while operations are in flight as well as between calls.

Usage: kill_during_inbound_plans.py FLEXBRIDGE_BINARY   (Tests/crash/run.sh builds it and calls this)
Environment: INBOUND_CRASH_PLANS (6), INBOUND_CRASH_OPERATION_SECONDS (0.4).
"""
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import urllib.request  # noqa: E402

from harness import API_KEYS, MARKETPLACE, Rig, call, expect, origin  # noqa: E402

BINARY = sys.argv[1]
PLANS = int(os.environ.get("INBOUND_CRASH_PLANS", "6"))
OPERATION_SECONDS = float(os.environ.get("INBOUND_CRASH_OPERATION_SECONDS", "0.4"))
MERCHANT = "A1INBOUNDCRASH"
SKUS = ["FBA-A", "FBA-B", "FBA-C"]


def main():
    rig = Rig(BINARY, "flexbridge-inbound-crash-")
    sim, api = rig.sim, rig.api
    started = time.time()
    try:
        node = rig.serve()
        cid, _, _ = rig.connect_seller(MERCHANT, "Inbound crash test")
        status, body = call("PUT", f"{sim}/_simulator/fba-inventory", {
            "merchantId": MERCHANT, "marketplaceId": MARKETPLACE,
            "items": [{"sku": sku, "fulfillable": 1} for sku in SKUS]})
        expect(status == 200, f"FBA stock: {status} {body}")
        status, body = call("PUT", f"{sim}/_simulator/inbound-operations", {"seconds": OPERATION_SECONDS})
        expect(status == 200, f"operation time: {status} {body}")
        listings = "clientSkuId,channelSerialNo,channelSkuId,marketplace,fulfilledBy\n" + "".join(
            f"W-{sku},B00000000{i},{sku},,AMAZON\n" for i, sku in enumerate(SKUS))
        status, body = call("POST", f"{api}/connections/{cid}/listings", listings, "text/csv")
        expect(status == 200, f"listings: {status} {body}")
        status, body = call("PUT", f"{api}/connections/{cid}/settings", {"inboundPlacement": "cheapest"})
        expect(status == 200, f"settings: {status} {body}")

        plans = []
        for n in range(PLANS):
            first, second = SKUS[n % 3], SKUS[(n + 1) % 3]
            status, plan = call("POST", f"{api}/connections/{cid}/inbound-plans", {
                "reference": f"PO-{n}", "marketplaceId": MARKETPLACE,
                "sourceAddress": {"name": "Hub one", "addressLine1": "1 Dock Road", "city": "Bengaluru",
                                  "postalCode": "560001", "countryCode": "IN", "phoneNumber": "+91 80 0000 0000"},
                "lines": [{"sku": f"W-{first}", "quantity": 10 + n}, {"sku": f"W-{second}", "quantity": 4}],
                "boxes": [
                    {"weight": 6, "length": 40, "width": 30, "height": 20,
                     "items": [{"sku": f"W-{first}", "quantity": 10 + n}]},
                    {"weight": 3, "length": 30, "width": 20, "height": 20,
                     "items": [{"sku": f"W-{second}", "quantity": 4}]}]})
            expect(status == 202, f"plan {n}: {status} {plan}")
            plans.append(plan["id"])

        def read(plan_id):
            try:
                status, plan = call("GET", f"{api}/inbound-plans/{plan_id}", timeout=5)
                return plan if status == 200 else None
            except OSError:
                return None

        def choose(index, plan):
            # Even plans by the seller's own carrier, odd by Amazon's partnered carrier.
            partnered = index % 2 == 1
            selections = []
            for shipment in plan["shipments"]:
                options = [o for o in plan["transportationOptions"] if o["shipmentId"] == shipment["id"]
                           and (o["shippingSolution"] == "AMAZON_PARTNERED_CARRIER") == partnered
                           and o["shippingMode"] == "GROUND_SMALL_PARCEL"]
                expect(options, f"plan {index}: no {'partnered' if partnered else 'own'} carrier option: {plan}")
                selections.append({"shipmentId": shipment["id"], "transportationOptionId": options[0]["id"]})
            try:
                call("POST", f"{api}/inbound-plans/{plan['id']}/transportation", {"selections": selections}, timeout=5)
            except OSError:
                pass  # serve is down; chosen next time round

        rng = random.Random(11)
        kills, steps_hit = 0, set()
        next_kill = time.time() + rng.uniform(0.5, 2.5)
        deadline = time.time() + 600
        while True:
            states = [read(p) for p in plans]
            for index, plan in enumerate(states):
                if plan and plan["status"] == "waiting" and plan["step"] == "chooseTransportation":
                    choose(index, plan)
                expect(not plan or plan["status"] != "failed", f"plan {index} failed: {plan}")
            if all(plan and plan["status"] == "completed" for plan in states):
                break
            expect(time.time() < deadline, f"plans not completed within 600 s: "
                   f"{[(p or {}).get('step') for p in states]} (work folder {rig.work})")
            if time.time() >= next_kill:
                steps_hit |= {p["step"] for p in states if p and p["status"] == "working"}
                node.send_signal(signal.SIGKILL)
                node.wait()
                kills += 1
                node = rig.serve()
                next_kill = time.time() + rng.uniform(0.3, 2.5)
            time.sleep(0.1)
        print(f"{time.time() - started:5.1f} s: {PLANS} plans from stock order to labels, serve killed {kills} times "
              f"with plans at steps {sorted(steps_hit)}")
        expect(kills >= 5, f"only {kills} kills: the plans went too fast to test anything")

        _, truth = call("GET", f"{sim}/_simulator/state")
        at_amazon = [p for p in truth["inboundPlans"] if p["merchantId"] == MERCHANT]
        for index, plan_id in enumerate(plans):
            plan = read(plan_id)
            mine = [p for p in at_amazon if p["name"] == f"FlexBridge {plan_id}"]
            expect(len(mine) == 1, f"plan {index}: {len(mine)} plans at Amazon for one plan: {mine}")
            amazon = mine[0]
            expect(amazon["inboundPlanId"] == plan["amazonPlanId"], f"plan {index}: another plan adopted")
            expect(amazon["createCalls"] == 1, f"plan {index}: created {amazon['createCalls']} times")
            calls = amazon["confirmCalls"]
            windows = len(plan["shipments"]) if index % 2 == 0 else 0
            expect(calls == {"packing": 1, "placement": 1, "transportation": 1, "deliveryWindow": windows},
                   f"plan {index}: confirmations {calls}, expected one each and {windows} delivery windows")
            for shipment in plan["shipments"]:
                url = f"{api}/inbound-plans/{plan_id}/shipments/{shipment['id']}/labels"
                request = urllib.request.Request(url, headers={"Authorization": f"Bearer {API_KEYS[origin(url)]}"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    expect(response.read().startswith(b"%PDF"), f"plan {index}: labels are not a PDF")
        print(f"each plan created once at Amazon, each confirmation sent once, every shipment's labels kept")
        # Each node names itself to Amazon: the simulator's request log tells which node made each call.
        _, log = call("GET", f"{sim}/_simulator/requests")
        agents = {r.get("userAgent") or "" for r in log if r.get("merchantID") == MERCHANT}
        agents.discard("flexbridge-tests/1.0")  # this script's own calls (the location)
        unnamed = [agent for agent in agents if "; Node=" not in agent]
        expect(agents and not unnamed, f"calls without the node's name: {unnamed[:3]}")
        print(f"{len(agents)} nodes named in Amazon's request log (one per restart)")
    finally:
        rig.stop()


if __name__ == "__main__":
    main()
