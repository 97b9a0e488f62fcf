#!/usr/bin/env python3
"""Kills `flexbridge serve` with SIGKILL in the middle of an inventory sync, restarts it, and checks against the
simulator's ground truth that every SKU converges to its latest quantity and that no clientSequenceNumber applied
at Amazon was ever reused or lowered for an item.

Usage: kill_during_sync.py FLEXBRIDGE_BINARY   (Tests/crash/run.sh builds it and calls this)
"""
import json
import os
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import MARKETPLACE, Rig, call, expect  # noqa: E402

BINARY = sys.argv[1]
SKUS = int(os.environ.get("CRASH_SKUS", "20000"))
MERCHANT = "A1CRASHSELLER"


def main():
    rig = Rig(BINARY, "flexbridge-crash-")
    sim, api = rig.sim, rig.api
    try:
        node = rig.serve()
        # A seller, authorised; a location; SKUs listed at Amazon and in FlexBridge.
        cid, location_id, _ = rig.connect_seller(MERCHANT, "Crash test")
        skus = [f"CRASH-{i:06d}" for i in range(SKUS)]
        status, _ = call("POST", f"{sim}/_simulator/listings", {"merchantId": MERCHANT, "marketplaceId": MARKETPLACE, "skus": skus})
        expect(status == 201, f"simulator listings: {status}")
        listings = "clientSkuId,channelSerialNo,channelSkuId,marketplace\n" + "".join(f"{s},B000000001,{s},\n" for s in skus)
        status, body = call("POST", f"{api}/connections/{cid}/listings", listings, "text/csv")
        expect(status == 200 and body["imported"] == SKUS, f"listings: {status} {body}")

        def push(quantity):
            csv = "hub,sku,quantity\n" + "".join(f"HUB1,{s},{quantity(i)}\n" for i, s in enumerate(skus))
            status, body = call("PUT", f"{api}/stock", csv, "text/csv")
            expect(status == 202, f"stock: {status} {body}")

        def amazon():
            _, state = call("GET", f"{sim}/_simulator/state")
            return {s["skuId"]: s for s in state["stock"] if s["locationId"] == location_id}

        first = lambda i: 1 + i % 7
        latest = lambda i: 20 + i % 11
        push(first)
        time.sleep(6)
        push(latest)
        time.sleep(4)
        before_kill = amazon()
        done = sum(1 for i, s in enumerate(skus) if before_kill.get(s, {}).get("quantity") == latest(i))
        print(f"at the kill: {len(before_kill)} of {SKUS} SKUs written at Amazon, {done} at their latest quantity")
        expect(done < SKUS, "the sync had finished before the kill; raise CRASH_SKUS")
        node.send_signal(signal.SIGKILL)
        node.wait()

        # The restarted node takes its dead predecessor's leases at once: its first call to Amazon goes out within
        # 2 s of its start, not after the 30 s lease expiry.
        _, log = call("GET", f"{sim}/_simulator/requests")
        seen = log[-1]["sequence"] if log else 0
        spawned = time.time()
        rig.serve()
        first_call = None
        while first_call is None and time.time() - spawned < 60:
            _, fresh = call("GET", f"{sim}/_simulator/requests?after={seen}")
            if fresh:
                first_call = time.time() - spawned
            else:
                time.sleep(0.05)
        expect(first_call is not None and first_call < 2,
               f"the restarted node's first Amazon call came {first_call} s after its start (at most 2 s)")
        print(f"after the restart: first Amazon call within {first_call:.2f} s of the start")
        started = time.time()
        while True:
            held = amazon()
            done = sum(1 for i, s in enumerate(skus) if held.get(s, {}).get("quantity") == latest(i))
            if done == SKUS:
                break
            expect(time.time() - started < 300, f"only {done} of {SKUS} SKUs converged within 300 s of the restart")
            time.sleep(2)
        print(f"after the restart: all {SKUS} SKUs hold their latest quantity ({time.time() - started:.0f} s)")

        for sku, stock in before_kill.items():
            expect(held[sku]["clientSequenceNumber"] >= stock["clientSequenceNumber"], f"{sku}: sequence number lowered")

        # Every update Amazon applied, in the order it arrived: per item, numbers strictly increase.
        _, requests = call("GET", f"{sim}/_simulator/requests")
        last = {}
        applied = 0
        for request in requests:
            if request["operation"] != "batchInventory" or request["status"] != 207 or request.get("fault") or not request.get("body"):
                continue
            for item in json.loads(request["body"]).get("requests", []):
                query = urllib.parse.parse_qs(urllib.parse.urlparse(item["uri"]).query)
                if not item["uri"].startswith("/inventory/update"):
                    continue
                key = (query["locationId"][0], query["skuId"][0])
                number = item["body"]["clientSequenceNumber"]
                expect(number > last.get(key, -1), f"{key}: sequence number {number} sent after {last.get(key)}")
                last[key] = number
                applied += 1
        print(f"{applied} item updates checked: no sequence number reused or lowered")
    finally:
        rig.stop()

if __name__ == "__main__":
    main()
