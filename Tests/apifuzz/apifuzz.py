#!/usr/bin/env python3
"""Fuzzes FlexBridge's own API (Sources/FlexBridgeAPI/openapi.yaml) with schemathesis against `flexbridge serve`,
once on SQLite and once on a fresh PostgreSQL database, and fails on any 5xx, any crash of serve, or a serve that no
longer answers /health afterwards.

Before fuzzing, each run sets up real objects so that the fuzzer reaches the handlers' logic and not only their
404s: the simulator, a connection authorised to it with hub HUB1 mapped to a location, listings and stock for three
SKUs, orders generated at the simulator and visible in FlexBridge (one left awaiting confirmation, one confirmed,
packed and labelled so that it has a command, a label document and a manifest), and a webhook pointed at a local
receiver. Their ids go to schemathesis as fixed parameters (schemathesis.toml [parameters], as Tests/fuzz/run.sh does).

serve is watched while schemathesis runs: if it dies, the crash (exit status or signal, log tail) is recorded and
serve is started again on the same database and port, so that one crash does not hide the defects behind it; any
recorded crash fails the run.

Usage: apifuzz.py FLEXBRIDGE_BINARY   (Tests/apifuzz/run.sh builds it and calls this)
Environment: FLEXBRIDGE_TEST_POSTGRES_URL (postgres://USER@HOST:PORT/DB on which databases may be created; without it
the PostgreSQL run is skipped), FUZZ_MAX_EXAMPLES (per operation and phase, default 100: about 2 minutes per database
on 2 cores), FUZZ_SEED, FUZZ_WORKERS (2), FUZZ_PHASES (examples,coverage,fuzzing,stateful), FUZZ_ENGINES
(sqlite,postgres), FUZZ_TIMEOUT (seconds per schemathesis run before it counts as a failure, default 600),
FUZZ_EXTRA_ARGS (more schemathesis options, for looking into a failure, e.g. "--generation-allow-x00 false" or
"--include-operation-id listOrders").
"""
import http.server
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flexnodes  # noqa: E402
from flexnodes import NOTIFICATION_SECRET, Cluster, SetupError, Watchdog, call, expect  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SPEC = os.path.join(ROOT, "Sources", "FlexBridgeAPI", "openapi.yaml")
BINARY = os.path.abspath(sys.argv[1])
EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "100"))
SEED = os.environ.get("FUZZ_SEED", "20261122")
# Returns are polled, not notified: every second here, so that the set-up's return reaches FlexBridge at once.
os.environ.setdefault("FLEXBRIDGE_RETURNS_POLL_SECONDS", "1")
os.environ.setdefault("FLEXBRIDGE_STATUS_POLL_SECONDS", "1")
WORKERS = os.environ.get("FUZZ_WORKERS", "2")
PHASES = os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing,stateful")
ENGINES = [e for e in os.environ.get("FUZZ_ENGINES", "sqlite,postgres").split(",") if e]
TIMEOUT = int(os.environ.get("FUZZ_TIMEOUT", "600"))
POSTGRES = os.environ.get("FLEXBRIDGE_TEST_POSTGRES_URL", "")
EXTRA = os.environ.get("FUZZ_EXTRA_ARGS", "").split()
SKUS = ["FUZZ-SKU-1", "FUZZ-SKU-2", "FUZZ-SKU-3"]


class Receiver(http.server.BaseHTTPRequestHandler):
    """The webhook's target: takes every delivery with 204."""

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def set_up(cluster, node, merchant):
    """The real objects; returns the schemathesis parameters naming them."""
    sim = cluster.sim
    api = node.api
    flexnodes.notify_node(sim, node)
    cid, location_id, _ = flexnodes.connect_seller(api, sim, merchant, f"Fuzz {merchant}")
    flexnodes.add_listings(api, sim, cid, merchant, SKUS)
    status, body = call("PUT", f"{api}/stock", {"items": [{"hub": "HUB1", "sku": sku, "quantity": 5 + i} for i, sku in enumerate(SKUS)]})
    expect(status == 202, f"stock: {status} {body}")
    waiting, ready, returned = flexnodes.generate_orders(api, sim, merchant, location_id, 3)
    confirm_id, _ = flexnodes.carry_to_ready_to_ship(api, ready)
    # A shipped order that comes back: a return for the returns' operations (receive included) to work on.
    flexnodes.carry_to_ready_to_ship(api, returned)
    status, body = flexnodes.submit(api, returned, {"type": "ship"}, f"setup-{returned}:ship")
    expect(status == 202, f"ship {returned}: {status} {body}")
    deadline = time.time() + 60
    while time.time() < deadline and call("GET", f"{api}/orders/{returned}")[1].get("order", {}).get("state") != "shipped":
        time.sleep(0.5)
    status, body = call("POST", f"{sim}/_simulator/returns", {"shipmentId": returned})
    expect(status == 201, f"return of {returned}: {status} {body}")
    return_id = body["id"]
    deadline = time.time() + 60
    while time.time() < deadline and call("GET", f"{api}/returns/{return_id}")[0] != 200:
        time.sleep(0.5)
    expect(call("GET", f"{api}/returns/{return_id}")[0] == 200, f"return {return_id} not in FlexBridge after 60 s")
    status, documents = call("GET", f"{api}/orders/{ready}/documents")
    expect(status == 200 and documents["documents"], f"documents of {ready}: {status} {documents}")
    document_id = documents["documents"][0]["id"]
    status, manifest = call("POST", f"{api}/manifests", {"connectionId": cid, "locationId": location_id, "shipmentIds": [ready]})
    expect(status == 201, f"manifest: {status} {manifest}")
    # A Send to Amazon plan of the first SKU, for the plans' operations (choices, resume, labels) to work on.
    status, plan = call("POST", f"{api}/connections/{cid}/inbound-plans", {
        "reference": "FUZZ-PO", "marketplaceId": flexnodes.MARKETPLACE,
        "sourceAddress": {"name": "Hub", "addressLine1": "1 Road", "city": "Pune", "postalCode": "411001",
                          "countryCode": "IN", "phoneNumber": "1"},
        "lines": [{"sku": SKUS[0], "quantity": 2}], "boxes": [{"weight": 1, "length": 10, "width": 10, "height": 10}]})
    expect(status == 202, f"inbound plan: {status} {plan}")
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    status, webhook = call("POST", f"{api}/webhooks", {
        "url": f"http://127.0.0.1:{receiver.server_address[1]}/hook", "eventTypes": ["order.*"], "fromStart": True})
    expect(status == 201, f"webhook: {status} {webhook}")
    print(f"   connection {cid}, location {location_id}, orders {waiting} (awaiting confirmation) and {ready} "
          f"(ready to ship), command {confirm_id}, document {document_id}, manifest {manifest['id']}, webhook {webhook['id']}, "
          f"return {return_id}",
          flush=True)
    return receiver, {
        "path.connectionId": cid, "query.connectionId": cid, "path.sku": SKUS[0], "path.shipmentId": waiting,
        "path.commandId": confirm_id, "path.documentId": document_id, "path.manifestId": manifest["id"],
        "path.webhookId": webhook["id"], "path.returnId": return_id, "path.locationId": location_id,
        "path.planId": plan["id"], "body.connectionId": cid, "body.locationId": location_id,
    }, ready


def toml_string(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path, parameters, ready):
    lines = ["[parameters]"] + [f"{toml_string(k)} = {toml_string(v)}" for k, v in parameters.items() if not k.startswith("body.")]
    # Body fields (POST /manifests' connectionId and locationId) take the real ids nine times in ten.
    for key, value in parameters.items():
        if key.startswith("body."):
            lines.append(f"{toml_string(key)} = {{ dictionary = {toml_string(key[5:])}, probability = 0.9 }}")
    for key, value in parameters.items():
        if key.startswith("body."):
            lines += ["", f"[dictionaries.{key[5:]}]", f"values = [{toml_string(value)}]"]
    # The labelled order for the operations that show what a label step produced.
    for operation in ("listOrderDocuments", "listCommands"):
        lines += ["", "[[operations]]", f"include-operation-id = {toml_string(operation)}",
                  "[operations.parameters]", f"{toml_string('path.shipmentId')} = {toml_string(ready)}"]
    with open(path, "w") as config:
        config.write("\n".join(lines) + "\n")


def logged_errors(node, limit=25):
    """serve's error and critical log lines, one per operation and cause (SQLSTATE or message), at most `limit`."""
    distinct = {}
    try:
        with open(node.log_path, errors="replace") as log:
            for line in log:
                if " error " in line or " critical " in line or "Fatal error" in line or '"level":"error"' in line:
                    operation = re.search(r"operation=(\S+)", line)
                    cause = re.search(r"sqlState: (\w+)", line) or re.search(r"message: ([^,]{0,120})", line)
                    key = (operation.group(1) if operation else line[25:120], cause.group(1) if cause else line[25:200])
                    distinct.setdefault(key, f"[{key[0]}] {line.strip()[:600]}")
    except OSError:
        return []
    return list(distinct.values())[:limit]


def fuzz(engine):
    """One run; returns a list of failures (empty when it passed)."""
    failures = []
    cluster = Cluster(BINARY, f"flexbridge-apifuzz-{engine}-")
    receiver = None
    try:
        env = {"FLEXBRIDGE_NOTIFICATION_SECRET": NOTIFICATION_SECRET}
        if engine == "postgres":
            database = cluster.create_database(POSTGRES, "apifuzz")
            env["FLEXBRIDGE_MASTER_KEY"] = cluster.master_key()
        else:
            database = os.path.join(cluster.work, "flexbridge.sqlite")
        print(f"== {engine}: database {database}", flush=True)
        cluster.simulator("--no-throttle")
        node = cluster.node(f"apifuzz-{engine}", database, env).start()
        merchant = "A1FUZZSQLITE" if engine == "sqlite" else "A1FUZZPOSTGRES"
        started = time.time()
        receiver, parameters, ready = set_up(cluster, node, merchant)
        print(f"   set up in {time.time() - started:.0f} s", flush=True)
        config = os.path.join(cluster.work, "schemathesis.toml")
        write_config(config, parameters, ready)

        watchdog = Watchdog(node)
        watchdog.start()
        # As the WMS's admin key: every operation is reachable, and schemathesis fuzzes past the key check.
        command = ["schemathesis", "--config-file", config, "run", SPEC, "--url", node.api,
                   "--header", f"Authorization: Bearer {cluster.keys[database]}",
                   "--checks", "not_a_server_error", "--phases", PHASES, "--max-examples", str(EXAMPLES),
                   "--workers", WORKERS, "--seed", SEED, "--no-color", "--request-timeout", "30",
                   "--generation-database", "none", "--suppress-health-check", "all", *EXTRA]
        print("   " + " ".join(command), flush=True)
        started = time.time()
        try:
            result = subprocess.run(command, cwd=cluster.work, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
            code = result.returncode
        except subprocess.TimeoutExpired:
            code = None
            failures.append(f"schemathesis did not finish within {TIMEOUT} s (FUZZ_TIMEOUT)")
        elapsed = time.time() - started
        watchdog.stop()
        print(f"   schemathesis took {elapsed:.0f} s and exited with {code}", flush=True)
        if code not in (0, None):
            failures.append(f"schemathesis found failures or errors (exit status {code}; its report is above)")
            causes = logged_errors(node)
            if causes:
                failures.append("the errors serve logged (the causes of its 5xx):\n" + "\n".join(causes))

        node.record_crash_if_dead()
        for number, (how, tail, _) in enumerate(node.crashes, 1):
            failures.append(f"flexbridge serve crashed ({how}), crash {number} of {len(node.crashes)}; last lines of its log:\n{tail}")
        status, body = node.health()
        if not node.alive():
            failures.append("flexbridge serve is not running after the fuzzing")
        if status != 200:
            failures.append(f"GET /health after the fuzzing: {status} {body}\nlast lines of serve's log:\n{node.log_tail()}")
        else:
            print(f"   /health after the fuzzing: {status} {body}", flush=True)
    except (SetupError, OSError) as error:
        failures.append(f"setting up: {error!r}" if isinstance(error, OSError) else f"setting up: {error}")
        for node in cluster.nodes:
            if not node.alive():
                failures.append(f"serve's log:\n{node.log_tail()}")
    finally:
        if receiver is not None:
            receiver.shutdown()
        cluster.close()
    return failures


def main():
    flexnodes.install_signal_handlers()
    all_failures = {}
    for engine in ENGINES:
        if engine == "postgres" and not POSTGRES:
            print("== postgres: SKIPPED, FLEXBRIDGE_TEST_POSTGRES_URL is not set", flush=True)
            continue
        started = time.time()
        failures = fuzz(engine)
        print(f"== {engine}: {'FAILED' if failures else 'passed'} in {time.time() - started:.0f} s", flush=True)
        if failures:
            all_failures[engine] = failures
    for engine, failures in all_failures.items():
        for failure in failures:
            print(f"FAIL ({engine}): {failure}", file=sys.stderr)
    sys.exit(1 if all_failures else 0)


if __name__ == "__main__":
    main()
