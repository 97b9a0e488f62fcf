"""Processes and fixtures shared by Tests/apifuzz and Tests/contention: fresh PostgreSQL databases, the simulator and
`flexbridge serve` nodes on free ports (watched, restartable, their logs kept), and a seller connected end to end with
listings, stock and orders. Everything a Cluster starts or creates is stopped or dropped by Cluster.close(), which
the scripts call in a `finally`; SIGTERM, SIGINT and SIGHUP are turned into SystemExit so that it runs then too, and
the child processes get SIGTERM from the kernel if the Python process itself dies (PR_SET_PDEATHSIG)."""
import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import CLIENT_ID, CLIENT_SECRET, MARKETPLACE, call, connect_seller, free_port, make_key, packages_for, use_key  # noqa: E402,F401

NOTIFICATION_SECRET = "test-notification-secret-0123456789"


class SetupError(Exception):
    """The rig could not be set up; the message says which FlexBridge or simulator answer was wrong."""


def expect(condition, message):
    if not condition:
        raise SetupError(message)


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def install_signal_handlers():
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)


def _die_with_parent():
    # The kernel ties PR_SET_PDEATHSIG to the thread that forked, so only processes started by the main thread use it
    # (see _preexec); the others rely on Cluster.close().
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgrp()  # a Ctrl-C in the terminal reaches the orchestrator only; it stops the children itself


def _own_group():
    os.setpgrp()


def _preexec():
    return _die_with_parent if threading.current_thread() is threading.main_thread() else _own_group


def psql(admin_url, sql):
    """Runs one SQL statement with psql against the server of `admin_url`; returns its unaligned output."""
    result = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", admin_url, "-c", sql],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise SetupError(f"psql {sql!r}: {result.stderr.strip()}")
    return result.stdout.strip()


def psql_rows(url, sql):
    """The rows of one query, each a list of its columns' text."""
    output = psql(url, sql)
    return [line.split("|") for line in output.splitlines() if line]


def database_url(admin_url, name):
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class Node:
    """One `flexbridge serve` on a fixed port; restart() starts it again on the same port and database."""

    def __init__(self, cluster, name, database, port, env, extra_args):
        self.cluster, self.name, self.database, self.port = cluster, name, database, port
        self.env, self.extra_args = env, list(extra_args)
        self.url = f"http://127.0.0.1:{port}"
        self.api = f"{self.url}/api/v1"
        self.log_path = os.path.join(cluster.work, f"serve-{name}.log")
        self.process = None
        self.crashes = []  # (exit status, log tail) of every time the process was found dead

    def start(self, wait=True):
        """Starts the node; the cluster's admin key for its database (made on the first start) goes with every call."""
        key = self.cluster.keys.get(self.database)
        if key is None:
            key = self.cluster.keys[self.database] = make_key(self.cluster.binary, self.database, self.env)
        use_key(self.url, key)
        log = open(self.log_path, "a")
        log.write(f"==== {time.strftime('%H:%M:%S')} starting {self.name}\n")
        log.flush()
        self.process = subprocess.Popen(
            # --allow-private-addresses: the simulator and the webhook receivers run on this machine.
            [self.cluster.binary, "serve", "--allow-private-addresses", "--database", self.database, "--port", str(self.port),
             "--node-id", self.name, "--log-level", "info", *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env, preexec_fn=_preexec())
        log.close()
        self.cluster.processes.append(self.process)
        if wait:
            self.wait_until_up()
        return self

    def wait_until_up(self, seconds=120):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SetupError(f"flexbridge serve {self.name} exited with {describe_exit(self.process.returncode)} at start:\n"
                                 f"{self.log_tail()}")
            try:
                status, _ = call("GET", f"{self.url}/health", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SetupError(f"flexbridge serve {self.name} did not answer /health within {seconds} s:\n{self.log_tail()}")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def record_crash_if_dead(self):
        """True if the process died since the last look (the crash is recorded with the log's tail)."""
        if self.process is None or self.process.poll() is None:
            return False
        if not any(crash[2] is self.process for crash in self.crashes):
            self.crashes.append((describe_exit(self.process.returncode), self.log_tail(), self.process))
        return True

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError as error:
            return f"(no log: {error})"

    def health(self):
        try:
            return call("GET", f"{self.url}/health", timeout=10)
        except OSError as error:
            return None, str(error)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def describe_exit(code):
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


class Watchdog(threading.Thread):
    """Looks at a node twice a second; a node found dead has its crash recorded and is started again (at most
    `restarts` times), so that one crash does not hide the defects behind it. Stop with stop()."""

    def __init__(self, node, restarts=20):
        super().__init__(daemon=True)
        self.node, self.restarts, self.stopping = node, restarts, threading.Event()

    def run(self):
        while not self.stopping.wait(0.5):
            if self.node.record_crash_if_dead() and self.restarts > 0:
                self.restarts -= 1
                try:
                    self.node.start(wait=True)
                except SetupError as error:
                    print(f"watchdog: restarting {self.node.name} failed: {error}", flush=True)
                    return

    def stop(self):
        self.stopping.set()
        self.join(timeout=150)


class Cluster:
    """A work folder, the simulator, serve nodes and fresh PostgreSQL databases; close() undoes all of it."""

    def __init__(self, binary, prefix):
        self.binary = binary
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.processes = []
        self.databases = []  # (admin URL, name)
        self.nodes = []
        self.keys = {}  # database -> the admin key made for it
        self.sim = None
        self.sim_log = os.path.join(self.work, "simulator.log")

    def create_database(self, admin_url, prefix):
        name = f"{prefix}_{int(time.time())}_{secrets.token_hex(4)}"
        psql(admin_url, f'CREATE DATABASE "{name}"')
        self.databases.append((admin_url, name))
        return database_url(admin_url, name)

    def master_key(self):
        result = subprocess.run([self.binary, "keygen"], capture_output=True, text=True, timeout=60)
        expect(result.returncode == 0 and result.stdout.strip(), f"flexbridge keygen: {result.returncode} {result.stderr}")
        return result.stdout.strip()

    def simulator(self, *args):
        port = free_port()
        process = subprocess.Popen(
            [self.binary, "simulate", "--port", str(port), "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(self.sim_log, "w"), preexec_fn=_preexec())
        self.processes.append(process)
        self.sim = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            if process.poll() is not None:
                raise SetupError(f"the simulator exited with {describe_exit(process.returncode)}")
            try:
                if call("GET", f"{self.sim}/_simulator/health", timeout=2)[0] == 200:
                    return self.sim
            except OSError:
                pass
            time.sleep(0.2)
        raise SetupError("the simulator did not answer within 60 s")

    def node(self, name, database, env=None, extra_args=(), port=None):
        node = Node(self, name, database, port or free_port(), {**os.environ, **(env or {})}, extra_args)
        self.nodes.append(node)
        return node

    def close(self, keep_work=False):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        for admin_url, name in self.databases:
            try:
                psql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except (SetupError, OSError, subprocess.TimeoutExpired) as error:
                print(f"could not drop database {name}: {error}", file=sys.stderr)
        self.databases = []
        if not keep_work:
            shutil.rmtree(self.work, ignore_errors=True)


# ---- A seller set up end to end ------------------------------------------------------------------------------------

def add_listings(api, sim, cid, merchant, skus):
    """Lists each WMS SKU `s` as merchant SKU `M-s` at FlexBridge and at the simulator (so Amazon knows it)."""
    listings = [{"clientSkuId": sku, "channelSkuId": f"M-{sku}", "channelSerialNo": f"B0{index:08d}", "marketplace": MARKETPLACE}
                for index, sku in enumerate(skus)]
    status, body = call("POST", f"{sim}/_simulator/listings",
                        {"merchantId": merchant, "marketplaceId": MARKETPLACE, "skus": [f"M-{sku}" for sku in skus]})
    expect(status in (200, 201), f"simulator listings: {status} {body}")
    status, body = call("POST", f"{api}/connections/{cid}/listings", {"listings": listings})
    expect(status == 200, f"import listings: {status} {body}")


def notify_node(sim, node):
    """Has the simulator push its shipment notifications to `node` (serve must run with NOTIFICATION_SECRET)."""
    status, body = call("POST", f"{sim}/_simulator/notifications/destinations", {
        "url": f"{node.url}/notifications/amazon", "headerName": "x-api-key", "secret": NOTIFICATION_SECRET})
    expect(status == 201, f"notification destination: {status} {body}")


def generate_orders(api, sim, merchant, location_id, count, seconds=90):
    """`count` new orders at the simulator; returns their ids once FlexBridge lists every one of them."""
    status, body = call("POST", f"{sim}/_simulator/orders", {"merchantId": merchant, "locationId": location_id, "count": count})
    expect(status == 201, f"generate orders: {status} {body}")
    shipment_ids = body["shipmentIds"]
    deadline = time.time() + seconds
    waiting = set(shipment_ids)
    while waiting and time.time() < deadline:
        for shipment_id in list(waiting):
            if call("GET", f"{api}/orders/{shipment_id}", timeout=10)[0] == 200:
                waiting.discard(shipment_id)
        if waiting:
            time.sleep(0.5)
    expect(not waiting, f"orders generated at the simulator not in FlexBridge after {seconds} s: {sorted(waiting)}")
    return shipment_ids


def submit(api, shipment_id, body, key):
    return call("POST", f"{api}/orders/{shipment_id}/commands", body, headers={"Idempotency-Key": key}, timeout=30)


def carry_to_ready_to_ship(api, shipment_id, seconds=120):
    """confirm, pack and label one order through the API; returns (its confirm command's id, its order) once it is
    ready_to_ship with its label stored."""
    status, detail = call("GET", f"{api}/orders/{shipment_id}")
    expect(status == 200, f"order {shipment_id}: {status} {detail}")
    shipment = json.loads(detail["shipment"])
    commands = {}
    for step in ("confirm", "pack", "label"):
        body = {"type": step}
        if step == "pack" and packages_for(shipment):
            body["packages"] = packages_for(shipment)
        status, command = submit(api, shipment_id, body, f"setup-{shipment_id}:{step}")
        expect(status == 202, f"{step} {shipment_id}: {status} {command}")
        commands[step] = command["id"]
    deadline = time.time() + seconds
    while time.time() < deadline:
        status, order = call("GET", f"{api}/orders/{shipment_id}")
        if status == 200 and order["order"]["state"] == "ready_to_ship":
            return commands["confirm"], order
        status, listing = call("GET", f"{api}/orders/{shipment_id}/commands")
        failed = [c for c in listing.get("commands", []) if c["status"] == "failed"] if status == 200 else []
        expect(not failed, f"a setup command failed on {shipment_id}: {failed}")
        time.sleep(0.5)
    raise SetupError(f"order {shipment_id} not ready_to_ship within {seconds} s: {call('GET', f'{api}/orders/{shipment_id}/commands')}")
