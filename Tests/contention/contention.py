#!/usr/bin/env python3
"""Two `flexbridge serve` nodes on one fresh PostgreSQL database under concurrent writes: no 5xx, no lost update,
one command per idempotency key.

Set-up: a fresh database; nodes A and B started at the same moment on it (same master key, so both migrate at once);
the simulator with a seller connected through A, hub HUB1 mapped to its location, listings for SKUS shared SKUs, an
initial level for each, and ORDERS orders generated at the simulator and visible through both nodes.

Concurrent phase (CONTENTION_SECONDS, default 40), every client thread alternating between the two nodes:
- WRITERS threads (default 24) PUT /api/v1/stock batches of 2 to SKUS levels of the shared SKUs, each batch in its own
  random order (so that two transactions lock the same rows in opposite orders). Every quantity ever sent is unique
  across the whole run, so a stored quantity names the one request that wrote it; each is added to the SKU's set
  of written values before its request leaves.
- READERS threads (default 4) GET /api/v1/stock/{sku}: the hub's quantity and every location's desiredQuantity must
  be a value some request actually sent for that SKU (never a mix, never a value from nowhere, never a 404).
- 20 client threads send, for each of ORDERS orders in turn, the same `confirm` under the same Idempotency-Key all
  at once (released together by a barrier): every answer must be 200/201/202 with the same command id (and, per the
  contract, at most one 202: the others are "stored before", 200), and the order must then hold exactly that one
  command.

Checks after the concurrent phase (nothing in flight):
- no 5xx and no request without an answer (counts by kind and status are printed, with a sample of 5xx bodies);
- both nodes alive and answering /health;
- last write wins, per SKU: the stored quantity V was sent by some request W that was answered 202, and no other
  202-answered write of that SKU was sent after W's answer arrived (it would have had to replace V: a lost
  update); the same through both nodes, and every location's desiredQuantity equals the hub's quantity;
- a final serial write of a fresh quantity per SKU through node A must be what GET /api/v1/stock/{sku} shows
  through node B (hub quantity and desiredQuantity), and the inventory sync must then bring every item to
  pending=false with lastSent equal to quantityToSend within SYNC_SECONDS (default 90): no change lost on the
  way to Amazon either.

Usage: contention.py FLEXBRIDGE_BINARY   (Tests/contention/run.sh builds it and calls this)
Environment: FLEXBRIDGE_TEST_POSTGRES_URL (required), CONTENTION_SECONDS, CONTENTION_WRITERS, CONTENTION_READERS,
CONTENTION_SKUS, CONTENTION_ORDERS, CONTENTION_DUPLICATES (concurrent copies per key, 20), CONTENTION_REQUEST_TIMEOUT
(seconds without an answer that count as none, 60), CONTENTION_KEEP_LOGS=1 (keep the work folder of a failed run).
"""
import collections
import itertools
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apifuzz"))
import flexnodes  # noqa: E402
from flexnodes import NOTIFICATION_SECRET, Cluster, SetupError, call, expect  # noqa: E402

BINARY = os.path.abspath(sys.argv[1])
POSTGRES = os.environ.get("FLEXBRIDGE_TEST_POSTGRES_URL", "")
SECONDS = float(os.environ.get("CONTENTION_SECONDS", "40"))
WRITERS = int(os.environ.get("CONTENTION_WRITERS", "24"))
READERS = int(os.environ.get("CONTENTION_READERS", "4"))
SKU_COUNT = int(os.environ.get("CONTENTION_SKUS", "10"))
ORDERS = int(os.environ.get("CONTENTION_ORDERS", "20"))
DUPLICATES = int(os.environ.get("CONTENTION_DUPLICATES", "20"))
SYNC_SECONDS = float(os.environ.get("SYNC_SECONDS", "90"))
MERCHANT = "A1CONTENTION"
HUB = "HUB1"
SKUS = [f"CT-SKU-{n:02d}" for n in range(SKU_COUNT)]
REQUEST_TIMEOUT = float(os.environ.get("CONTENTION_REQUEST_TIMEOUT", "60"))  # longer than this is "no answer"


class Log:
    """Every request's outcome, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = collections.Counter()  # (kind, status or "no answer")
        self.server_errors = []  # (kind, node, request, status, body)
        self.no_answer = []
        self.violations = []
        self.latencies = collections.defaultdict(list)  # kind -> seconds of every answered request

    def record(self, kind, node, request, status, body, seconds):
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[(kind, status)] += 1
            if isinstance(status, int) and status >= 500:
                self.server_errors.append((kind, node.name, request, status, body))

    def lost(self, kind, node, request, error):
        with self.lock:
            self.statuses[(kind, "no answer")] += 1
            self.no_answer.append((kind, node.name, request, repr(error)))

    def violation(self, message):
        with self.lock:
            self.violations.append(message)


LOG = Log()
VALUES = itertools.count(1000)
VALUES_LOCK = threading.Lock()
WRITTEN = collections.defaultdict(set)  # sku -> every quantity sent for it
WRITES = []  # (sent at, answered at, status, {sku: quantity}) of every PUT /stock
WRITES_LOCK = threading.Lock()


def next_value():
    with VALUES_LOCK:
        return next(VALUES)


def request(kind, node, method, path, body=None, headers=None):
    """(status, body), or (None, error) when there was no answer; both are logged."""
    started = time.monotonic()
    try:
        status, answer = call(method, f"{node.api}{path}", body, headers=headers, timeout=REQUEST_TIMEOUT)
    except OSError as error:
        LOG.lost(kind, node, f"{method} {path} {json.dumps(body) if body is not None else ''} "
                             f"(after {time.monotonic() - started:.1f} s)", error)
        return None, error
    LOG.record(kind, node, f"{method} {path} {json.dumps(body) if body is not None else ''} {headers or ''}", status, answer,
               time.monotonic() - started)
    return status, answer


def write_stock(node, levels):
    """PUT /api/v1/stock with {sku: quantity}, in the dict's order; the write is kept for the final checks."""
    with WRITES_LOCK:
        for sku, quantity in levels.items():
            WRITTEN[sku].add(quantity)
    sent = time.monotonic()
    status, body = request("PUT /stock", node, "PUT", "/stock",
                           {"items": [{"hub": HUB, "sku": sku, "quantity": quantity} for sku, quantity in levels.items()]})
    answered = time.monotonic()
    with WRITES_LOCK:
        WRITES.append((sent, answered, status, dict(levels)))
    return status, body


def stock_values(status_body):
    """(hub quantity, [desiredQuantity of each location]) from a GET /stock/{sku} answer."""
    hubs = [h["quantity"] for h in status_body.get("hubs", []) if h["hub"] == HUB]
    return (hubs[0] if hubs else None), [item["desiredQuantity"] for item in status_body.get("locations", []) if item["hub"] == HUB]


def writer(index, nodes, deadline):
    rng = random.Random(index)
    count = 0
    while time.time() < deadline and count < 100_000:
        count += 1
        skus = rng.sample(SKUS, rng.randint(min(2, len(SKUS)), len(SKUS)))  # a random subset in a random order
        write_stock(nodes[(index + count) % 2], {sku: next_value() for sku in skus})


def reader(index, nodes, deadline):
    rng = random.Random(1000 + index)
    count = 0
    while time.time() < deadline and count < 100_000:
        count += 1
        sku = rng.choice(SKUS)
        node = nodes[(index + count) % 2]
        status, body = request("GET /stock/{sku}", node, "GET", f"/stock/{sku}")
        if status != 200:
            if status is not None and status < 500:
                LOG.violation(f"GET /stock/{sku} on {node.name} during the writes: {status} {body}")
            continue
        with WRITES_LOCK:
            written = set(WRITTEN[sku])
        hub_quantity, desired = stock_values(body)
        if hub_quantity not in written:
            LOG.violation(f"GET /stock/{sku} on {node.name}: hub quantity {hub_quantity} was never sent for {sku}")
        for value in desired:
            if value not in written:
                LOG.violation(f"GET /stock/{sku} on {node.name}: desiredQuantity {value} was never sent for {sku}")


def duplicates(nodes, orders, run_id, deadline):
    """For each order, DUPLICATES threads send the same confirm under the same key at once. Returns {key: answers}."""
    results = {}
    barrier = threading.Barrier(DUPLICATES, timeout=60)
    for shipment_id in orders:
        if time.time() > deadline:
            LOG.violation(f"idempotency rounds not done within the concurrent phase ({len(results)} of {len(orders)} keys)")
            break
        key = f"contention-{run_id}-{shipment_id}:confirm"
        answers = [None] * DUPLICATES

        def send(slot, shipment_id=shipment_id, key=key, answers=answers):
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
            answers[slot] = request("POST /orders/{id}/commands (same key)", nodes[slot % 2], "POST",
                                    f"/orders/{shipment_id}/commands", {"type": "confirm"}, {"Idempotency-Key": key})

        threads = [threading.Thread(target=send, args=(slot,), daemon=True) for slot in range(DUPLICATES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT + 70)
        barrier.reset()
        results[(shipment_id, key)] = answers
    return results


def check_duplicates(results, nodes):
    for (shipment_id, key), answers in results.items():
        statuses = collections.Counter(a[0] if a else "not sent" for a in answers)
        ids = {a[1].get("id") for a in answers if a and a[0] in (200, 201, 202) and isinstance(a[1], dict)}
        if any(s not in (200, 201, 202) for s in statuses):
            samples = [f"{a[0]} {str(a[1])[:300]}" for a in answers if a and a[0] not in (200, 201, 202)][:3]
            LOG.violation(f"key {key}: {DUPLICATES} concurrent duplicates answered {dict(statuses)}; e.g. {samples}")
        if len(ids) > 1:
            LOG.violation(f"key {key}: duplicates answered with {len(ids)} different command ids: {sorted(ids)}")
        if statuses[202] > 1:
            LOG.violation(f"key {key}: {statuses[202]} duplicates answered 202 (stored) instead of one 202 and 200 for the others")
        for node in nodes:
            status, listing = request("GET /orders/{id}/commands", node, "GET", f"/orders/{shipment_id}/commands")
            if status != 200:
                LOG.violation(f"GET /orders/{shipment_id}/commands on {node.name}: {status} {listing}")
                continue
            stored = [c["id"] for c in listing["commands"]]
            if len(stored) != 1 or (ids and stored[0] not in ids):
                LOG.violation(f"key {key}: order {shipment_id} holds commands {stored} through {node.name}; "
                              f"expected exactly the one the duplicates answered, {sorted(ids)}")


def check_last_write_wins(nodes):
    """Quiescent: each SKU shows the value of a 202-answered write that no later-sent 202-answered write follows."""
    by_value = {}
    for sent, answered, status, levels in WRITES:
        for sku, quantity in levels.items():
            by_value[(sku, quantity)] = (sent, answered, status)
    accepted = collections.defaultdict(list)  # sku -> [(sent, answered, quantity)]
    for sent, answered, status, levels in WRITES:
        if status == 202:
            for sku, quantity in levels.items():
                accepted[sku].append((sent, answered, quantity))
    for sku in SKUS:
        seen = set()
        for node in nodes:
            status, body = request("GET /stock/{sku}", node, "GET", f"/stock/{sku}")
            if status != 200:
                LOG.violation(f"after the writes, GET /stock/{sku} on {node.name}: {status} {body}")
                continue
            hub_quantity, desired = stock_values(body)
            seen.add(hub_quantity)
            if not desired or any(value != hub_quantity for value in desired):
                LOG.violation(f"after the writes, {sku} on {node.name}: hub quantity {hub_quantity} but the locations "
                              f"want {desired} (lost update on inventory_items)")
        if len(seen) != 1:
            LOG.violation(f"after the writes, {sku}: the nodes disagree on its quantity: {sorted(seen, key=str)}")
            continue
        value = seen.pop()
        origin = by_value.get((sku, value))
        if origin is None:
            LOG.violation(f"after the writes, {sku} holds {value}, which no request sent")
            continue
        sent, answered, status = origin
        if status != 202:
            LOG.violation(f"after the writes, {sku} holds {value}, sent by a request answered {status}, not 202")
        later = [(s, q) for s, a, q in accepted[sku] if s > answered]
        if later:
            LOG.violation(f"lost update: {sku} holds {value} (answered {answered - START:.3f} s into the run), but "
                          f"{len(later)} writes of it sent after that answer were accepted with 202, "
                          f"e.g. {later[-1][1]} sent at {later[-1][0] - START:.3f} s")


def final_serial_writes(nodes):
    a, b = nodes
    finals = {}
    for sku in SKUS:
        value = next_value()
        status, body = write_stock(a, {sku: value})
        if status != 202:
            LOG.violation(f"final write of {sku}={value} on {a.name}: {status} {body}")
            continue
        finals[sku] = value
        for node in (b, a):
            status, body = request("GET /stock/{sku}", node, "GET", f"/stock/{sku}")
            if status != 200:
                LOG.violation(f"after the final write, GET /stock/{sku} on {node.name}: {status} {body}")
                continue
            hub_quantity, desired = stock_values(body)
            if hub_quantity != value or not desired or any(d != value for d in desired):
                LOG.violation(f"final write {sku}={value} through {a.name}, but {node.name} shows hub quantity "
                              f"{hub_quantity} and desiredQuantity {desired}")
    return finals


def wait_for_sync(nodes, finals):
    """Every item of the SKUs reaches Amazon: pending false, lastSent == quantityToSend, within SYNC_SECONDS."""
    deadline = time.time() + SYNC_SECONDS
    behind = {}
    while time.time() < deadline:
        behind = {}
        for sku in finals:
            status, body = request("GET /stock/{sku}", nodes[1], "GET", f"/stock/{sku}")
            if status != 200:
                behind[sku] = f"{status} {body}"
                continue
            for item in body["locations"]:
                last = item.get("lastSent") or {}
                if item["pending"] or last.get("quantity") != item["quantityToSend"] or item["desiredQuantity"] != finals[sku]:
                    behind[sku] = (f"pending={item['pending']} desired={item['desiredQuantity']} (final {finals[sku]}) "
                                   f"toSend={item['quantityToSend']} lastSent={last.get('quantity')} lastError={item.get('lastError')}")
        if not behind:
            return
        time.sleep(1)
    for sku, state in behind.items():
        LOG.violation(f"{sku} not synced to Amazon {SYNC_SECONDS:.0f} s after the final write: {state}")


START = time.monotonic()


def main():
    flexnodes.install_signal_handlers()
    if not POSTGRES:
        print("SKIPPED: FLEXBRIDGE_TEST_POSTGRES_URL is not set; the contention test needs PostgreSQL.")
        return 0
    cluster = Cluster(BINARY, "flexbridge-contention-")
    nodes = []
    failed = True
    try:
        database = cluster.create_database(POSTGRES, "contention")
        print(f"database {database}", flush=True)
        env = {"FLEXBRIDGE_MASTER_KEY": cluster.master_key(), "FLEXBRIDGE_NOTIFICATION_SECRET": NOTIFICATION_SECRET,
               "FLEXBRIDGE_LEASE_TTL_SECONDS": "10"}
        cluster.simulator("--no-throttle")
        nodes = [cluster.node("contention-a", database, env), cluster.node("contention-b", database, env)]
        for node in nodes:  # both at once: they migrate the same empty database concurrently
            node.start(wait=False)
        for node in nodes:
            node.wait_until_up()
        a, b = nodes
        flexnodes.notify_node(cluster.sim, a)
        cid, location_id, _ = flexnodes.connect_seller(a.api, cluster.sim, MERCHANT, "Contention")
        flexnodes.add_listings(a.api, cluster.sim, cid, MERCHANT, SKUS)
        for sku in SKUS:
            status, body = write_stock(a, {sku: next_value()})
            expect(status == 202, f"initial stock for {sku}: {status} {body}")
        orders = flexnodes.generate_orders(b.api, cluster.sim, MERCHANT, location_id, ORDERS)
        for shipment_id in orders:
            status, body = call("GET", f"{a.api}/orders/{shipment_id}")
            expect(status == 200, f"order {shipment_id} through {a.name}: {status} {body}")
        print(f"set up: nodes {a.url} and {b.url}, connection {cid}, {len(SKUS)} SKUs, {len(orders)} orders", flush=True)

        run_id = f"{int(time.time())}"
        deadline = time.time() + SECONDS
        started = time.time()
        threads = [threading.Thread(target=writer, args=(i, nodes, deadline), daemon=True) for i in range(WRITERS)]
        threads += [threading.Thread(target=reader, args=(i, nodes, deadline), daemon=True) for i in range(READERS)]
        for thread in threads:
            thread.start()
        results = duplicates(nodes, orders, run_id, deadline)
        for thread in threads:
            thread.join(timeout=max(1, deadline - time.time()) + REQUEST_TIMEOUT + 10)
        stuck = sum(thread.is_alive() for thread in threads)
        if stuck:
            LOG.violation(f"{stuck} client threads still waiting for an answer {REQUEST_TIMEOUT + 10} s after the end")
        print(f"concurrent phase: {time.time() - started:.0f} s, {len(WRITES)} stock writes, "
              f"{sum(n for (k, _), n in LOG.statuses.items() if k.startswith('GET /stock'))} stock reads, "
              f"{len(results)} idempotency keys x {DUPLICATES}", flush=True)

        for node in nodes:
            if node.record_crash_if_dead():
                LOG.violation(f"{node.name} died ({node.crashes[-1][0]}); last lines of its log:\n{node.crashes[-1][1]}")
        live = [node for node in nodes if node.alive()]
        check_duplicates(results, live)
        check_last_write_wins(live)
        if len(live) == 2:
            finals = final_serial_writes(nodes)
            wait_for_sync(nodes, finals)
        for node in nodes:
            status, body = node.health()
            if status != 200:
                LOG.violation(f"GET /health on {node.name} at the end: {status} {body}\n{node.log_tail()}")
            if node.record_crash_if_dead() and not any("died" in v and node.name in v for v in LOG.violations):
                LOG.violation(f"{node.name} died ({node.crashes[-1][0]}); last lines of its log:\n{node.crashes[-1][1]}")

        print("answers by request and status:")
        for (kind, status), count in sorted(LOG.statuses.items(), key=lambda item: (item[0][0], str(item[0][1]))):
            print(f"  {kind:40} {status!s:>10} {count:7}")
        print("latency by request (s): median, 99th percentile, max")
        for kind, seconds in sorted(LOG.latencies.items()):
            seconds = sorted(seconds)
            print(f"  {kind:40} {seconds[len(seconds) // 2]:7.3f} {seconds[int(len(seconds) * 0.99)]:7.3f} {seconds[-1]:7.3f}")
        if LOG.server_errors:
            LOG.violation(f"{len(LOG.server_errors)} answers were 5xx")
            print(f"sample of the {len(LOG.server_errors)} 5xx answers:")
            for kind, node_name, req, status, body in LOG.server_errors[:5]:
                print(f"  {node_name}: {req[:300]}\n    -> {status} {str(body)[:500]}")
        if LOG.no_answer:
            LOG.violation(f"{len(LOG.no_answer)} requests got no answer")
            for kind, node_name, req, error in LOG.no_answer[:5]:
                print(f"  no answer from {node_name}: {req[:200]}: {error}")
        if LOG.server_errors or LOG.no_answer:
            for node in nodes:
                errors = [line for line in open(node.log_path, errors="replace") if "error" in line.lower()][-8:]
                if errors:
                    print(f"last error lines in {node.name}'s log:\n" + "".join(errors))
        for violation in LOG.violations:
            print(f"FAIL: {violation}", file=sys.stderr)
        failed = bool(LOG.violations)
        print("FAILED" if failed else "passed: no 5xx, no lost update, one command per idempotency key")
    except (SetupError, OSError) as error:
        print(f"FAIL: setting up: {error if isinstance(error, SetupError) else repr(error)}", file=sys.stderr)
        for node in nodes:
            if not node.alive():
                print(f"{node.name}'s log:\n{node.log_tail()}", file=sys.stderr)
    finally:
        keep = failed and os.environ.get("CONTENTION_KEEP_LOGS") == "1"
        cluster.close(keep_work=keep)
        if keep:
            print(f"logs kept in {cluster.work}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
