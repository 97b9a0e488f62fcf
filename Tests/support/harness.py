"""What the end-to-end scripts share: HTTP calls, the simulator and `flexbridge serve` as processes, and a seller
connected end to end (connection, consent, location, hub mapping)."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

CLIENT_ID = "amzn1.application-oa2-client.simulator"
CLIENT_SECRET = "simulator-secret"
MARKETPLACE = "A21TJRUUN4KGV"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The API key each FlexBridge node (by origin, http://host:port) is called with, as a WMS would; see use_key.
API_KEYS = {}


def origin(url):
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def use_key(url, key):
    """Every later call() to /api/v1 of the node at `url` sends `key` (unless it sets Authorization itself)."""
    API_KEYS[origin(url)] = key


def make_key(binary, database, env=None, role="admin", name="tests", connections=()):
    """A new API key made on the node's command line (`flexbridge keys create`), as an installer makes the first."""
    arguments = [binary, "keys", "create", "--database", database, "--name", name, "--role", role, "--quiet"]
    for connection in connections:
        arguments += ["--connection", connection]
    result = subprocess.run(arguments, capture_output=True, text=True, timeout=120, env=env)
    expect(result.returncode == 0 and result.stdout.strip().startswith("fbk_"),
           f"flexbridge keys create: {result.returncode} {result.stdout} {result.stderr}")
    return result.stdout.strip()


def call(method, url, body=None, content_type="application/json", headers=None, timeout=120):
    """(status, JSON or text). HTTP errors are answers; a connection that fails raises OSError. A call to a node's
    /api/v1 carries the node's key (use_key)."""
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = dict(headers or {})
    key = API_KEYS.get(origin(url))
    if key and "/api/v1/" in url and not any(name.lower() == "authorization" for name in headers):
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, method=method, headers={**headers, "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
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


class Rig:
    """The simulator and a FlexBridge node on free ports, with a work folder for the database and the logs."""

    def __init__(self, binary, prefix, simulator_args=(), serve_args=(), serve_env=None):
        self.binary = binary
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.sim_port, self.api_port = free_port(), free_port()
        self.sim = f"http://127.0.0.1:{self.sim_port}"
        self.api = f"http://127.0.0.1:{self.api_port}/api/v1"
        self.database = os.path.join(self.work, "flexbridge.sqlite")
        self.serve_args = list(serve_args)
        self.serve_env = {**os.environ, **(serve_env or {})}
        self.processes = []
        self.key = None
        simulator = subprocess.Popen(
            [binary, "simulate", "--port", str(self.sim_port), "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET, *simulator_args],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "simulator.log"), "w"))
        self.processes.append(simulator)
        wait_until_up(f"{self.sim}/_simulator/health", simulator, "the simulator")

    def serve(self):
        """Starts `flexbridge serve` on the rig's database and port; returns the process once it answers. The
        first start makes the admin key the rig's calls carry."""
        if self.key is None:
            self.key = make_key(self.binary, self.database, self.serve_env)
            use_key(self.api, self.key)
        process = subprocess.Popen(
            # --allow-private-addresses: the simulator and the webhook receivers run on this machine.
            [self.binary, "serve", "--database", self.database, "--port", str(self.api_port), "--log-level", "warning",
             "--allow-private-addresses", *self.serve_args],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "serve.log"), "a"), env=self.serve_env)
        self.processes.append(process)
        wait_until_up(f"http://127.0.0.1:{self.api_port}/health", process, "flexbridge serve")
        return process

    def connect_seller(self, merchant, name):
        """A connection for `merchant`, authorised at the simulator, with one MFN location mapped to hub HUB1."""
        return connect_seller(self.api, self.sim, merchant, name)

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


def connect_seller(api, sim, merchant, name, hub="HUB1"):
    """A connection for `merchant` on the FlexBridge API `api`, authorised at the simulator `sim`, with one MFN
    location mapped to `hub`. Returns (connection id, location id, the seller's access token headers for the
    simulator)."""
    status, connection = call("POST", f"{api}/connections", {
        "name": name, "sellingPartnerId": merchant, "region": "EU", "marketplaceIds": [MARKETPLACE],
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "endpoint": sim})
    expect(status == 201, f"create connection: {status} {connection}")
    cid = connection["id"]
    status, minted = call("POST", f"{sim}/_simulator/authorizations", {"merchantId": merchant})
    expect(status == 201, f"simulator authorization: {status} {minted}")
    status, body = call("PUT", f"{api}/connections/{cid}/refresh-token", {"refreshToken": minted["refreshToken"]})
    expect(status == 200, f"refresh token: {status} {body}")
    form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": minted["refreshToken"],
                                   "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    status, token = call("POST", f"{sim}/auth/o2/token", form, "application/x-www-form-urlencoded")
    expect(status == 200, f"simulator token: {status} {token}")
    headers = {"x-amz-access-token": token["access_token"], "User-Agent": "flexbridge-tests/1.0"}
    status, location = call("POST", f"{sim}/externalFulfillment/2026-07-30/location", {
        "merchantIds": [merchant], "marketplaceId": MARKETPLACE, "channels": ["MFN"], "locationName": f"{name} hub"},
        headers=headers)
    expect(status in (200, 201), f"simulator location: {status} {location}")
    location_id = location["locationIds"]["MFN"]
    status, body = call("PUT", f"{api}/connections/{cid}/hubs", {"hub": hub, "locationId": location_id, "channel": "MFN"})
    expect(status == 200, f"hub mapping: {status} {body}")
    return cid, location_id, headers


def packages_for(shipment):
    """The WMS's packing: Amazon's recommended box, with serial numbers where a line requires them; None (Amazon's
    recommended packages, chosen by FlexBridge) when no line does."""
    needs_serials = any(line.get("complianceAttributes", {}).get("serialNumberRequirement") == "REQUIRED"
                        for line in shipment["lineItems"])
    if not needs_serials:
        return None
    box = shipment["shippingInfo"]["recommendedPackages"][0]
    return [{
        "id": "BOX1", "length": float(box["dimensions"]["length"]["value"]), "width": float(box["dimensions"]["width"]["value"]),
        "height": float(box["dimensions"]["height"]["value"]), "dimensionUnit": box["dimensions"]["length"]["dimensionUnit"],
        "weight": float(box["weight"]["value"]), "weightUnit": box["weight"]["weightUnit"],
        "items": [{"lineItemId": line["shipmentLineItemId"], "quantity": line["numberOfUnits"],
                   "serialNumbers": [f"SN-{shipment['id']}-{line['shipmentLineItemId']}-{n}" for n in range(line["numberOfUnits"])]}
                  for line in shipment["lineItems"]],
    }]
