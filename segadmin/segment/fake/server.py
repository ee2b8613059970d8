"""A real HTTP server on a loopback port that plays Segment's Tracking, Public and Profile
APIs, plus a control and inspection API under ``/_fake/`` (JSON) and a page at ``/_fake/``.

One server serves all three APIs, so the three base URL settings can point at the same port:
the routes do not overlap (``/v1/<call>`` tracking, ``/``, ``/sources`` public,
``/v1/spaces/...`` profiles).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from segadmin.segment.fake import page, plans, regulations, tracking
from segadmin.segment.fake.state import (
    Arrival,
    FakeState,
    Fault,
    decode_cursor,
    encode_cursor,
    pagination_of,
)

MAX_BODY = 8 * 1024 * 1024  # larger bodies get a 413 before being read
KEEP_BODY = 64 * 1024  # bytes of each request body kept for inspection
PROFILE_ROUTE = re.compile(r"^/v1/spaces/([^/]+)/collections/users/profiles/([^/]+)/traits$")
SOURCE_ROUTE = re.compile(r"^/sources/([^/]+)$")
ID_TYPES = frozenset({"user_id", "anonymous_id", "email", "phone", "ga_client_id", "android.id"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    state: FakeState


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections, as with Segment
    server_version = "FakeSegment/1.0"
    # Buffered: headers and body leave in one send, not two (http.server flushes after each
    # request; a Tracking answer is flushed before its messages are stored).
    wbufsize = 64 * 1024
    server: _Server

    def setup(self) -> None:
        super().setup()
        # A large answer goes out in several writes; without this Nagle's algorithm would
        # hold the last one back for a delayed ACK (40 ms a request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # silent: thousands of requests a second

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def state(self) -> FakeState:
        return self.server.state

    def _headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        *,
        html: bool = False,
    ) -> None:
        if isinstance(payload, bytes):
            body = payload
        elif html:
            body = str(payload).encode()
        else:
            body = json.dumps(payload).encode()
        self.send_response(status)
        content_type = "text/html; charset=utf-8" if html else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _drop(self) -> None:
        # SO_LINGER 0 makes close() send a RST: the client sees "connection reset".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    # --- routing ----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        path, query = split.path or "/", split.query
        raw = self._read_body()
        if raw is None:
            self.close_connection = True
            self._send(413, {"code": "payload_too_large", "message": "Exceed payload limit"})
            return
        if path == "/_fake" or path.startswith("/_fake/"):
            self._control(path, query, raw)
            return
        api = _api_of(path)
        headers = self._headers()
        status, payload = 0, None
        extra: dict[str, str] = {}
        latency = self.state.latency_ms
        if latency:
            time.sleep(latency / 1000)
        fault = self.state.next_fault()
        if fault is not None and fault.drop:
            self.state.record_request(
                method=self.command,
                path=path,
                query=query,
                headers=dict(self.headers.items()),
                body=raw[:KEEP_BODY],
                status=None,
                api=api,
            )
            self._drop()
            return
        arrival = None
        if fault is not None:
            status, payload, extra = _fault_answer(fault, api)
        elif api == "tracking":
            status, payload, arrival = self._tracking(path, headers, raw)
        elif api == "public":
            status, payload, extra = self._public(path, query, headers, raw)
        elif api == "profiles":
            status, payload, extra = self._profiles(path, query, headers)
        else:
            status, payload = 404, {"code": "not_found", "message": f"No route for {path}"}
        self.state.record_request(
            method=self.command,
            path=path,
            query=query,
            headers=dict(self.headers.items()),
            body=raw[:KEEP_BODY],
            status=status,
            api=api,
        )
        if arrival is None:
            self._send(status, payload, extra)
            return
        # Answer first, then check and store: the answer does not depend on the messages,
        # and the sender's next request overlaps this work. Readers wait for it (storing).
        with self.state.storing():
            try:
                self._send(status, payload, extra)
                self.wfile.flush()
            finally:
                tracking.accept(self.state, arrival)

    # http.server calls do_<METHOD>; every method goes through the same routing.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    # --- Tracking API -----------------------------------------------------------------------

    def _tracking(
        self, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, Arrival | None]:
        if self.command != "POST":
            return 405, {"code": "method_not_allowed", "message": "Use POST."}, None
        (status, payload), arrival = tracking.handle(self.state, path, headers, raw)
        return status, payload, arrival

    # --- Public API -------------------------------------------------------------------------

    def _public(
        self, path: str, query: str, headers: dict[str, str], raw: bytes = b""
    ) -> tuple[int, Any, dict[str, str]]:
        authorization = headers.get("authorization", "")
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        with self.state.lock:
            workspace = self.state.workspaces.get(token) if token else None
        limits = {"X-RateLimit-Remaining": "1000", "X-RateLimit-Consumed": "1"}
        if workspace is None:
            return 401, _public_error("unauthorized", "Unauthorized", status=401), {}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            if self.command == "POST":
                return 400, _public_error("invalid-json", "The body is not JSON."), limits
            body = None
        privacy = regulations.handle(
            self.state,
            workspace,
            self.command,
            path,
            query,
            body,
            self.state.workspace_sources(token),
        )
        if privacy is not None:
            status, payload, headers = privacy
            return status, payload, headers
        if self.command != "GET":
            return 405, _public_error("method-not-allowed", "Use GET."), limits
        if path == "/":
            data = {
                "workspace": {"id": workspace.id, "slug": workspace.slug, "name": workspace.name}
            }
            return 200, {"data": data}, limits
        sources = self.state.workspace_sources(token)
        answer = plans.handle(self.state, workspace, path, query, sources)
        if answer is not None:
            status, payload, headers = answer
            return status, payload, {**limits, **headers}
        if path == "/sources":
            return (*_sources_page(sources, workspace, query), limits)
        match = SOURCE_ROUTE.match(path)
        if match:
            wanted = unquote(match.group(1))
            for source in sources:
                if source.id == wanted:
                    data = source.as_api(
                        show_keys=workspace.source_admin, workspace_id=workspace.id
                    )
                    plan_id = plans.plan_of_source(self.state, source.id)
                    return 200, {"data": {"source": data, "trackingPlanId": plan_id}}, limits
            return 404, _public_error("not-found", "Source not found"), limits
        return 404, _public_error("not-found", "Not found"), limits

    # --- Profile API ------------------------------------------------------------------------

    def _profiles(
        self, path: str, query: str, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        extra = {"Request-Id": str(uuid.uuid4())}
        match = PROFILE_ROUTE.match(path)
        if not match:
            return 404, _profile_error("not_found", "Route not found."), extra
        if self.command != "GET":
            return 405, _profile_error("invalid_request_error", "Use GET."), extra
        space_id = unquote(match.group(1))
        token = _basic_user(headers.get("authorization", ""))
        self.state.wait_settled()  # an Identify answered just before may update the profile
        with self.state.lock:
            space = self.state.spaces.get(space_id)
            if space is None or not token or token != space.token:
                return (
                    401,
                    _profile_error("authentication_error", "Invalid access token for this space."),
                    extra,
                )
            identifier = unquote(match.group(2))
            id_type, _, value = identifier.partition(":")
            if id_type not in ID_TYPES or not value:
                return (
                    400,
                    _profile_error("validation_error", f"Unknown identifier {identifier!r}."),
                    extra,
                )
            traits = space.profiles.get(f"{id_type}:{value}")
            traits = None if traits is None else dict(traits)
        if traits is None:
            return 404, _profile_error("not_found", "Profile was not found."), extra
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            limit = int(params.get("limit") or 10)
        except ValueError:
            limit = -1
        if not 1 <= limit <= 200:
            return 400, _profile_error("validation_error", "limit must be 1 to 200."), extra
        offset = decode_cursor(params["next"]) if params.get("next") else 0
        if offset is None or offset < 0:
            return 400, _profile_error("invalid_request_error", "Invalid cursor."), extra
        names = sorted(traits)
        chunk = names[offset : offset + limit]
        has_more = offset + limit < len(names)
        return (
            200,
            {
                "traits": {name: traits[name] for name in chunk},
                "cursor": {
                    "url": path,
                    "has_more": has_more,
                    "next": encode_cursor(offset + limit) if has_more else "",
                },
            },
            extra,
        )

    # --- control ----------------------------------------------------------------------------

    def _control(self, path: str, query: str, raw: bytes) -> None:
        state = self.state
        params = dict(parse_qsl(query))
        if path in ("/_fake", "/_fake/") and self.command == "GET":
            self._send(200, page.render(state, status=params.get("status")), html=True)
            return
        try:
            data = json.loads(raw) if raw else {}
            answer = _control_answer(state, self.command, path, params, data)
        except (ValueError, TypeError, KeyError) as exc:
            self._send(400, {"error": str(exc)})
            return
        if answer is None:
            self._send(404, {"error": f"No control route {self.command} {path}"})
        else:
            self._send(200, answer)


def _api_of(path: str) -> str:
    if path in tracking.PATHS:
        return "tracking"
    if path.startswith("/v1/spaces/"):
        return "profiles"
    if path == "/" or path == "/sources" or path.startswith("/sources/"):
        return "public"
    if path == "/tracking-plans" or path.startswith("/tracking-plans/"):
        return "public"
    if path in ("/regulations", "/suppressions") or path.startswith("/regulations/"):
        return "public"
    return "unknown"


def _basic_user(authorization: str) -> str:
    if authorization[:6].lower() != "basic ":
        return ""
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.split(":", 1)[0]


def _public_error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"errors": [{"type": kind, "message": message, **extra}]}


def _profile_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _fault_answer(fault: Fault, api: str) -> tuple[int, Any, dict[str, str]]:
    status = fault.status or 500
    headers: dict[str, str] = dict(fault.headers)
    if fault.retry_after is not None:
        headers["Retry-After"] = fault.retry_after
        if status == 429:
            headers["X-RateLimit-Reset"] = fault.retry_after
    if fault.body is not None:
        return status, fault.body.encode(), headers
    if api == "public":
        return status, _public_error("RequestError", f"Injected {status}"), headers
    if api == "profiles":
        return status, _profile_error("api_error", f"Injected {status}"), headers
    return status, {"code": "injected", "message": f"Injected {status}"}, headers


def _sources_page(sources: list[Any], workspace: Any, query: str) -> tuple[int, Any]:
    """One page of sources; accepts ``pagination.count`` and ``pagination[count]`` alike."""
    count, offset = pagination_of(query)
    if not 1 <= count <= 1000:
        return 422, _public_error(
            "input-validation",
            '"pagination.count" must be a number from 1 to 1000',
            field="pagination.count",
        )
    if workspace.max_page_size:
        count = min(count, workspace.max_page_size)
    if offset is None or offset < 0:
        return 422, _public_error(
            "input-validation", '"pagination.cursor" is not valid', field="pagination.cursor"
        )
    chunk = sources[offset : offset + count]
    has_next = offset + count < len(sources)
    return 200, {
        "data": {
            "sources": [
                s.as_api(show_keys=workspace.source_admin, workspace_id=workspace.id) for s in chunk
            ],
            "pagination": {
                "current": encode_cursor(offset),
                "next": encode_cursor(offset + count) if has_next else None,
                "previous": encode_cursor(max(0, offset - count)) if offset else None,
                "totalEntries": len(sources),
            },
        }
    }


def _control_answer(
    state: FakeState, method: str, path: str, params: dict[str, str], data: Any
) -> Any:
    """The control API: JSON in, JSON out. None means no such route."""
    route = (method, path.rstrip("/"))
    if not isinstance(data, dict):
        raise ValueError("send a JSON object")
    if route == ("GET", "/_fake/state"):
        return state.summary()
    if route == ("GET", "/_fake/messages"):
        return {"messages": state.received(path=params.get("path"), status=params.get("status"))}
    if route == ("GET", "/_fake/requests"):
        with_body = params.get("with_body", "1") not in ("0", "false")
        with state.lock:
            records = [r.as_dict(with_body=with_body) for r in state.requests]
        api = params.get("api")
        return {"requests": [r for r in records if api is None or r["api"] == api]}
    if route == ("GET", "/_fake/regulations"):
        return {"regulations": regulations.listed(state)}
    if method != "POST":
        return None
    if route == ("POST", "/_fake/reset"):
        state.reset()
        return {"reset": True}
    if route == ("POST", "/_fake/write_keys"):
        state.add_write_key(str(data["key"]), data.get("source_id"))
        return {"added": True}
    if route == ("POST", "/_fake/workspaces"):
        workspace = state.add_workspace(
            str(data["token"]),
            id=data.get("id"),
            slug=data.get("slug", "fake-workspace"),
            name=data.get("name", "Fake workspace"),
            source_admin=bool(data.get("source_admin", True)),
            max_page_size=data.get("max_page_size"),
            protocols=bool(data.get("protocols", True)),
        )
        if "rules_per_minute" in data:
            workspace.rules_per_minute = int(data["rules_per_minute"])
        return {"id": workspace.id}
    if route == ("POST", "/_fake/sources"):
        source = state.add_source(
            id=data.get("id"),
            slug=data.get("slug"),
            name=data.get("name"),
            token=data.get("token"),
            write_keys=list(data.get("write_keys") or []),
            enabled=bool(data.get("enabled", True)),
            labels=dict(data.get("labels") or {}),
            source_type=data.get("source_type", "HTTP API"),
        )
        return {"id": source.id}
    if route == ("POST", "/_fake/spaces"):
        state.add_space(
            str(data["space_id"]),
            str(data["token"]),
            collect_identifies=bool(data.get("collect_identifies")),
        )
        return {"added": True}
    if route == ("POST", "/_fake/profiles"):
        state.add_profile(
            space_id=str(data["space_id"]),
            token=str(data["token"]),
            traits=dict(data.get("traits") or {}),
            user_id=data.get("user_id"),
            anonymous_id=data.get("anonymous_id"),
            email=data.get("email"),
        )
        return {"added": True}
    if route == ("POST", "/_fake/faults"):
        if data.get("clear"):
            with state.lock:
                state.faults.clear()
        state.queue_faults(list(data.get("faults") or data.get("statuses") or []))
        if "latency_ms" in data:
            state.set_latency(float(data["latency_ms"]))
        return state.summary()
    answer = plans.control(state, path.rstrip("/"), data)
    if answer is not None:
        return answer
    answer = regulations.control(state, path.rstrip("/"), data)
    if answer is not None:
        return answer
    if route == ("POST", "/_fake/latency"):
        state.set_latency(float(data["ms"]))
        return state.summary()
    return None


class FakeSegmentServer:
    """The fake on ``host:port`` (port 0 picks a free one); ``start()`` runs it in a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: FakeState | None = None):
        self.state = state or FakeState()
        self.httpd = _Server((host, port), Handler)
        self.httpd.state = self.state
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def start(self) -> FakeSegmentServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
