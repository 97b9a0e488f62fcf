#!/usr/bin/env python3
"""Kills `flexbridge serve` with SIGKILL in the middle of an inventory sync, restarts it, and checks against the
simulator's ground truth that every SKU converges to its latest quantity and that no clientSequenceNumber applied
at Amazon was ever reused or lowered for an item.

Usage: kill_during_sync.py FLEXBRIDGE_BINARY   (Tests/crash/run.sh builds it and calls this)
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

BINARY = sys.argv[1]
SKUS = int(os.environ.get("CRASH_SKUS", "20000"))
MERCHANT = "A1CRASHSELLER"
MARKETPLACE = "A21TJRUUN4KGV"
CLIENT_ID = "amzn1.application-oa2-client.simulator"
CLIENT_SECRET = "simulator-secret"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(method, url, body=None, content_type="application/json", headers=None):
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={**(headers or {}), "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def expect(condition, message):
    if not condition:
        print(f"FAIL: {message}", file=sys.stderr)
        sys.exit(1)


def wait_until_up(url, process, what):
    for _ in range(600):
        if process.poll() is not None:
            expect(False, f"{what} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    expect(False, f"{what} did not answer on {url}")


def main():
    work = tempfile.mkdtemp(prefix="flexbridge-crash-")
    sim_port, api_port = free_port(), free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    api = f"http://127.0.0.1:{api_port}/api/v1"
    database = os.path.join(work, "flexbridge.sqlite")
    simulator = subprocess.Popen(
        [BINARY, "simulate", "--port", str(sim_port), "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "simulator.log"), "w"))
    processes = [simulator]

    def serve():
        process = subprocess.Popen(
            [BINARY, "serve", "--database", database, "--port", str(api_port), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "a"))
        processes.append(process)
        wait_until_up(f"http://127.0.0.1:{api_port}/health", process, "flexbridge serve")
        return process

    try:
        wait_until_up(f"{sim}/_simulator/health", simulator, "the simulator")
        node = serve()

        # A seller, authorised; a location; SKUs listed at Amazon and in FlexBridge.
        status, connection = call("POST", f"{api}/connections", {
            "name": "Crash test", "sellingPartnerId": MERCHANT, "region": "EU", "marketplaceIds": [MARKETPLACE],
            "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "endpoint": sim})
        expect(status == 201, f"create connection: {status} {connection}")
        cid = connection["id"]
        _, minted = call("POST", f"{sim}/_simulator/authorizations", {"merchantId": MERCHANT})
        status, _ = call("PUT", f"{api}/connections/{cid}/refresh-token", {"refreshToken": minted["refreshToken"]})
        expect(status == 200, "refresh token")
        form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": minted["refreshToken"],
                                       "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        _, token = call("POST", f"{sim}/auth/o2/token", form, "application/x-www-form-urlencoded")
        _, location = call("POST", f"{sim}/externalFulfillment/2026-07-30/location", {
            "merchantIds": [MERCHANT], "marketplaceId": MARKETPLACE, "channels": ["MFN"], "locationName": "Crash hub"},
            headers={"x-amz-access-token": token["access_token"]})
        location_id = location["locationIds"]["MFN"]
        status, _ = call("PUT", f"{api}/connections/{cid}/hubs", {"hub": "HUB1", "locationId": location_id, "channel": "MFN"})
        expect(status == 200, "hub mapping")
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

        serve()
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
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
