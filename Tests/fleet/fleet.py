"""Three `flexbridge serve` nodes share 300 seller connections on one PostgreSQL; one is killed with SIGKILL, one is
stopped cleanly, a fourth joins. Checked:

- the shares: every node holds ⌈connections / live nodes⌉ or less, and every active connection is held by a live node,
  after each change, within a bound (the handover times are printed, for BENCHMARKS.md);
- no connection was ever worked by two nodes at once: in the simulator's request log (each node names itself in its
  User-Agent) a seller's calls change node at most as often as its lease changed hands (the lease's epoch), and never
  come from a node after that node's last hold on it ended;
- nothing lost or applied twice: a writer changes sellers' stock through any live node the whole time; at the end
  every seller's stock at Amazon is its last accepted write, and per item Amazon received strictly increasing sequence
  numbers;
- no answer of the API was a 5xx and no node crashed;
- the fourth node runs on jemalloc where the machine has it (as docs/operations.md advises for many sellers), and each
  node's flexbridge_build_info names the malloc it runs on.

PostgreSQL only (FLEXBRIDGE_TEST_POSTGRES_URL). FLEET_CONNECTIONS (300), FLEET_PRESENCE=false to measure a dead node's
handover by lease expiry instead of by its presence lock.
"""
import collections
import concurrent.futures
import json
import os
import random
import re
import signal
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apifuzz"))
import flexnodes  # noqa: E402
from flexnodes import Cluster, SetupError, call, connect_seller  # noqa: E402

BINARY = os.path.abspath(sys.argv[1])
POSTGRES = os.environ.get("FLEXBRIDGE_TEST_POSTGRES_URL", "")
CONNECTIONS = int(os.environ.get("FLEET_CONNECTIONS", "300"))
PRESENCE = os.environ.get("FLEET_PRESENCE", "true")
TTL = int(os.environ.get("FLEET_LEASE_TTL_SECONDS", "30"))
WRITERS = 4
MARKETPLACE = flexnodes.MARKETPLACE

VIOLATIONS = []
SERVER_ERRORS = []
LAST_WRITE = {}  # seller index -> last quantity answered 202
WRITES = collections.Counter()  # answers by status (Counter updates are atomic enough under the GIL)


def violation(message):
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    VIOLATIONS.append(message)


def merchant(index):
    return f"A1FLEET{index:04d}"


def sku(index):
    return f"FLEET-{index:04d}"


def lease_owners(database):
    """{connection id: (owner, epoch)} of the unexpired connection leases, and {node: expiry} of the node leases."""
    now = int(time.time() * 1000)
    rows = flexnodes.psql_rows(database, "SELECT name, owner, epoch, expires_at FROM leases")
    connections, nodes = {}, {}
    for name, owner, epoch, expires in rows:
        if int(expires) <= now:
            continue
        if name.startswith("connection:"):
            connections[name[len("connection:"):]] = (owner, int(epoch))
        elif name.startswith("node:"):
            nodes[name[len("node:"):]] = int(expires)
    return connections, nodes


def epochs(database):
    return {name[len("connection:"):]: int(epoch) for name, _, epoch, _ in
            flexnodes.psql_rows(database, "SELECT name, owner, epoch, expires_at FROM leases WHERE name LIKE 'connection:%'")}


def wait_for_shares(database, cids, live, what, limit):
    """Waits until every connection is held by one of `live` and each holds at most its share; returns the seconds."""
    started = time.time()
    share = -(-len(cids) // len(live))
    last = None
    while time.time() - started < limit:
        held, _ = lease_owners(database)
        counts = collections.Counter(held[cid][0] for cid in cids if cid in held)
        unheld = sum(1 for cid in cids if cid not in held or held[cid][0] not in live)
        last = (dict(counts), unheld)
        if unheld == 0 and all(counts[node] <= share for node in counts) and set(counts) <= set(live):
            seconds = time.time() - started
            print(f"{what}: shares {dict(sorted(counts.items()))} (share {share}) after {seconds:.1f} s", flush=True)
            return seconds
        time.sleep(0.2)
    violation(f"{what}: not balanced within {limit} s: held per node {last[0]}, {last[1]} connections not held by a live node")
    return None


def writer(nodes, stop, part, parts):
    """Changes one seller's stock at a time (of the sellers whose index is `part` modulo `parts`, so that each seller's
    last write is one writer's) through a random live node until `stop` is set."""
    value = 1000
    while not stop.is_set():
        live = [node for node in nodes if node.alive() and not node.stopping]
        if not live:
            time.sleep(0.1)
            continue
        node = random.choice(live)
        index = random.randrange(part, CONNECTIONS, parts)
        value += 1
        try:
            status, body = call("PUT", f"{node.api}/stock",
                                {"items": [{"hub": f"H{index}", "sku": sku(index), "quantity": value}]}, timeout=30)
        except OSError:
            continue  # a node being stopped or killed: the write was not answered, so it is not counted
        WRITES[status] += 1
        if status == 202:
            LAST_WRITE[index] = value
        elif status >= 500:
            SERVER_ERRORS.append(f"PUT /stock on {node.name}: {status} {body}")
        time.sleep(0.05)


def check_stock_converges(sim, locations, limit=180):
    started = time.time()
    behind = {}
    while time.time() - started < limit:
        _, state = call("GET", f"{sim}/_simulator/state")
        held = {(s["locationId"], s["skuId"]): s["quantity"] for s in state["stock"]}
        behind = {index: (held.get((locations[index], f"M-{sku(index)}")), value) for index, value in LAST_WRITE.items()
                  if held.get((locations[index], f"M-{sku(index)}")) != value}
        if not behind:
            print(f"stock: the last of {sum(WRITES.values())} writes to each of {len(LAST_WRITE)} sellers is at Amazon "
                  f"({time.time() - started:.1f} s after the writes stopped)", flush=True)
            return
        time.sleep(1)
    sample = list(behind.items())[:5]
    violation(f"{len(behind)} sellers' stock at Amazon is not their last write {limit} s after the writes stopped: "
              f"(at Amazon, written) {sample}")


class RequestLog:
    """The simulator's request log, read a piece at a time as it grows."""

    def __init__(self, sim):
        self.sim, self.requests = sim, []

    def last(self):
        after = self.requests[-1]["sequence"] if self.requests else 0
        _, fresh = call("GET", f"{self.sim}/_simulator/requests?after={after}", timeout=300)
        self.requests += fresh
        return self.requests[-1]["sequence"] if self.requests else 0


def check_request_log(log, database, merchants, holds):
    """Per seller: changes of node in its calls ≤ its lease's hand-overs, and no call by a node after its last hold."""
    log.last()
    requests = log.requests
    final = epochs(database)
    by_merchant = collections.defaultdict(list)
    sequences = {}
    applied = 0
    for request in requests:
        agent = request.get("userAgent") or ""
        node = agent.split("Node=")[-1].rstrip(")").strip() if "Node=" in agent else None
        if request.get("merchantID") in merchants and node:
            by_merchant[request["merchantID"]].append((request["sequence"], node))
        if request["operation"] == "batchInventory" and request["status"] == 207 and not request.get("fault") and request.get("body"):
            for item in json.loads(request["body"]).get("requests", []):
                if not item["uri"].startswith("/inventory/update"):
                    continue
                query = urllib.parse.parse_qs(urllib.parse.urlparse(item["uri"]).query)
                key = (query["locationId"][0], query["skuId"][0])
                number = item["body"]["clientSequenceNumber"]
                if number <= sequences.get(key, -1):
                    violation(f"{key}: sequence number {number} sent after {sequences[key]} (applied twice or lowered)")
                sequences[key] = number
                applied += 1
    switches_total, worst = 0, (0, "")
    for merchant_id, cid in merchants.items():
        calls = by_merchant.get(merchant_id, [])
        nodes = [node for _, node in calls]
        switches = sum(1 for a, b in zip(nodes, nodes[1:]) if a != b)
        switches_total += switches
        allowed = final.get(cid, 0) - 1
        if switches > allowed:
            violation(f"seller {merchant_id}: its calls changed node {switches} times but its lease changed hands at "
                      f"most {allowed} times: two nodes worked it at once ({nodes[:40]}…)")
        worst = max(worst, (switches, merchant_id))
        for node, ended in holds.items():
            # A node stopped or killed: no call of it after its end (the seq number at the end is recorded).
            late = [seq for seq, n in calls if n == node and seq > ended]
            if late:
                violation(f"seller {merchant_id}: {len(late)} calls by {node} after it had stopped")
    print(f"request log: {len(requests)} calls, {sum(len(c) for c in by_merchant.values())} by the nodes for the "
          f"sellers, {switches_total} changes of node in all (at most {worst[0]} for one seller), each within its "
          f"lease's hand-overs; {applied} item updates with strictly increasing sequence numbers", flush=True)


JEMALLOC = next((path for path in ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2")
                 if os.path.exists(path)), None)


def check_allocator(node, expected):
    """The node's flexbridge_build_info names the malloc it runs on."""
    _, text = call("GET", f"{node.url}/metrics")
    found = re.search(r'^flexbridge_build_info\{[^}]*allocator="([^"]*)"', text or "", re.MULTILINE)
    allocator = found and found.group(1)
    print(f"{node.name} runs on {allocator} malloc", flush=True)
    if allocator != expected:
        violation(f"{node.name}'s flexbridge_build_info says allocator {allocator!r}, expected {expected!r}")


def main():
    flexnodes.install_signal_handlers()
    if not POSTGRES:
        print("SKIPPED: FLEXBRIDGE_TEST_POSTGRES_URL is not set; the fleet test needs PostgreSQL.")
        return 0
    cluster = Cluster(BINARY, "flexbridge-fleet-")
    failed = True
    stop = threading.Event()
    nodes = []
    try:
        database = cluster.create_database(POSTGRES, "fleet")
        # The polls behind Amazon's notifications slowed (orders every 2 min, returns every 10 min, as an integrator
        # with notifications may run): at the defaults 300 idle sellers alone keep this 2-core machine's debug build
        # busy (measured: about 45 getShipments and listReturns calls a minute each), and the test is about hand-overs.
        env = {"FLEXBRIDGE_MASTER_KEY": cluster.master_key(), "FLEXBRIDGE_LEASE_TTL_SECONDS": str(TTL),
               "FLEXBRIDGE_NODE_PRESENCE": PRESENCE, "FLEXBRIDGE_ORDERS_POLL_SECONDS": "120",
               "FLEXBRIDGE_RETURNS_POLL_SECONDS": "600"}
        sim = cluster.simulator()
        log = RequestLog(sim)
        a, b, c = (cluster.node(name, database, env) for name in ("fleet-a", "fleet-b", "fleet-c"))
        nodes = [a, b, c]
        for node in nodes:
            node.stopping = False
            node.start(wait=False)
        for node in nodes:
            node.wait_until_up()
        started = time.time()
        merchants, locations = {}, {}

        def connect(index):
            api = nodes[index % 3].api
            cid, location_id, _ = connect_seller(api, sim, merchant(index), f"Fleet seller {index}", hub=f"H{index}")
            flexnodes.add_listings(api, sim, cid, merchant(index), [sku(index)])
            merchants[merchant(index)] = cid
            locations[index] = location_id

        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            for future in [pool.submit(connect, index) for index in range(CONNECTIONS)]:
                future.result()
        cids = list(merchants.values())
        print(f"set up: 3 nodes, {CONNECTIONS} sellers connected through all three in {time.time() - started:.0f} s",
              flush=True)
        wait_for_shares(database, cids, {a.name, b.name, c.name}, "three nodes", 120)
        writers = [threading.Thread(target=writer, args=(nodes, stop, part, WRITERS), daemon=True)
                   for part in range(WRITERS)]
        for write in writers:
            write.start()
        for _ in range(5):
            time.sleep(2)
            log.last()

        holds = {}  # node -> the simulator's last request sequence when it ended
        c.process.send_signal(signal.SIGKILL)
        c.process.wait()
        c.stopping = True
        holds[c.name] = log.last()
        killed = wait_for_shares(database, cids, {a.name, b.name}, f"after SIGKILL of {c.name}", TTL + 60)
        time.sleep(5)

        b.stopping = True
        stopped_at = time.time()
        b.process.send_signal(signal.SIGTERM)
        graceful = wait_for_shares(database, cids, {a.name}, f"after SIGTERM of {b.name}", 120)
        b.process.wait(timeout=60)
        holds[b.name] = log.last()
        print(f"{b.name} exited {time.time() - stopped_at:.1f} s after SIGTERM", flush=True)
        time.sleep(5)

        # The fourth node runs on jemalloc where the machine has it (.ci/run installs it), as docs/operations.md
        # advises for a node of many sellers: it must take its share, and say which malloc it has.
        d = cluster.node("fleet-d", database, {**env, "LD_PRELOAD": JEMALLOC} if JEMALLOC else env)
        d.stopping = False
        nodes.append(d)
        joined_at = time.time()
        d.start(wait=True)
        print(f"{d.name} up {time.time() - joined_at:.1f} s after its start", flush=True)
        check_allocator(a, "system")
        check_allocator(d, "jemalloc" if JEMALLOC else "system")
        joined = wait_for_shares(database, cids, {a.name, d.name}, f"after {d.name} joined", 120)
        time.sleep(10)
        stop.set()
        for write in writers:
            write.join(timeout=60)
        print(f"writes: {dict(WRITES)}", flush=True)
        check_stock_converges(sim, locations)
        check_request_log(log, database, merchants, holds)
        for node in (a, d):
            if node.record_crash_if_dead():
                violation(f"{node.name} died ({node.crashes[-1][0]}):\n{node.crashes[-1][1]}")
        if SERVER_ERRORS:
            violation(f"{len(SERVER_ERRORS)} answers were 5xx, e.g. {SERVER_ERRORS[:3]}")
        print(f"handover times (presence lock {PRESENCE}, lease TTL {TTL} s, {CONNECTIONS} connections): "
              f"SIGKILL {killed and f'{killed:.1f}'} s, graceful stop {graceful and f'{graceful:.1f}'} s, "
              f"a fourth node's share {joined and f'{joined:.1f}'} s", flush=True)
        failed = bool(VIOLATIONS)
        print("FAILED" if failed else "passed: shares balanced after each change, no seller worked by two nodes at once, "
              "nothing lost or applied twice, no 5xx")
    except (SetupError, OSError) as error:
        print(f"FAIL: setting up: {error if isinstance(error, SetupError) else repr(error)}", file=sys.stderr)
        for node in nodes:
            if not node.alive() and not node.stopping:
                print(f"{node.name}'s log:\n{node.log_tail()}", file=sys.stderr)
    finally:
        stop.set()
        keep = os.environ.get("FLEET_KEEP_LOGS") == "1"
        cluster.close(keep_work=keep)
        if keep:
            print(f"logs kept in {cluster.work}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
