"""A minimal capture server for throughput runs: it counts the messages of each Tracking API
request and keeps nothing else, so a benchmark pointed at it measures the sender alone.

    .venv/bin/python bench/count_server.py --port 8766

HTTP/1.1 with keep-alive, one thread per connection, parsed by hand (no ``http.server``: its
header parsing costs more than counting). Each request is answered before its body is
counted, so the sender's next request overlaps the count. ``POST /v1/batch`` and
``/v1/import`` count the items of ``batch``, ``POST /v1/<call>`` counts one; gzip bodies are
inflated. Every Tracking call is answered ``200 {"success": true}``: nothing is checked (no
write key, no drop reasons, no dedup): that is the fake's job (``manage.py fake_segment``).
For the benchmarks' own bookkeeping it answers the fake's control calls they use:
``GET /_fake/state`` (``counts.accepted`` = messages counted, ``requests``),
``POST /_fake/reset`` and ``POST /_fake/write_keys`` (accepted and ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import socketserver
import threading
import zlib

TRACKING = frozenset(
    f"/v1/{name}" for name in ("identify", "track", "page", "screen", "group", "alias")
)
BATCH = frozenset({"/v1/batch", "/v1/import"})
MAX_HEADER_LINES = 100


class Counter:
    """Messages counted so far. A request is answered before its body is counted (the
    sender goes on while this process parses), so ``state()`` first waits for the bodies
    still being counted: a benchmark that asks after its last answer sees every message."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.messages = 0
        self.requests = 0
        self.pending = 0

    def begin(self) -> None:
        with self.changed:
            self.pending += 1

    def add(self, messages: int) -> None:
        with self.changed:
            self.messages += messages
            self.requests += 1
            self.pending -= 1
            self.changed.notify_all()

    def reset(self) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.pending == 0, timeout=30)
            self.messages = self.requests = 0

    def state(self) -> dict:
        with self.changed:
            self.changed.wait_for(lambda: self.pending == 0, timeout=30)
            return {
                "counts": {"accepted": self.messages},
                "messages": 0,  # none kept
                "requests": self.requests,
            }


def count_messages(path: str, body: bytes, gzipped: bool) -> int:
    """How many messages ``body`` carries; a body that cannot be read counts none."""
    try:
        if gzipped:
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if path not in BATCH:
            return 1
        batch = json.loads(body).get("batch")
    except (ValueError, AttributeError, zlib.error):
        return 0
    return len(batch) if isinstance(batch, list) else 0


class Handler(socketserver.StreamRequestHandler):
    rbufsize = 256 * 1024
    server: Server

    def setup(self) -> None:
        super().setup()
        # The answer goes out in one write; without this a delayed ACK could hold it back.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        while self._one_request():
            pass

    def _one_request(self) -> bool:
        """Serve one request; False when the connection should close."""
        request_line = self.rfile.readline(65537)
        if not request_line:
            return False
        try:
            method, target, version = request_line.decode("latin-1").split()
        except ValueError:
            self._answer(400, b'{"code":"bad_request"}', close=True)
            return False
        length, chunked, gzipped = 0, False, False
        keep_alive = version == "HTTP/1.1"
        for _ in range(MAX_HEADER_LINES):
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value or 0)
            elif name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "content-encoding":
                gzipped = "gzip" in value
            elif name == "connection":
                keep_alive = value == "keep-alive" or (keep_alive and value != "close")
        body = self._read_chunked() if chunked else self.rfile.read(length) if length else b""
        path = target.split("?", 1)[0]
        if method == "POST" and (path in BATCH or path in TRACKING):
            counter = self.server.counter
            counter.begin()
            self._answer(200, b'{"success":true}', close=not keep_alive)
            counter.add(count_messages(path, body, gzipped))
        elif path.rstrip("/") == "/_fake/state":
            state = json.dumps(self.server.counter.state()).encode()
            self._answer(200, state, close=not keep_alive)
        elif method == "POST" and path.rstrip("/") == "/_fake/reset":
            self.server.counter.reset()
            self._answer(200, b'{"reset":true}', close=not keep_alive)
        elif method == "POST" and path.rstrip("/") == "/_fake/write_keys":
            self._answer(200, b'{"added":true}', close=not keep_alive)
        else:
            self._answer(404, b'{"code":"not_found"}', close=not keep_alive)
        return keep_alive

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _answer(self, status: int, body: bytes, *, close: bool) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        connection = "Connection: close\r\n" if close else ""
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{connection}\r\n"
        ).encode("latin-1")
        self.wfile.write(head + body)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, Handler)
        self.counter = Counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--host", default="127.0.0.1")
    options = parser.parse_args()
    with Server((options.host, options.port)) as server:
        host, port = server.server_address[:2]
        print(f"Counting server listening on http://{host}:{port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it quietly
            server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
