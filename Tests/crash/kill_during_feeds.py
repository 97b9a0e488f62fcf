#!/usr/bin/env python3
"""Kills `flexbridge serve` with SIGKILL while JSON listings feeds carry MFN stock to Amazon, restarts it, and checks
against the simulator's ground truth that every merchant-fulfilled listing converges to the WMS's last quantity and
that no feed carried the same change twice.

The WMS changes every listing's quantity in `waves` (each wave's numbers differ from every other wave's), so each
wave is one backlog FlexBridge sends by feed; serve is killed after each wave, while its feed is being written,
submitted or processed. A change sent in two feeds would be applied twice at Amazon: each listing counts the feed
messages applied to it, which must never exceed the waves.

Usage: kill_during_feeds.py FLEXBRIDGE_BINARY   (Tests/crash/run.sh builds it and calls this)
Environment: FEED_CRASH_SKUS (20000), FEED_CRASH_WAVES (4).
"""
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import MARKETPLACE, Rig, call, expect  # noqa: E402

BINARY = sys.argv[1]
SKUS = int(os.environ.get("FEED_CRASH_SKUS", "20000"))
WAVES = int(os.environ.get("FEED_CRASH_WAVES", "4"))
MERCHANT = "A1FEEDCRASHSELLER"


def main():
    rig = Rig(BINARY, "flexbridge-feed-crash-", simulator_args=["--no-throttle"])
    sim, api = rig.sim, rig.api
    started = time.time()
    try:
        node = rig.serve()
        cid, _, _ = rig.connect_seller(MERCHANT, "Feed crash test")
        status, body = call("POST", f"{sim}/_simulator/listings-items", {
            "merchantId": MERCHANT, "count": SKUS, "prefix": "FEED-", "marketplaceIds": [MARKETPLACE], "quantity": 0})
        expect(status == 201, f"simulator listings: {status} {body}")
        status, body = call("PUT", f"{sim}/_simulator/feed-processing", {
            "queueSeconds": 0.5, "baseSeconds": 1, "secondsPerThousandMessages": 0.3})
        expect(status == 200, f"feed timing: {status} {body}")
        # The simulator numbers from 1: FEED-000001 … FEED-0N.
        skus = [f"FEED-{i:06d}" for i in range(1, SKUS + 1)]
        listings = "clientSkuId,channelSerialNo,channelSkuId,marketplace,fulfilledBy\n" + "".join(
            f"{s},B000000001,{s},,MERCHANT\n" for s in skus)
        status, body = call("POST", f"{api}/connections/{cid}/listings", listings, "text/csv")
        expect(status == 200 and body["imported"] == SKUS, f"listings: {status} {body}")
        status, body = call("PUT", f"{api}/connections/{cid}/settings", {"mfnStockHubs": ["MFN"]})
        expect(status == 200, f"settings: {status} {body}")

        def quantity(wave, index):
            return wave * 100 + index % 97

        def push(wave):
            csv = "hub,sku,quantity\n" + "".join(f"MFN,{s},{quantity(wave, i)}\n" for i, s in enumerate(skus))
            status, body = call("PUT", f"{api}/stock", csv, "text/csv")
            expect(status == 202, f"stock: {status} {body}")

        def listings_at_amazon():
            _, state = call("GET", f"{sim}/_simulator/state")
            return {l["sku"]: l for l in state["listings"] if l["merchantId"] == MERCHANT}, state["feeds"]

        def feeds_at_amazon():
            _, state = call("GET", f"{sim}/_simulator/state")
            return [f for f in state["feeds"] if f["merchantId"] == MERCHANT]

        rng = random.Random(7)
        for wave in range(1, WAVES + 1):
            before = len(feeds_at_amazon())
            push(wave)
            # Killed while the wave's feed is in flight: once Amazon has it, while it is queued or processed.
            deadline = time.time() + 90
            while len(feeds_at_amazon()) == before:
                expect(time.time() < deadline, f"wave {wave}: no feed submitted within 90 s (work folder {rig.work})")
                time.sleep(0.2)
            time.sleep(rng.uniform(0.2, 3))
            in_flight = [f["status"] for f in feeds_at_amazon() if f["status"] in ("IN_QUEUE", "IN_PROGRESS")]
            node.send_signal(signal.SIGKILL)
            node.wait()
            print(f"{time.time() - started:5.1f} s: wave {wave} of {WAVES} in a feed, serve killed "
                  f"with {len(in_flight)} feed(s) in flight")
            node = rig.serve()

        deadline = time.time() + 600
        while True:
            held, feeds = listings_at_amazon()
            done = sum(1 for i, s in enumerate(skus) if held.get(s, {}).get("quantity") == quantity(WAVES, i))
            if done == SKUS:
                break
            expect(time.time() < deadline,
                   f"{done} of {SKUS} listings at their last quantity after 600 s; feeds {feeds} (work folder {rig.work})")
            time.sleep(1)
        print(f"{time.time() - started:5.1f} s: every one of {SKUS} listings holds the WMS's last quantity, "
              f"in {len([f for f in feeds if f['merchantId'] == MERCHANT])} feeds")

        # No change went in two feeds: no listing took more feed messages than there were waves.
        most = max(l["feedMessages"] for l in held.values())
        expect(most <= WAVES, f"a listing took {most} feed messages for {WAVES} waves: a change was sent twice")
        statuses = sorted({f["status"] for f in feeds if f["merchantId"] == MERCHANT})
        print(f"at most {most} feed messages per listing for {WAVES} waves; feed statuses {statuses}")
    finally:
        rig.stop()


if __name__ == "__main__":
    main()
