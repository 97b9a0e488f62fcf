"""An OTLP/HTTP collector stand-in: takes the spans a node exports (POST /v1/traces, protobuf) and reads back, with a
minimal protobuf reader, each span's trace id, span id, parent span id and name, and the bytes of every export."""
import http.server
import threading


def _fields(data):
    """(field number, wire type, value) of a protobuf message; length-delimited values as bytes."""
    index = 0
    while index < len(data):
        key, index = _varint(data, index)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, index = _varint(data, index)
        elif wire == 1:
            value, index = data[index:index + 8], index + 8
        elif wire == 2:
            length, index = _varint(data, index)
            value, index = data[index:index + length], index + length
        elif wire == 5:
            value, index = data[index:index + 4], index + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def _varint(data, index):
    shift = result = 0
    while True:
        byte = data[index]
        index += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, index
        shift += 7


def spans(export):
    """The spans of one ExportTraceServiceRequest: dicts of trace, span, parent (hex), name, and start and end (Unix
    nanoseconds)."""
    found = []
    for number, _, resource_spans in _fields(export):
        if number != 1:
            continue
        for number, _, scope_spans in _fields(resource_spans):
            if number != 2:
                continue
            for number, _, span in _fields(scope_spans):
                if number != 2:
                    continue
                fields = {n: v for n, w, v in _fields(span) if w in (1, 2)}
                found.append({"trace": fields.get(1, b"").hex(), "span": fields.get(2, b"").hex(),
                              "parent": fields.get(4, b"").hex(), "name": fields.get(5, b"").decode(),
                              "start": int.from_bytes(fields.get(7, bytes(8)), "little"),
                              "end": int.from_bytes(fields.get(8, bytes(8)), "little")})
    return found


class Collector:
    """Listens on a free loopback port; `endpoint` is what OTEL_EXPORTER_OTLP_ENDPOINT takes."""

    def __init__(self):
        exports = self.exports = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/traces":
                    exports.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self):
        return [span for export in list(self.exports) for span in spans(export)]
