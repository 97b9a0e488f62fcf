#!/usr/bin/env python3
"""Orders under chaos: the simulator generates orders and fails 5% of shipment calls with 500, 2% with 503 and
holds 3% of answers after applying the call until the client times out (10% in all); FlexBridge is killed with SIGKILL and
restarted several times while a WMS stand-in confirms, packs, labels and ships every order through the API (each
command with an idempotency key, resent after every failure) and cancels some at the marketplace.

Checks, against the simulator's ground truth and request log:
- every shipment appears exactly once as order.created in the event feed;
- every order asked to ship is SHIPPED at the simulator;
- no state change was applied twice: per shipment and write (and per package for handover), at most one call
  answered 2xx or dropped after applying, and no write refused with 409 except on an order cancelled meanwhile;
- every marketplace cancellation is reflected in FlexBridge's order and event feed.

Usage: orders_chaos.py FLEXBRIDGE_BINARY   (Tests/chaos/run.sh builds it and calls this)
Environment: CHAOS_ORDERS (1000), CHAOS_KILLS (4), CHAOS_SECONDS (budget, 900).
"""
import collections
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Rig, call, expect, packages_for  # noqa: E402

BINARY = sys.argv[1]
ORDERS = int(os.environ.get("CHAOS_ORDERS", "1000"))
KILLS = int(os.environ.get("CHAOS_KILLS", "4"))
BUDGET = int(os.environ.get("CHAOS_SECONDS", "900"))
MERCHANT = "A1CHAOSSELLER"
NOTIFICATION_SECRET = "chaos-notification-secret-0123"
FAULTED = ["getShipments", "getShipment", "processShipment", "createPackages", "retrieveShippingOptions",
           "generateInvoice", "retrieveInvoice", "generateShipLabels", "updatePackageStatus"]
WRITES = {"processShipment", "createPackages", "updatePackage", "generateInvoice", "generateShipLabels", "updatePackageStatus"}
STEPS = ["confirm", "pack", "label", "ship"]


def main():
    rig = Rig(BINARY, "flexbridge-chaos-", simulator_args=["--no-throttle"], serve_args=["--node-id", "chaos-node"],
              serve_env={"FLEXBRIDGE_NOTIFICATION_SECRET": NOTIFICATION_SECRET})
    sim, api, api_port = rig.sim, rig.api, rig.api_port
    try:
        node = rig.serve()
        _, location_id, amazon_headers = rig.connect_seller(MERCHANT, "Chaos test")
        status, _ = call("POST", f"{sim}/_simulator/notifications/destinations", {
            "url": f"http://127.0.0.1:{api_port}/notifications/amazon", "headerName": "x-api-key", "secret": NOTIFICATION_SECRET})
        expect(status == 201, f"notification destination: {status}")
        # Rates well above Amazon's defaults (which allow about 0.4 orders a second per seller through the whole
        # flow), advertised in x-amzn-RateLimit-Limit as Amazon does, so that 1,000 orders fit in a CI run.
        for operation in FAULTED:
            status, body = call("PUT", f"{sim}/_simulator/rate-limits/{operation}", {"rate": 100, "burst": 200})
            expect(status == 200, f"rate limit for {operation}: {status} {body}")
        for operation in FAULTED:
            status, body = call("PUT", f"{sim}/_simulator/faults", {
                "operation": operation, "internalErrorRate": 0.05, "unavailableRate": 0.02, "dropAfterApplyRate": 0.03})
            expect(status == 200, f"faults for {operation}: {status} {body}")

        started = time.time()
        generated = 0
        cursor = 0
        created = collections.Counter()
        cancelled_events = set()
        submitted = collections.defaultdict(set)  # shipment -> steps accepted by FlexBridge
        cancel_asked, cancel_refused = set(), set()
        kills_done, next_kill = 0, started + 15
        submit_failures = 0
        last_failure = {}  # shipment -> what the last failed submission got, printed if the budget runs out

        def cancel_at_amazon(shipment_id):
            status, body = call("PATCH", f"{sim}/externalFulfillment/2024-09-11/shipments/{shipment_id}", {
                "updateType": "SHIPMENT_STATUS_CHANGE", "updates": {"status": "CANCELLED"}}, headers=amazon_headers)
            if status == 204:
                cancel_asked.add(shipment_id)
            elif status == 409:
                cancel_refused.add(shipment_id)
            else:
                expect(False, f"cancel {shipment_id}: {status} {body}")

        def truth():
            _, state = call("GET", f"{sim}/_simulator/state")
            return {s["id"]: s for s in state["shipments"] if s["merchantId"] == MERCHANT}

        while True:
            now = time.time()
            if now - started >= BUDGET:
                stuck = [s for s in created if not submitted[s] >= ({"confirm", "pack"} if int(s, 36) % 20 == 0 else set(STEPS))]
                for shipment_id in stuck[:10]:
                    print(f"  commands not all stored for {shipment_id}: stored {sorted(submitted[shipment_id])}, "
                          f"last failure {last_failure.get(shipment_id)}", file=sys.stderr)
                shipments = truth()
                unfinished = [s for s in shipments.values() if s["status"] not in ("SHIPPED", "CANCELLED", "DELIVERED")]
                unreflected = [s for s in shipments.values() if s["status"] == "CANCELLED" and s["id"] not in cancelled_events]
                print(f"  {len(shipments)} shipments at the simulator, {len(unfinished)} not shipped, {len(unreflected)} "
                      f"cancelled without order.cancelled", file=sys.stderr)
                for shipment in (unfinished + unreflected)[:8]:
                    _, detail = call("GET", f"{api}/orders/{shipment['id']}", timeout=10)
                    _, commands = call("GET", f"{api}/orders/{shipment['id']}/commands", timeout=10)
                    order = detail.get("order") if isinstance(detail, dict) else detail
                    print(f"  {shipment['id']}: {shipment['status']} at the simulator; FlexBridge: {order}; commands: "
                          f"{commands}", file=sys.stderr)
                print(f"  work folder (database and logs): {rig.work}", file=sys.stderr)
            expect(now - started < BUDGET, f"not done within {BUDGET} s: {len(created)} orders seen, "
                                           f"{sum(1 for s in submitted.values() if 'ship' in s)} with every command stored")
            if generated < ORDERS:
                count = min(50, ORDERS - generated)
                status, body = call("POST", f"{sim}/_simulator/orders", {"merchantId": MERCHANT, "locationId": location_id, "count": count})
                expect(status == 201, f"generate orders: {status} {body}")
                generated += count
            if kills_done < KILLS and now >= next_kill:
                node.send_signal(signal.SIGKILL)
                node.wait()
                kills_done += 1
                print(f"{now - started:5.1f} s: SIGKILL {kills_done} of {KILLS} ({len(created)} orders seen)")
                node = rig.serve()
                next_kill = time.time() + 12
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
                elif event["type"] == "order.command_failed" and int(event["subject"], 36) % 20 != 0:
                    # Faults and kills delay a command, never fail it: an order the test does not cancel must ship.
                    expect(False, f"a command failed on {event['subject']}: {event['data']} "
                                  f"(work folder with the database and logs: {rig.work})")
            # The WMS side: every order gets its four commands; one in twenty is cancelled at the marketplace after
            # confirmation and packing were asked. A failed submission is simply sent again with the same key.
            for shipment_id in list(created):
                steps = submitted[shipment_id]
                to_cancel = int(shipment_id, 36) % 20 == 0
                wanted = ["confirm", "pack"] if to_cancel else STEPS
                if all(step in steps for step in wanted):
                    continue
                try:
                    status, detail = call("GET", f"{api}/orders/{shipment_id}", timeout=10)
                    if status != 200:
                        last_failure[shipment_id] = f"GET order: {status} {str(detail)[:200]}"
                        continue
                    shipment = json.loads(detail["shipment"])
                    for step in wanted:
                        if step in steps:
                            continue
                        body = {"type": step}
                        if step == "pack":
                            packages = packages_for(shipment)
                            if packages:
                                body["packages"] = packages
                        status, answer = call("POST", f"{api}/orders/{shipment_id}/commands", body,
                                              headers={"Idempotency-Key": f"{shipment_id}:{step}"}, timeout=10)
                        if status in (200, 202):
                            steps.add(step)
                        elif status == 409 and "cancel" in str(answer):
                            steps.update(wanted)
                        else:
                            expect(status >= 500, f"{step} on {shipment_id}: {status} {answer}")
                            last_failure[shipment_id] = f"{step}: {status} {str(answer)[:200]}"
                            submit_failures += 1
                            break
                except OSError as error:
                    last_failure[shipment_id] = f"{error!r}"
                    submit_failures += 1
                    break
                if to_cancel and all(step in steps for step in wanted) and shipment_id not in cancel_asked | cancel_refused:
                    cancel_at_amazon(shipment_id)
            if generated == ORDERS and kills_done == KILLS and len(created) >= ORDERS:
                shipments = truth()
                open_orders = [s for s in shipments.values() if s["status"] not in ("SHIPPED", "CANCELLED", "DELIVERED")]
                if len(shipments) >= ORDERS and not open_orders:
                    status, page = call("GET", f"{api}/events?after={cursor}&limit=1000")
                    for event in page["events"]:
                        cursor = event["sequence"]
                        if event["type"] == "order.created":
                            created[event["subject"]] += 1
                        elif event["type"] == "order.cancelled":
                            cancelled_events.add(event["subject"])
                    if all(s["id"] in cancelled_events for s in shipments.values() if s["status"] == "CANCELLED"):
                        break
            time.sleep(0.3)

        elapsed = time.time() - started
        shipments = truth()
        print(f"{elapsed:.0f} s: {len(shipments)} shipments at the simulator, {KILLS} kills, {submit_failures} submissions resent")

        # 1. Exactly once in the feed.
        duplicates = [s for s, n in created.items() if n != 1]
        expect(not duplicates, f"order.created more than once: {duplicates[:10]}")
        missing = [s for s in shipments if s not in created]
        expect(not missing, f"shipments never announced: {missing[:10]}")
        print(f"order.created exactly once for each of {len(created)} shipments")

        # 2. Shipped, or cancelled at the marketplace.
        for shipment_id, shipment in shipments.items():
            if shipment_id in cancel_asked:
                expect(shipment["status"] == "CANCELLED", f"{shipment_id}: cancelled at the marketplace but {shipment['status']}")
            else:
                expect(shipment["status"] == "SHIPPED", f"{shipment_id}: asked to ship but {shipment['status']}")
        print(f"{sum(1 for s in shipments.values() if s['status'] == 'SHIPPED')} shipped, "
              f"{len(cancel_asked)} cancelled at the marketplace ({len(cancel_refused)} cancellations refused: already shipped)")

        # 3. No state change applied twice; no write refused for having been sent before.
        _, requests = call("GET", f"{sim}/_simulator/requests")
        applied = collections.Counter()
        conflicts = []
        faults = collections.Counter(r.get("fault") for r in requests if r.get("fault"))
        for request in requests:
            if request["operation"] not in WRITES:
                continue
            path = request["path"]
            shipment_id = path.split("/shipments/")[1].split("/")[0].split("?")[0]
            key = (request["operation"], path)
            if 200 <= request["status"] < 300 and request.get("fault") in (None, "dropAfterApply"):
                applied[key] += 1
            if request["status"] == 409 and shipments.get(shipment_id, {}).get("status") != "CANCELLED":
                conflicts.append((key, request.get("body")))
        twice = {key: n for key, n in applied.items() if n > 1 and "REGENERATE" not in key[1]}
        expect(not twice, f"state changes applied twice: {list(twice.items())[:10]}")
        expect(not conflicts, f"writes refused as already done: {conflicts[:10]}")
        print(f"{sum(applied.values())} state changes applied, none twice, none refused as a repeat; faults injected: {dict(faults)}")

        # 4. Cancellations reflected.
        cancelled = [s for s, shipment in shipments.items() if shipment["status"] == "CANCELLED"]
        for shipment_id in cancelled:
            status, detail = call("GET", f"{api}/orders/{shipment_id}")
            expect(status == 200 and detail["order"]["status"] == "CANCELLED", f"{shipment_id}: not cancelled in FlexBridge")
            expect(shipment_id in cancelled_events, f"{shipment_id}: no order.cancelled event")
        print(f"{len(cancelled)} cancellations reflected in orders and events")
    finally:
        rig.stop()

if __name__ == "__main__":
    main()
