"""The HTTP session single sign-on talks to the identity provider with (discovery, token,
userinfo, keys): requests' own, with a deadline on the whole request.

allauth's SOCIALACCOUNT_REQUESTS_TIMEOUT bounds the connection and each wait between bytes,
not a whole answer: a provider that trickles its answer a byte every few seconds would hold the
log-in, and the web worker serving it, for minutes. Here every request (its connection, the
TLS handshake, the headers and the body) must be over within ``DEADLINE_TIMEOUTS`` times that
timeout; at the deadline a timer shuts the request's connection, and the request fails as a
``requests.exceptions.Timeout``, which the log-in reports as the provider unreachable. A name
lookup is not covered (the resolver blocks outside the socket).
"""

from __future__ import annotations

import socket
import threading
from contextvars import ContextVar
from typing import Any

# The identity provider's HTTP is allauth's, through requests (never Segment's: that is
# segadmin.segment.client's alone); this module only bounds it.
import requests  # noqa: TID251
from requests.adapters import HTTPAdapter  # noqa: TID251
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

DEADLINE_TIMEOUTS = 3  # a whole request may take three times SOCIALACCOUNT_REQUESTS_TIMEOUT


class _Deadline:
    """The connections one request opened, shut down (not closed: their owner closes them) if
    its time runs out before it is over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[int] = []
        self.passed = False
        self._over = False

    def opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock.fileno())
            if self.passed:
                _shut(sock.fileno())

    def cut(self) -> None:
        """The timer's: the time is up."""
        with self._lock:
            if self._over:
                return
            self.passed = True
            for fileno in self._sockets:
                _shut(fileno)

    def over(self) -> None:
        """The request is over (answered or failed): nothing is shut after this."""
        with self._lock:
            self._over = True


def _shut(fileno: int) -> None:
    # The descriptor is still open (the request is not over), whatever object wraps it (a TLS
    # socket after the handshake): shut it through a second socket object, then let go of it
    # without closing the descriptor.
    other = socket.socket(fileno=fileno)
    try:
        other.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already shut, or never connected
    finally:
        other.detach()


_CURRENT: ContextVar[_Deadline | None] = ContextVar("provider_request_deadline", default=None)


def _register(sock: socket.socket) -> socket.socket:
    deadline = _CURRENT.get()
    if deadline is not None:
        deadline.opened(sock)
    return sock


class _Connection(HTTPConnection):
    def _new_conn(self) -> socket.socket:  # urllib3 2's one place a connection's socket is made
        return _register(super()._new_conn())


class _HTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _register(super()._new_conn())


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _HTTPSPool}


class ProviderSession(requests.Session):
    """requests.Session whose every request has ``timeout`` (connecting, and each wait between
    bytes, as allauth gives it) and must be over within ``DEADLINE_TIMEOUTS`` times it."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.deadline = DEADLINE_TIMEOUTS * timeout
        self.mount("http://", _Adapter())
        self.mount("https://", _Adapter())

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        deadline = _Deadline()
        token = _CURRENT.set(deadline)
        timer = threading.Timer(self.deadline, deadline.cut)
        timer.daemon = True
        timer.start()
        try:
            response = super().send(request, **kwargs)  # the body too, unless streamed
        except requests.RequestException as error:
            if deadline.passed:
                raise self._too_long(request) from error
            raise
        finally:
            timer.cancel()
            deadline.over()
            _CURRENT.reset(token)
        if deadline.passed:  # an answer read until the connection ended, cut short
            response.close()
            raise self._too_long(request)
        return response

    def _too_long(self, request: requests.PreparedRequest) -> requests.exceptions.Timeout:
        return requests.exceptions.Timeout(
            f"no whole answer within {self.deadline:g} s", request=request
        )
