"""The transport: ``send`` puts a ``SegmentRequest`` on the wire through a ``requests``
Session with urllib3's ``Retry`` (Segment's policy, segment-api.md §5), in an interactive or a
background ``RetryProfile``, and returns a ``SendResult``; it never raises for HTTP or network
failures."""

from __future__ import annotations

import http.client
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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

from segadmin.lib import userjson
from segadmin.segment import redaction
from segadmin.segment.client.request import SegmentRequest

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
        return userjson.body_or_none(self.body)

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
