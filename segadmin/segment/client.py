"""The only module that speaks HTTP to Segment: Tracking API, Public API and Profile API.

Requests are built by pure functions (``tracking_request``, ``batch_request``, the raw
builders, the Public and Profile API helpers) into a ``SegmentRequest``, which the caller can
record (``redacted()``) before ``send`` puts it on the wire. ``send`` never raises for HTTP or
network failures: it returns a ``SendResult`` with the status, the body, the number of attempts
and a readable reason. Retries follow Segment's policy (segment-api.md §5) through urllib3's
``Retry`` on a ``requests`` adapter, with an interactive and a background profile.

Nothing here logs a secret: ``repr()`` of a request hides its headers and body, and
``SegmentRequest.redacted()`` and ``SendResult.redacted()`` remove every secret through
``segadmin.segment.redaction``, the one module that knows what a secret looks like.
"""

from __future__ import annotations

import base64
import gzip as gzip_module
import http.client
import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, unquote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse, HTTPConnectionPool, HTTPSConnectionPool
from urllib3._collections import HTTPHeaderDict
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

import segadmin
from segadmin.lib import userjson
from segadmin.segment import redaction
from segadmin.segment.errors import UnsafeRequest
from segadmin.segment.hosts import profiles_base, public_base, tracking_base
from segadmin.segment.messages import CALL_TYPES, encode

log = logging.getLogger("segadmin.segment")


class _NoQueryInLogs(logging.Filter):
    """urllib3 logs the URL of each retry; a raw request's query string may hold a credential,
    so it is cut off before the record is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.split("?", 1)[0] if isinstance(arg, str) else arg for arg in record.args
            )
        return True


_urllib3_log = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _NoQueryInLogs) for f in _urllib3_log.filters):
    _urllib3_log.addFilter(_NoQueryInLogs())

USER_AGENT = f"segadmin/{segadmin.__version__}"


def _now() -> datetime:
    # Aware, independent of Django's USE_TZ: the client also runs in benchmarks and the fake.
    return datetime.now(tz=UTC)


# --- The request ----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class SegmentRequest:
    """One HTTP request to Segment, exactly as it will be sent.

    ``secrets`` holds the credentials inside it so that ``redacted()`` can remove every copy;
    it is never part of ``repr()``.
    """

    api: Literal["tracking", "public", "profiles"]
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    call_type: str
    secrets: tuple[str, ...] = field(default=(), compare=False)

    def __repr__(self) -> str:
        return (
            f"SegmentRequest(api={self.api!r}, method={self.method!r}, "
            f"call_type={self.call_type!r}, url={redaction.scrub_text(self.url, self.secrets)!r})"
        )

    def decoded_body(self) -> bytes | None:
        """The body without its gzip encoding (None when there is no body or it is unreadable)."""
        if self.body is None:
            return None
        if _header(self.headers, "Content-Encoding").lower() == "gzip":
            try:
                return gzip_module.decompress(self.body)
            except (OSError, EOFError):
                return None
        return self.body

    def body_object(self) -> Any | None:
        """The body parsed as JSON, or None when it is not JSON."""
        raw = self.decoded_body()
        if not raw:
            return None
        try:
            return userjson.body(raw)  # typed by a person in Make an API call: any depth
        except (ValueError, UnicodeDecodeError):
            return None

    def known_secrets(self) -> list[str]:
        """Every secret this request carries (see ``redaction.request_secrets``)."""
        return redaction.request_secrets(self)

    def redacted(self) -> dict[str, Any]:
        """``{"method", "url", "headers", "body"}`` safe to store and show: Authorization
        masked to its scheme, every write key in the body and every copy of a secret replaced
        by ``****``; the body decoded (JSON to an object, anything else to text)."""
        secrets = self.known_secrets()
        return {
            "method": self.method,
            "url": redaction.redact_url(self.url, secrets),
            "headers": redaction.redact_headers(self.headers, secrets),
            "body": redaction.redact_body(
                self.body,
                secrets,
                gzipped=_header(self.headers, "Content-Encoding").lower() == "gzip",
                names=redaction.is_write_key_name,
            ),
        }

    def summary(self) -> dict[str, Any]:
        """The searchable IDs of the message sent (for a batch, of its first message)."""
        ids: dict[str, str | None] = dict.fromkeys(
            ("user_id", "anonymous_id", "event", "message_id")
        )
        body = self.body_object() if self.api == "tracking" else None
        message = body
        if isinstance(body, dict) and isinstance(body.get("batch"), list):
            message = body["batch"][0] if body["batch"] else None
        if not isinstance(message, dict):
            return ids
        for key, name in (
            ("user_id", "userId"),
            ("anonymous_id", "anonymousId"),
            ("event", "event"),
            ("message_id", "messageId"),
        ):
            value = message.get(name)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                ids[key] = redaction.scrub_text(str(value), self.secrets)
        return ids


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


# --- The result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    """What came back: ``status`` is None when no HTTP answer arrived (see ``error``)."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    attempts: int
    duration_ms: float
    error: str | None
    waits: tuple[float, ...] = ()  # seconds waited before each retry

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any | None:
        if not self.body:
            return None
        try:
            return userjson.body(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    def redacted(self, secrets: Iterable[str]) -> redaction.RedactedAnswer:
        """The answer as it may be stored and shown: headers, body and reason with the
        request's secrets and anything named like a secret masked."""
        return redaction.redact_answer(self.headers, self.body, self.error, secrets)


Transport = Callable[[SegmentRequest], SendResult]


# --- Retries --------------------------------------------------------------------------------

# Segment's policy: network errors, 408, 410, 429, 460 and 5xx except 501 and 505 (511 only
# with OAuth, which we do not use). Everything else, 3xx included, is final.
RETRY_STATUSES = frozenset(
    {408, 410, 429, 460} | {code for code in range(500, 600) if code not in (501, 505, 511)}
)


@dataclass(frozen=True)
class RetryProfile:
    """How hard ``send`` tries. Copy with ``dataclasses.replace`` to tune (tests do).

    The first retry is immediate, later ones wait ``backoff_first`` doubling up to
    ``backoff_max``, plus up to ``jitter`` (a fraction) more. A ``Retry-After`` answer is
    waited out up to ``retry_after_cap`` seconds; above that, ``give_up_over_cap`` decides
    between waiting the cap and not retrying. With a ``deadline``, no retry starts that could
    finish after it (attempt timeouts included).
    """

    name: str
    max_retries: int
    connect_timeout: float
    read_timeout: float
    backoff_first: float = 0.5
    backoff_max: float = 60.0
    jitter: float = 0.1
    retry_after_cap: float = 300.0
    give_up_over_cap: bool = False
    deadline: float | None = None

    def backoff(self, retry_number: int) -> float:
        if retry_number <= 1:
            return 0.0
        base = self.backoff_first * 2.0 ** (retry_number - 2)
        return min(self.backoff_max, base * (1 + random.random() * self.jitter))


INTERACTIVE = RetryProfile(
    name="interactive",
    max_retries=1,
    connect_timeout=3.0,
    read_timeout=5.0,
    retry_after_cap=2.0,
    give_up_over_cap=True,
    deadline=10.0,
)
BACKGROUND = RetryProfile(name="background", max_retries=10, connect_timeout=5.0, read_timeout=15.0)


@dataclass
class _Attempts:
    started: float
    count: int = 1
    waits: list[float] = field(default_factory=list)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


class SegmentRetry(Retry):
    """urllib3's Retry with Segment's policy: which statuses, backoff with jitter,
    Retry-After capped, the interactive deadline, and the attempts counted for the result."""

    # Retry only on RETRY_STATUSES; a Retry-After on a 413 must not make it retryable.
    RETRY_AFTER_STATUS_CODES = frozenset()

    def __init__(
        self,
        *args: Any,
        profile: RetryProfile = INTERACTIVE,
        attempts: _Attempts | None = None,
        request_headers: Any = None,
        wait: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile
        self.attempts = attempts if attempts is not None else _Attempts(time.monotonic())
        self.request_headers = request_headers
        self.wait = wait

    @classmethod
    def for_profile(
        cls, profile: RetryProfile, attempts: _Attempts, request_headers: Any = None
    ) -> SegmentRetry:
        return cls(
            total=profile.max_retries,
            connect=None,
            read=None,
            status=None,
            other=None,
            redirect=False,
            allowed_methods=None,  # messageId dedup makes a retried POST safe
            status_forcelist=RETRY_STATUSES,
            raise_on_status=False,
            respect_retry_after_header=True,
            profile=profile,
            attempts=attempts,
            request_headers=request_headers,
        )

    def new(self, **kw: Any) -> SegmentRetry:
        kw.setdefault("profile", self.profile)
        kw.setdefault("attempts", self.attempts)
        kw.setdefault("request_headers", self.request_headers)
        return super().new(**kw)

    def get_retry_after(self, response: Any) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None  # an unreadable Retry-After falls back to the backoff

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> SegmentRetry:
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        number = len(new.history)
        profile = self.profile
        wait = profile.backoff(number)
        asked = self.get_retry_after(response) if response is not None else None
        if asked is not None:
            if asked > profile.retry_after_cap and profile.give_up_over_cap:
                raise MaxRetryError(_pool, url, error or ResponseError("Retry-After too long"))
            wait = min(asked, profile.retry_after_cap)
        if profile.deadline is not None:
            elapsed = time.monotonic() - self.attempts.started
            worst = elapsed + wait + profile.connect_timeout + profile.read_timeout
            if worst > profile.deadline:
                raise MaxRetryError(_pool, url, error or ResponseError("no time left to retry"))
        new.wait = wait
        self.attempts.count += 1
        self.attempts.waits.append(wait)
        if self.request_headers is not None:
            # urllib3 copies headers per attempt, so the pool below puts the header on the
            # wire; this keeps the prepared request (what test doubles see) in step.
            self.request_headers["X-Retry-Count"] = str(number)
        return new

    def sleep(self, response: Any = None) -> None:
        if self.wait > 0:
            _sleep(self.wait)


class _HTTPPool(HTTPConnectionPool):
    """Connection pool that adds ``X-Retry-Count: n`` to the n-th retry."""

    def urlopen(  # type: ignore[override]  # as urllib3's own: RequestMethods differs
        self,
        method: str,
        url: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        retries: Retry | bool | int | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> BaseHTTPResponse:
        if isinstance(retries, Retry) and retries.history:
            headers = HTTPHeaderDict(headers or {})
            headers["X-Retry-Count"] = str(len(retries.history))
        return super().urlopen(method, url, body, headers, retries, *args, **kwargs)


class _HTTPSPool(_HTTPPool, HTTPSConnectionPool):
    pass


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


_local = threading.local()


def _session() -> tuple[requests.Session, _Adapter]:
    """One Session per thread (a Session is not thread-safe; its pool is worth keeping)."""
    state = getattr(_local, "state", None)
    if state is None:
        session = requests.Session()
        session.headers.clear()  # send only the headers the request lists
        adapter = _Adapter(pool_connections=4, pool_maxsize=4)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        state = _local.state = (session, adapter)
    return state


def send(request: SegmentRequest, *, profile: RetryProfile = INTERACTIVE) -> SendResult:
    """Send ``request`` and return what happened. Never raises for HTTP or network
    failures; ``attempts`` counts the first try and every retry."""
    session, adapter = _session()
    attempts = _Attempts(time.monotonic())
    try:
        prepared = requests.Request(
            request.method, request.url, headers=dict(request.headers), data=request.body
        ).prepare()
    except requests.RequestException:
        return _failure(attempts, "invalid URL")
    adapter.max_retries = SegmentRetry.for_profile(profile, attempts, prepared.headers)
    environment = session.merge_environment_settings(prepared.url, {}, False, None, None)
    try:
        response = session.send(
            prepared,
            timeout=(profile.connect_timeout, profile.read_timeout),
            allow_redirects=False,
            **environment,
        )
        body = response.content
    except (requests.RequestException, OSError, http.client.HTTPException) as exc:
        reason = _describe(exc, profile)
        log.info("%s %s: no answer (%s)", request.method, request.call_type, reason)
        return _failure(attempts, reason)
    result = SendResult(
        status=response.status_code,
        headers=dict(response.headers),
        body=body,
        attempts=attempts.count,
        duration_ms=(time.monotonic() - attempts.started) * 1000,
        error=None,
        waits=tuple(attempts.waits),
    )
    log.debug(
        "%s %s: %s after %d attempt(s)",
        request.method,
        request.call_type,
        result.status,
        result.attempts,
    )
    return result


def _failure(attempts: _Attempts, reason: str) -> SendResult:
    return SendResult(
        status=None,
        headers={},
        body=b"",
        attempts=attempts.count,
        duration_ms=(time.monotonic() - attempts.started) * 1000,
        error=reason,
        waits=tuple(attempts.waits),
    )


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (args, urllib3's reason, __cause__)."""
    seen: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending and len(seen) < 20:
        current = pending.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for inner in (
            getattr(current, "reason", None),
            current.__cause__,
            current.__context__,
            *getattr(current, "args", ()),
        ):
            if isinstance(inner, BaseException):
                pending.append(inner)
    return seen


def _describe(exc: BaseException, profile: RetryProfile) -> str:
    """A readable reason that never repeats the URL (it may carry a credential)."""
    causes = _causes(exc)

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(c, types) for c in causes)

    if has(NameResolutionError, socket.gaierror):
        return "DNS lookup failed"
    if has(ConnectionRefusedError):
        return "connection refused"
    if has(requests.ConnectTimeout) or (has(ConnectTimeoutError) and not has(NewConnectionError)):
        return f"connection timed out after {profile.connect_timeout:g} s"
    if has(requests.ReadTimeout, ReadTimeoutError, TimeoutError, socket.timeout):
        return f"timed out after {profile.read_timeout:g} s"
    if has(ssl.SSLError, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if has(
        ConnectionResetError,
        BrokenPipeError,
        ConnectionAbortedError,
        http.client.RemoteDisconnected,
        ProtocolError,
        requests.exceptions.ChunkedEncodingError,
    ):
        return "connection reset"
    if has(NewConnectionError):
        return "could not connect"
    if has(requests.exceptions.InvalidURL, requests.exceptions.MissingSchema):
        return "invalid URL"
    return "network error"


# --- Request builders (pure, no I/O) ---------------------------------------------------------


def _basic(secret: str) -> str:
    return "Basic " + base64.b64encode(f"{secret}:".encode()).decode()


def _sent_at(sent_at: datetime | None) -> str:
    value = sent_at or _now()
    if value.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    return value.isoformat()


def _tracking_headers(write_key: str, *, gzip: bool = False) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Authorization": _basic(write_key),
    }
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return headers


def _require_key(value: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is empty")


def tracking_request(
    message: dict[str, Any], *, write_key: str, region: str, sent_at: datetime | None = None
) -> SegmentRequest:
    """``POST {tracking}/v1/{type}`` with the message, ``sentAt`` (now, unless given) and
    ``writeKey`` in the body, and Basic auth ``writeKey:``."""
    _require_key(write_key, "The write key")
    call_type = message.get("type")
    if call_type not in CALL_TYPES:
        raise ValueError(f"Unknown call type {call_type!r}")
    body = {**message, "sentAt": _sent_at(sent_at), "writeKey": write_key}
    return SegmentRequest(
        api="tracking",
        method="POST",
        url=f"{tracking_base(region)}/v1/{call_type}",
        headers=_tracking_headers(write_key),
        body=encode(body),
        call_type=call_type,
        secrets=(write_key,),
    )


def batch_request(
    messages: list[dict[str, Any]],
    *,
    write_key: str,
    region: str,
    gzip: bool = False,
    sent_at: datetime | None = None,
) -> SegmentRequest:
    """``POST {tracking}/v1/batch`` with ``{"batch", "sentAt", "writeKey"}``, gzipped on
    request. Validate and split first (``validate_batch``, ``split_into_batches``)."""
    _require_key(write_key, "The write key")
    body = encode({"batch": messages, "sentAt": _sent_at(sent_at), "writeKey": write_key})
    if gzip:
        body = gzip_module.compress(body, compresslevel=6, mtime=0)
    return SegmentRequest(
        api="tracking",
        method="POST",
        url=f"{tracking_base(region)}/v1/batch",
        headers=_tracking_headers(write_key, gzip=gzip),
        body=body,
        call_type="batch",
        secrets=(write_key,),
    )


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# Set by us or by the HTTP layer; letting a person set them could redirect or split requests.
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "te",
        "trailer",
        "upgrade",
        "keep-alive",
        "expect",
    }
)


def _control(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def _check_path(path: Any) -> str:
    if not isinstance(path, str) or not path.strip():
        raise UnsafeRequest("path", "Enter a path such as /v1/track.")
    if _control(path):
        raise UnsafeRequest("path", "The path contains control characters.")
    if _SCHEME.match(path) or path.startswith("//"):
        raise UnsafeRequest("path", "Enter a path relative to the API, not a full URL.")
    if not path.startswith("/"):
        raise UnsafeRequest("path", "The path must start with /.")
    if any(char.isspace() for char in path):
        raise UnsafeRequest("path", "The path contains spaces: encode them as %20.")
    if "?" in path or "#" in path:
        raise UnsafeRequest("path", "Put query parameters in Query String, not in the path.")
    decoded = path
    for _ in range(3):  # double-encoded tricks (%252e%252e) included
        decoded = unquote(decoded)
    if "\\" in decoded:
        raise UnsafeRequest("path", "The path cannot contain backslashes.")
    if "@" in decoded:
        raise UnsafeRequest("path", "The path cannot contain @.")
    if ".." in decoded:
        raise UnsafeRequest("path", "The path cannot contain '..'.")
    if decoded.startswith("//") or _control(decoded):
        raise UnsafeRequest("path", "The path cannot contain encoded slashes or controls.")
    return path


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise UnsafeRequest("headers", f"{str(name)[:40]!r} is not a valid header name.")
        if name.lower() in ("authorization", "proxy-authorization"):
            raise UnsafeRequest(
                "headers",
                "Authorization is set from the stored credential; remove it from Headers.",
            )
        if name.lower() in _RESERVED_HEADERS:
            raise UnsafeRequest("headers", f"The {name} header is set automatically; remove it.")
        text = "" if value is None else str(value)
        if any(char in text for char in "\r\n\x00") or _control(text.replace("\t", "")):
            raise UnsafeRequest("headers", f"The value of {name} contains a line break or control.")
        checked[name] = text
    return checked


def _query_string(query: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> str:
    if not query:
        return ""
    pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
    try:
        clean = [(str(key), "" if value is None else str(value)) for key, value in pairs]
    except (TypeError, ValueError):
        raise UnsafeRequest("query", "Query String must be name/value pairs.") from None
    return urlencode(clean, quote_via=quote)


def _raw_request(
    *,
    api: Literal["tracking", "public"],
    base: str,
    method: str,
    path: str,
    headers: Mapping[str, str] | None,
    query: Any,
    body: str | bytes | None,
    authorization: str,
    secret: str,
) -> SegmentRequest:
    verb = (method or "").strip().upper()
    if verb not in _METHODS:
        raise UnsafeRequest("method", f"Method must be one of {', '.join(_METHODS)}.")
    url = base + _check_path(path)
    query_string = _query_string(query)
    if query_string:
        url = f"{url}?{query_string}"
    target, expected = urlsplit(url), urlsplit(base)
    if (target.scheme, target.netloc) != (expected.scheme, expected.netloc) or not (
        target.path.startswith(expected.path)
    ):
        raise UnsafeRequest("path", "The request must go to the configured Segment API.")
    final_headers = {"User-Agent": USER_AGENT}
    final_headers.update(_check_headers(headers))
    payload = body.encode() if isinstance(body, str) else body
    if payload is not None and not _header(final_headers, "Content-Type"):
        final_headers["Content-Type"] = "application/json"
    final_headers["Authorization"] = authorization
    return SegmentRequest(
        api=api,
        method=verb,
        url=url,
        headers=final_headers,
        body=payload,
        call_type="raw",
        secrets=(secret,),
    )


def raw_tracking_request(
    *,
    method: str,
    path: str,
    headers: dict[str, str],
    query: dict[str, str] | list[tuple[str, str]],
    body: str | bytes | None,
    write_key: str,
    region: str,
) -> SegmentRequest:
    """Any request to a path of the Tracking API, authorised by Basic ``writeKey:``.

    Raises ``UnsafeRequest(field, message)`` for anything that could leave the configured
    base (full URLs, ``//host``, ``..``, ``@``, backslashes, controls), header injection, or an
    ``Authorization`` header given by the caller."""
    _require_key(write_key, "The write key")
    return _raw_request(
        api="tracking",
        base=tracking_base(region),
        method=method,
        path=path,
        headers=headers,
        query=query,
        body=body,
        authorization=_basic(write_key),
        secret=write_key,
    )


def raw_public_request(
    *,
    method: str,
    path: str,
    headers: dict[str, str],
    query: dict[str, str] | list[tuple[str, str]],
    body: str | bytes | None,
    token: str,
    region: str,
) -> SegmentRequest:
    """Any request to a path of the Public API with ``Authorization: Bearer <token>``; the
    same checks as ``raw_tracking_request``."""
    _require_key(token, "The token")
    return _raw_request(
        api="public",
        base=public_base(region),
        method=method,
        path=path,
        headers=headers,
        query=query,
        body=body,
        authorization=f"Bearer {token}",
        secret=token,
    )


# --- Public API -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiError:
    """A Public or Profile API call that did not give an answer we can use."""

    kind: str
    message: str
    status: int | None


@dataclass(frozen=True)
class Workspace:
    id: str
    slug: str
    name: str


@dataclass(frozen=True)
class Source:
    id: str
    slug: str
    name: str
    enabled: bool
    write_keys: tuple[str, ...] = field(default=(), repr=False)
    labels: dict[str, str] = field(default_factory=dict)
    workspace_id: str = ""
    source_type: str = ""  # the catalog name, e.g. "Javascript", "HTTP API"


WRITE_KEYS_HIDDEN = (
    "The token has no Source Admin permission, so write keys are hidden. Give the token the "
    "Source Admin role in Segment (Access Management > Tokens), or enter write keys by hand."
)
MAX_PAGES = 1000


def sources_hide_write_keys(sources: list[Source] | ApiError) -> bool:
    """True when sources came back but none with a write key: the token lacks Source Admin."""
    if isinstance(sources, ApiError) or not sources:
        return False
    return not any(source.write_keys for source in sources)


def _public_request(
    path: str, query: list[tuple[str, str]], *, token: str, region: str, call_type: str
) -> SegmentRequest:
    _require_key(token, "The token")
    url = public_base(region) + path
    if query:
        url += "?" + urlencode(query, quote_via=quote)
    return SegmentRequest(
        api="public",
        method="GET",
        url=url,
        headers={
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {token}",
        },
        body=None,
        call_type=call_type,
        secrets=(token,),
    )


def _detail(result: SendResult, secret: str) -> str:
    """Segment's own words from an error body (Public or Profile API shape), if any, read from
    the redacted answer: an error that quotes a credential shows it masked."""
    body = result.redacted([secret]).json()
    text = ""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            text = str(errors[0].get("message") or "")
        elif isinstance(body.get("error"), dict):
            text = str(body["error"].get("message") or "")
    return text[:300]


def _api_error(result: SendResult, *, secret: str, what: str, credential: str) -> ApiError:
    status = result.status
    detail = _detail(result, secret)
    said = f" Segment said: {detail}" if detail else ""
    if status is None:
        reason = redaction.redact_message(result.error, [secret])
        return ApiError("network", f"Could not reach Segment: {reason}.", None)
    if status in (401, 403):
        return ApiError(
            "unauthorized",
            f"Segment refused the {credential}: check that it is right and still active, and "
            f"that it has access to this {what}.{said}",
            status,
        )
    if status == 404:
        return ApiError("not_found", f"Segment found no such {what}.{said}", status)
    if status == 429:
        wait = result.headers.get("Retry-After")
        when = f" in {wait} s" if wait and wait.isdigit() else " in a minute"
        return ApiError(
            "rate_limited", f"Segment is limiting the request rate: try again{when}.", status
        )
    if status >= 500 or status == 460:
        return ApiError(
            "server_error",
            f"Segment had a temporary problem (HTTP {status}): try again shortly.{said}",
            status,
        )
    if 300 <= status < 400:
        return ApiError(
            "invalid_response",
            f"Segment answered with a redirect (HTTP {status}); check the API URL setting.",
            status,
        )
    if 200 <= status < 300:
        return ApiError("invalid_response", "Segment's answer could not be read.", status)
    return ApiError("request_failed", f"Segment refused the request (HTTP {status}).{said}", status)


def _invalid(result: SendResult) -> ApiError:
    return ApiError("invalid_response", "Segment's answer could not be read.", result.status)


def _data(result: SendResult, key: str) -> Any:
    body = result.json()
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        return body["data"].get(key)
    return None


def _parse_source(item: Any, token: str) -> Source | None:
    """A source from the Public API. Only ``write_keys`` holds secrets; every text that is
    shown or stored (name, slug, labels, ...) is scrubbed of them and of the token."""
    if not isinstance(item, dict) or not item.get("id"):
        return None
    write_keys = tuple(str(key) for key in item.get("writeKeys") or () if key)
    secrets = (token, *write_keys)

    def shown(value: Any) -> str:
        return redaction.scrub_text(str(value), secrets)

    labels = {}
    for label in item.get("labels") or []:
        if isinstance(label, dict) and "key" in label:
            labels[shown(label["key"])] = shown(label.get("value", ""))
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    return Source(
        id=shown(item["id"]),
        slug=shown(item.get("slug") or ""),
        name=shown(item.get("name") or item.get("slug") or item["id"]),
        enabled=bool(item.get("enabled", True)),
        write_keys=write_keys,
        labels=labels,
        workspace_id=shown(item.get("workspaceId") or ""),
        source_type=shown(metadata.get("name") or ""),
    )


def get_workspace(*, token: str, region: str, transport: Transport) -> Workspace | ApiError:
    """The workspace the Public API token belongs to (``GET /``)."""
    request = _public_request("/", [], token=token, region=region, call_type="public:get_workspace")
    result = transport(request)
    if not result.ok:
        return _api_error(result, secret=token, what="workspace", credential="Public API token")
    workspace = _data(result, "workspace")
    if not isinstance(workspace, dict) or not workspace.get("id"):
        return _invalid(result)

    def shown(value: Any) -> str:  # what is shown and stored never holds the token
        return redaction.scrub_text(str(value), [token])

    return Workspace(
        id=shown(workspace["id"]),
        slug=shown(workspace.get("slug") or ""),
        name=shown(workspace.get("name") or workspace.get("slug") or workspace["id"]),
    )


def list_sources(
    *, token: str, region: str, transport: Transport, page_size: int = 200
) -> list[Source] | ApiError:
    """Every source of the token's workspace, following the cursor over all pages (one
    request per page through ``transport``). See ``sources_hide_write_keys``."""
    count = str(max(1, min(1000, int(page_size))))
    sources: list[Source] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        query = [("pagination.count", count)]
        if cursor:
            query.append(("pagination.cursor", cursor))
        request = _public_request(
            "/sources", query, token=token, region=region, call_type="public:list_sources"
        )
        result = transport(request)
        if not result.ok:
            return _api_error(result, secret=token, what="workspace", credential="Public API token")
        page = _data(result, "sources")
        if not isinstance(page, list):
            return _invalid(result)
        for item in page:
            source = _parse_source(item, token)
            if source is None:
                return _invalid(result)
            sources.append(source)
        pagination = _data(result, "pagination")
        cursor = pagination.get("next") if isinstance(pagination, dict) else None
        if not cursor:
            return sources
        if cursor in seen:  # a server that hands back a cursor twice would loop forever
            return _invalid(result)
        seen.add(str(cursor))
        cursor = str(cursor)
    return ApiError("invalid_response", "Segment returned too many pages of sources.", None)


def get_source(
    *, token: str, region: str, source_id: str, transport: Transport
) -> Source | ApiError:
    """One source by id (``GET /sources/{id}``)."""
    if not source_id or not str(source_id).strip():
        return ApiError("invalid_request", "Enter a source ID.", None)
    request = _public_request(
        f"/sources/{quote(str(source_id).strip(), safe='')}",
        [],
        token=token,
        region=region,
        call_type="public:get_source",
    )
    result = transport(request)
    if not result.ok:
        return _api_error(result, secret=token, what="source", credential="Public API token")
    source = _parse_source(_data(result, "source"), token)
    return source if source is not None else _invalid(result)


# --- Profile API ----------------------------------------------------------------------------

IDENTIFIER_TYPES = ("user_id", "anonymous_id")
PROFILE_PAGE_LIMIT = 200


def profile_traits_request(
    *,
    space_id: str,
    token: str,
    region: str,
    identifier_type: str,
    identifier: str,
    cursor: str | None = None,
) -> SegmentRequest:
    """``GET /v1/spaces/{space}/collections/users/profiles/{type}:{value}/traits``."""
    _require_key(token, "The Profile API token")
    if identifier_type not in IDENTIFIER_TYPES:
        raise ValueError(f"identifier_type must be one of {IDENTIFIER_TYPES}")
    path = (
        f"/v1/spaces/{quote(space_id.strip(), safe='')}/collections/users/profiles/"
        f"{identifier_type}:{quote(identifier, safe='')}/traits"
    )
    query = [("limit", str(PROFILE_PAGE_LIMIT))]
    if cursor:
        query.append(("next", cursor))
    return SegmentRequest(
        api="profiles",
        method="GET",
        url=f"{profiles_base(region)}{path}?{urlencode(query, quote_via=quote)}",
        headers={
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": _basic(token),
        },
        body=None,
        call_type="profiles:traits",
        secrets=(token,),
    )


def get_profile_traits(
    *,
    space_id: str,
    token: str,
    region: str,
    identifier_type: str,
    identifier: str,
    transport: Transport,
) -> dict[str, Any] | ApiError:
    """The current traits of one user from the Profile API, all pages merged.

    A 404 becomes ``ApiError(kind="no_profile")``: Identify data takes a while to appear."""
    if not identifier or not identifier.strip():
        return ApiError("invalid_request", "Enter a User ID or an Anonymous ID to look up.", None)
    if not space_id or not space_id.strip():
        return ApiError("invalid_request", "The Profile API space ID is not set.", None)
    label = "user ID" if identifier_type == "user_id" else "anonymous ID"
    traits: dict[str, Any] = {}
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        request = profile_traits_request(
            space_id=space_id,
            token=token,
            region=region,
            identifier_type=identifier_type,
            identifier=identifier,
            cursor=cursor,
        )
        result = transport(request)
        if result.status == 404:
            return ApiError(
                "no_profile",
                f"No profile yet: Segment has no profile for the {label} {identifier!r}. "
                "Identify calls can take a few minutes to appear.",
                404,
            )
        if not result.ok:
            return _api_error(
                result, secret=token, what="space", credential="Profile API access token"
            )
        body = result.json()
        if not isinstance(body, dict) or not isinstance(body.get("traits"), dict):
            return _invalid(result)
        traits.update(body["traits"])
        page = body.get("cursor")
        if not isinstance(page, dict):
            page = {}
        cursor = page.get("next") if page.get("has_more") else None
        if not cursor:
            return traits
        if cursor in seen:
            return _invalid(result)
        seen.add(str(cursor))
        cursor = str(cursor)
    return ApiError("invalid_response", "Segment returned too many pages of traits.", None)
