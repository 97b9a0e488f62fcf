#!/usr/bin/env python3
"""`flexbridge demo` as a newcomer runs it, on free ports in a temporary folder:

1. the first run prints the API's address and a key; within a minute orders are in FlexBridge, and the demo
   warehouse carries one through to shipped (confirm, pack, label, manifest, hand-over) at the simulator too, and
   ships a merchant-fulfilled (MFN) order;
2. SIGINT (Ctrl-C) stops it cleanly, with exit status 0;
3. a second run in the same folder carries on: the same seller connection, the orders of the first run still there
   and still known to the simulator (its state was saved), new orders arriving;
4. --reset starts afresh: one connection, none of the old orders.

Usage: demo_test.py FLEXBRIDGE_BINARY   (Tests/demo/run.sh builds it and calls this)
"""
import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import call, expect, free_port  # noqa: E402

BINARY = sys.argv[1]


class Demo:
    def __init__(self, folder, *extra, ports=None):
        self.api_port, self.sim_port = ports or (free_port(), free_port())
        self.output = []
        self.process = subprocess.Popen(
            [BINARY, "demo", "--folder", folder, "--port", str(self.api_port), "--simulator-port", str(self.sim_port),
             "--orders-per-minute", "30", *extra],
            stdout=subprocess.PIPE, stderr=open(os.path.join(folder + ".log"), "a"), text=True)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.time() + 90
        while time.time() < deadline and not self.key():
            expect(self.process.poll() is None, f"the demo exited with {self.process.returncode}: {''.join(self.output)}")
            time.sleep(0.2)
        expect(self.key(), f"the demo printed no key within 90 s: {''.join(self.output)}")
        self.api = f"http://127.0.0.1:{self.api_port}/api/v1"
        self.sim = f"http://127.0.0.1:{self.sim_port}"
        self.headers = {"Authorization": f"Bearer {self.key()}"}

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)

    def key(self):
        found = re.search(r"API key \(admin\)\s+(fbk_\S+)", "".join(self.output))
        return found.group(1) if found else None

    def get(self, path):
        status, body = call("GET", self.api + path, headers=self.headers)
        expect(status == 200, f"GET {path}: {status} {body}")
        return body

    def orders(self, query=""):
        found, after = [], None
        while True:
            page = self.get(f"/orders?limit=500{query}" + (f"&after={after}" if after else ""))
            found += page["orders"]
            after = page.get("next")
            if not after:
                return found

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            expect(False, "the demo did not stop within 60 s of SIGINT")
        expect(code == 0, f"the demo stopped with exit status {code}")


def wait_for(what, check, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    expect(False, f"{what} within {seconds} s")


def main():
    work = tempfile.mkdtemp(prefix="flexbridge-demo-test-")
    folder = os.path.join(work, "demo")
    started = time.time()
    try:
        demo = Demo(folder)
        connections = demo.get("/connections")["connections"]
        expect(len(connections) == 1 and connections[0]["status"] == "active" and connections[0]["authorized"],
               f"one active, authorised demo connection: {connections}")
        connection_ids = [c["id"] for c in connections]
        first = wait_for("orders arrive", lambda: demo.orders(), 60)
        print(f"{time.time() - started:5.1f} s: first run, {len(first)} order(s) in FlexBridge", flush=True)
        shipped = wait_for("an order is shipped by the demo warehouse",
                           lambda: demo.orders("&source=external_fulfillment&state=shipped"), 240)
        truth = json.load(urllib.request.urlopen(f"{demo.sim}/_simulator/state", timeout=10))
        at_amazon = {s["id"]: s["status"] for s in truth["shipments"]}
        expect(at_amazon.get(shipped[0]["shipmentId"]) == "SHIPPED",
               f"{shipped[0]['shipmentId']} is SHIPPED at the simulator: {at_amazon.get(shipped[0]['shipmentId'])}")
        # Merchant-fulfilled orders too: the demo warehouse ships them with the ship-method table's carrier, and
        # Amazon's copy says so.
        mfn = wait_for("an MFN order is shipped by the demo warehouse",
                       lambda: demo.orders("&source=mfn&state=shipped"), 120)
        truth = json.load(urllib.request.urlopen(f"{demo.sim}/_simulator/state", timeout=10))
        at_amazon = {o["id"]: o for o in truth["mfnOrders"]}
        shipped_mfn = at_amazon.get(mfn[0]["shipmentId"], {})
        expect(shipped_mfn.get("status") == "SHIPPED" and shipped_mfn.get("confirmations"),
               f"{mfn[0]['shipmentId']} is SHIPPED at the simulator with its packages: {shipped_mfn}")
        expect(all(o["source"] == "mfn" for o in mfn), f"source=mfn lists MFN orders only: {mfn[:2]}")
        manifests = demo.get("/manifests?status=handed_over")["manifests"]
        expect(manifests, "a manifest was handed over")
        print(f"{time.time() - started:5.1f} s: {len(shipped)} shipped, {len(manifests)} manifest(s) handed over", flush=True)
        # The panel, as the banner says: log in as demo with the printed password, and see the orders.
        password = re.search(r"log in as demo, password (\S+)", "".join(demo.output)).group(1)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        base = f"http://127.0.0.1:{demo.api_port}"
        form = browser.open(f"{base}/login?next=/orders", timeout=10).read().decode()
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        fields = urllib.parse.urlencode({"csrf": csrf, "next": "/orders", "name": "demo", "password": password})
        orders_page = browser.open(f"{base}/login", fields.encode(), timeout=10)
        html = orders_page.read().decode()
        expect(orders_page.geturl().endswith("/orders") and shipped[0]["shipmentId"] in html,
               f"the panel shows the orders after login: {orders_page.geturl()}")
        known = {o["shipmentId"] for o in demo.orders()}
        demo.stop()
        expect(os.path.exists(os.path.join(folder, "simulator.json")), "the simulator's state was saved")

        again = Demo(folder, ports=(demo.api_port, demo.sim_port))
        connections = again.get("/connections")["connections"]
        expect([c["id"] for c in connections] == connection_ids, f"the same one connection: {connections}")
        held = {o["shipmentId"] for o in again.orders()}
        expect(known <= held, f"the first run's orders are still there: missing {sorted(known - held)[:5]}")
        truth = json.load(urllib.request.urlopen(f"{again.sim}/_simulator/state", timeout=10))
        at_simulator = {s["id"] for s in truth["shipments"]} | {o["id"] for o in truth["mfnOrders"]}
        expect(known <= at_simulator, f"the simulator still knows the first run's orders: missing {sorted(known - at_simulator)[:5]}")
        wait_for("new orders arrive in the second run", lambda: {o["shipmentId"] for o in again.orders()} - known, 90)
        print(f"{time.time() - started:5.1f} s: second run carried on with {len(held)} orders", flush=True)
        again.stop()

        fresh = Demo(folder, "--reset")
        connections = fresh.get("/connections")["connections"]
        expect(len(connections) == 1, f"one connection after --reset: {connections}")
        expect(not ({o["shipmentId"] for o in fresh.orders()} & known), "--reset forgot the old orders")
        fresh.stop()
        with open(folder + ".log", errors="replace") as log:
            fatal = [line for line in log if "Fatal error" in line or "panic" in line]
        expect(not fatal, f"the demo's log has fatal errors: {fatal[:3]}")
        print(f"{time.time() - started:5.1f} s: demo passed (first run, Ctrl-C, second run, --reset)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
