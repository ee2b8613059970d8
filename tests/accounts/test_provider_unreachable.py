"""The identity provider down, broken or too slow: "Log in with <provider>", "Confirm with
<provider>" and the way back from it answer segadmin's single sign-on failure page (502, naming
the provider, never its address or a secret) and are audited as a failed log-in, reason
provider_unreachable; never a 500. Password log-in (and break-glass) keeps working meanwhile.

The provider here is a socket on this machine: a closed port, one that accepts and never
answers (allauth's requests time out after SOCIALACCOUNT_REQUESTS_TIMEOUT, kept short here), or
a small HTTP server answering a discovery document that is not JSON, or one whose token
endpoint is one of the first two, or answers an error status or a body with no token (the
provider at fault, the same failure), or a userinfo answer naming nobody, or one that drips its
answer a byte at a time past the deadline; or a proper OAuth error (a refused code, as before).
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from segadmin.accounts.provider_http import DEADLINE_TIMEOUTS, ProviderSession
from segadmin.audit.models import AuditEntry
from tests.conftest import PASSWORD, make_sso_user, mark_recently_authenticated

pytestmark = pytest.mark.django_db

SECRET = "s3cret-of-the-client-Zq9"
LOGIN = "/accounts/oidc/sso/login/"
CALLBACK = "/accounts/oidc/sso/login/callback/"


@pytest.fixture
def silent() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class FakeProvider:
    """A discovery document at /.well-known/openid-configuration: ``document`` is its body
    (bytes), sent as JSON; ``token_endpoint`` where it says the token endpoint is. Its own
    token endpoint (/token) answers ``token_answer``: a status, a Content-Type (None: no such
    header) and a body, where ``{posted}`` stands for the form posted to it (the code and the
    client secret: as a debugging server's error page might echo them). Its userinfo endpoint
    (/me) answers ``userinfo`` (JSON), if set."""

    def __init__(self) -> None:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/me" and provider.userinfo is not None:
                    self.answer(200, "application/json", provider.userinfo)
                    return
                self.answer(200, "application/json", provider.document())

            def do_POST(self) -> None:
                posted = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                provider.posted.append(posted.decode())
                status, content_type, body = provider.token_answer
                self.answer(status, content_type, body.replace(b"{posted}", posted))

            def answer(self, status: int, content_type: str | None, body: bytes) -> None:
                self.send_response(status)
                if content_type is not None:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.token_endpoint = f"{self.url}/token"
        self.body: bytes | None = None
        self.token_answer: tuple[int, str | None, bytes] = (500, "text/plain", b"")
        self.posted: list[str] = []
        self.userinfo: bytes | None = None  # /me's answer (None: the discovery document)

    def document(self) -> bytes:
        if self.body is not None:
            return self.body
        return json.dumps(
            {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/auth",
                "token_endpoint": self.token_endpoint,
                "userinfo_endpoint": f"{self.url}/me",
                "jwks_uri": f"{self.url}/jwks",
                "end_session_endpoint": f"{self.url}/session/end",
            }
        ).encode()


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    # Polled often, so that shutting it down after each test takes no half second.
    thread = threading.Thread(
        target=provider.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield provider
    finally:
        provider.server.shutdown()
        provider.server.server_close()


def point_at(settings: Any, issuer: str) -> None:
    from tests.oidc.segadmin_sso import configure

    configure(settings, SimpleNamespace(issuer=issuer, client_id="segadmin", client_secret=SECRET))
    settings.SOCIALACCOUNT_REQUESTS_TIMEOUT = 0.5


def assert_unreachable_page(response: Any, issuer: str, *, confirming: bool) -> None:
    assert response.status_code == 502
    html = response.content.decode()
    assert "Test IdP" in html
    assert "could not reach Test IdP" in html
    if confirming:
        assert "Confirming with Test IdP failed" in html
        assert "still logged in" in html
    else:
        assert "Log-in with Test IdP failed" in html
        assert "You are not logged in" in html
    netloc = urlsplit(issuer).netloc
    assert netloc not in html and SECRET not in html


def assert_audited(target: str, caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    entry = AuditEntry.objects.filter(action="user.login_failed").get()
    details: dict[str, Any] = entry.details_data
    assert details["reason"] == "provider_unreachable"
    assert details["method"] == "single sign-on"
    assert details["provider"] == "Test IdP"
    assert entry.target_name == target
    assert SECRET not in entry.details and "127.0.0.1:" not in entry.details
    assert SECRET not in caplog.text
    return details


CASES = ["closed port", "timeout", "not JSON", "JSON but not an object", "no endpoints"]


@pytest.fixture(params=CASES)
def provider_down(
    request: pytest.FixtureRequest,
    settings: Any,
    silent: str,
    refused_url: str,
    fake_provider: FakeProvider,
) -> str:
    """The issuer of a provider down in each of CASES' ways, segadmin pointed at it: a closed
    port, silent (a timeout), or answering a discovery document that is not JSON, JSON but no
    object, or lacking its endpoints."""
    case = request.param
    if case == "closed port":
        issuer = refused_url
    elif case == "timeout":
        issuer = silent
    else:
        fake_provider.body = {
            "not JSON": b"<html><body>Bad gateway</body></html>",
            "JSON but not an object": b'["issuer"]',
            "no endpoints": b'{"issuer": "x"}',
        }[case]
        issuer = fake_provider.url
    point_at(settings, issuer)
    return issuer


def test_log_in_with_the_provider_down_shows_the_failure_page_and_is_audited(
    client: Client, provider_down: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post(LOGIN, {"process": "login"})
    assert_unreachable_page(response, provider_down, confirming=False)
    details = assert_audited("", caplog)
    assert details["exception"]
    assert client.get("/").status_code == 302  # nobody logged in


def test_confirm_with_the_provider_down_shows_the_failure_page_and_keeps_the_session(
    client: Client, provider_down: str, caplog: pytest.LogCaptureFixture
) -> None:
    alice = make_sso_user("alice.admin", "Admin", uid="sub-alice")
    client.force_login(alice)
    mark_recently_authenticated(client.session, alice, at=0)
    response = client.post(LOGIN, {"process": "redirect", "next": "/calls/api/"})
    assert_unreachable_page(response, provider_down, confirming=True)
    assert_audited("alice.admin", caplog)
    assert client.get("/").status_code == 200  # still logged in, nothing confirmed
    assert client.get("/calls/api/").status_code == 302
    assert not AuditEntry.objects.filter(action="user.reauthenticated").exists()


def started(client: Client, fake: FakeProvider, data: dict[str, str]) -> str:
    """Starts a log-in (or confirmation) at the fake provider; its state's id."""
    answer = client.post(LOGIN, data)
    assert answer.status_code == 302
    location = urlsplit(answer["Location"])
    assert location.netloc == urlsplit(fake.url).netloc
    return parse_qs(location.query)["state"][0]


@pytest.mark.parametrize("failure", ["token endpoint closed", "token endpoint silent", "gone"])
@pytest.mark.parametrize("process", ["login", "redirect"])
def test_the_way_back_with_the_provider_down_shows_the_failure_page_and_is_audited(
    client: Client,
    settings: Any,
    silent: str,
    refused_url: str,
    fake_provider: FakeProvider,
    caplog: pytest.LogCaptureFixture,
    failure: str,
    process: str,
) -> None:
    """The browser comes back with a code, and the provider's token endpoint cannot be
    reached, or its discovery document is no longer JSON ("gone")."""
    point_at(settings, fake_provider.url)
    if failure == "token endpoint closed":
        fake_provider.token_endpoint = refused_url
    elif failure == "token endpoint silent":
        fake_provider.token_endpoint = silent
    if process == "redirect":
        alice = make_sso_user("alice.admin", "Admin", uid="sub-alice")
        client.force_login(alice)
    state = started(client, fake_provider, {"process": process, "next": "/calls/api/"})
    if failure == "gone":
        fake_provider.body = b"<html>maintenance</html>"
    response = client.get(CALLBACK, {"state": state, "code": "a-code-from-the-provider"})
    assert_unreachable_page(response, fake_provider.url, confirming=process == "redirect")
    assert "a-code-from-the-provider" not in response.content.decode()
    details = assert_audited("alice.admin" if process == "redirect" else "", caplog)
    assert "a-code-from-the-provider" not in json.dumps(details)
    assert not AuditEntry.objects.filter(action="user.logged_in").exists()
    assert not AuditEntry.objects.filter(action="user.reauthenticated").exists()


CODE = "a-code-from-the-provider"
# What the token endpoint answers that is no OAuth answer: an error status (whatever its body),
# or a success that carries no token in JSON. The way back takes the provider-unreachable path.
BROKEN_TOKEN_ANSWERS = {
    "500 echoing the form": (500, "text/html", b"<h1>Internal Server Error</h1>{posted}"),
    "502 empty": (502, None, b""),
    "503 JSON": (503, "application/json", b'{"error": "temporarily_unavailable"}'),
    "504 JSON echoing the form": (504, "application/json", b'{"message": "{posted}"}'),
    "404 page": (404, "text/html", b"<html>Not Found</html>"),
    "400 not JSON": (400, "text/plain", b"Bad Request: {posted}"),
    "200 HTML": (200, "text/html; charset=utf-8", b"<html>Sign in</html>"),
    "200 garbled JSON": (200, "application/json", b'{"access_token": "xyz'),
    "200 JSON not an object": (200, "application/json", b'"access_token"'),
    "200 JSON a number": (200, "application/json", b"5"),
    "200 JSON without a token": (200, "application/json", b'{"token_type": "Bearer"}'),
    "200 no Content-Type": (200, None, b"access_token"),
}
# A proper OAuth error answer (RFC 6749, 5.2): the code was refused, as before.
REFUSALS = {
    "400 invalid_grant": (
        400,
        "application/json",
        b'{"error": "invalid_grant", "error_description": "bad code: {posted}"}',
    ),
    "401 invalid_client": (401, "application/json; charset=utf-8", b'{"error": "invalid_client"}'),
    # Some providers send their OAuth error with a 200.
    "200 invalid_grant": (200, "application/json", b'{"error": "invalid_grant"}'),
}


def back_with_a_code(
    client: Client, settings: Any, fake: FakeProvider, answer: Any, process: str
) -> Any:
    """Starts a log-in (or a confirmation, for alice), then comes back with a code that the
    fake token endpoint answers with ``answer``."""
    point_at(settings, fake.url)
    fake.token_answer = answer
    if process == "redirect":
        alice = make_sso_user("alice.admin", "Admin", uid="sub-alice")
        client.force_login(alice)
        mark_recently_authenticated(client.session, alice, at=0)
    state = started(client, fake, {"process": process, "next": "/calls/api/"})
    response = client.get(CALLBACK, {"state": state, "code": CODE})
    [posted] = fake.posted  # the code was exchanged once, with the client secret
    assert CODE in posted and SECRET in posted
    return response


def assert_nothing_logged_in(client: Client, process: str) -> None:
    assert not AuditEntry.objects.filter(action="user.logged_in").exists()
    assert not AuditEntry.objects.filter(action="user.reauthenticated").exists()
    if process == "redirect":
        assert client.get("/").status_code == 200  # still logged in, nothing confirmed
        assert client.get("/calls/api/").status_code == 302
    else:
        assert client.get("/").status_code == 302


@pytest.mark.parametrize("answer", list(BROKEN_TOKEN_ANSWERS))
@pytest.mark.parametrize("process", ["login", "redirect"])
def test_a_token_endpoint_error_status_or_unreadable_answer_is_the_provider_unreachable(
    client: Client,
    settings: Any,
    fake_provider: FakeProvider,
    caplog: pytest.LogCaptureFixture,
    answer: str,
    process: str,
) -> None:
    """Not a refused code (allauth folds every answer without a token into one error, the
    400 page): the provider failed, so the 502 page and reason provider_unreachable, naming
    the status or what was wrong, never the body, the code or the client secret."""
    caplog.set_level(logging.DEBUG)
    response = back_with_a_code(
        client, settings, fake_provider, BROKEN_TOKEN_ANSWERS[answer], process
    )
    assert_unreachable_page(response, fake_provider.url, confirming=process == "redirect")
    assert CODE not in response.content.decode()
    details = assert_audited("alice.admin" if process == "redirect" else "", caplog)
    assert details["exception"] == "TokenEndpoint"
    status = BROKEN_TOKEN_ANSWERS[answer][0]
    if status != 200:
        assert details["problem"] == f"the token endpoint answered status {status}"
    everything = json.dumps(details) + caplog.text
    assert CODE not in everything and "Internal Server Error" not in everything
    assert_nothing_logged_in(client, process)


@pytest.mark.parametrize("answer", list(REFUSALS))
@pytest.mark.parametrize("process", ["login", "redirect"])
def test_a_token_endpoint_refusing_the_code_is_still_the_refused_log_in(
    client: Client,
    settings: Any,
    fake_provider: FakeProvider,
    caplog: pytest.LogCaptureFixture,
    answer: str,
    process: str,
) -> None:
    """An OAuth error answer (4xx, JSON with "error"): the provider refused the code; the
    failure page with 400, reason provider_error, as before."""
    caplog.set_level(logging.DEBUG)
    response = back_with_a_code(client, settings, fake_provider, REFUSALS[answer], process)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Test IdP could not complete the log-in." in html
    assert CODE not in html and SECRET not in html
    entry = AuditEntry.objects.filter(action="user.login_failed").get()
    assert entry.details_data == {
        "method": "single sign-on",
        "provider": "Test IdP",
        "reason": "provider_error",
        "exception": "OAuth2Error",
    }
    assert CODE not in caplog.text and SECRET not in caplog.text
    assert_nothing_logged_in(client, process)


def test_password_log_in_and_break_glass_work_while_the_provider_is_down(
    client: Client, settings: Any, admin_user: Any, superuser: Any, refused_url: str
) -> None:
    point_at(settings, refused_url)
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert "Log in with Test IdP" in page.content.decode()
    answer = client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    assert answer["Location"] == "/"
    assert client.get("/").status_code == 200
    client.logout()
    settings.SEGADMIN_PASSWORD_LOGIN = False
    settings.SEGADMIN_BREAK_GLASS_USERS = ["root"]
    assert client.get("/accounts/login/?break-glass").status_code == 200
    answer = client.post("/accounts/login/", {"username": "root", "password": PASSWORD})
    assert answer["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_provider_name_that_does_not_resolve_is_the_same_failure(
    client: Client,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A DNS failure (the resolver answered no address; asked nothing here)."""
    issuer = "https://idp.example.test"
    real = socket.getaddrinfo

    def no_such_name(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "idp.example.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    point_at(settings, issuer)
    response = client.post(LOGIN, {"process": "login"})
    assert_unreachable_page(response, issuer, confirming=False)
    assert assert_audited("", caplog)["exception"] == "ConnectionError"


# A userinfo answer (the token answered with no ID token, so allauth asks for it) that names
# nobody: allauth read its "sub" and answered 500.
NO_SUBJECT = {
    "no sub": b'{"email": "ada@example.com", "preferred_username": "ada"}',
    "not an object": b'["sub", "ada"]',
    "sub not a string": b'{"sub": 5}',
    "sub empty": b'{"sub": ""}',
    "sub null": b'{"sub": null}',
}


@pytest.mark.parametrize("answer", list(NO_SUBJECT))
def test_a_userinfo_answer_that_names_no_subject_is_the_provider_unreachable(
    client: Client,
    settings: Any,
    fake_provider: FakeProvider,
    caplog: pytest.LogCaptureFixture,
    answer: str,
) -> None:
    fake_provider.userinfo = NO_SUBJECT[answer]
    response = back_with_a_code(
        client,
        settings,
        fake_provider,
        (200, "application/json", b'{"access_token": "abc", "token_type": "Bearer"}'),
        "login",
    )
    assert_unreachable_page(response, fake_provider.url, confirming=False)
    details = assert_audited("", caplog)
    assert details["exception"] == "UserInfo"
    assert details["problem"] == "the provider's answer names no subject"
    assert_nothing_logged_in(client, "login")


# --- A provider that answers a byte at a time ------------------------------------------------
# SOCIALACCOUNT_REQUESTS_TIMEOUT bounds each wait between bytes, not a whole answer, so each
# request to the provider also has a deadline (three times that timeout:
# segadmin.accounts.provider_http). Past it the log-in, the confirmation and the way back get
# the failure page (502, provider_unreachable), not a worker held for minutes. Here the timeout
# is 0.5 s (point_at), so the deadline is 1.5 s, and the provider drips a byte every 0.05 s:
# each wait is short, the whole answer would take 20 s or more.

GAP = 0.05  # seconds between two bytes
BODY = b'{"access_token": "' + b"x" * 400 + b'", "token_type": "Bearer"}'
# Far less than the 20 s or more the dripped answer takes, far more than the 1.5 s deadline.
WITHIN = 8.0


class Dripper(socketserver.ThreadingTCPServer):
    """Answers every request 200 with BODY, dripping a byte every GAP seconds: its body only
    (``what="body"``, with a Content-Length or, ``length=False``, read until the connection
    ends), or its status line and headers too (``what="head"``)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, what: str = "body", *, length: bool = True) -> None:
        self.what, self.length = what, length
        self.stopped = threading.Event()
        super().__init__(("127.0.0.1", 0), _Drip)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _Drip(socketserver.BaseRequestHandler):
    server: Dripper

    def handle(self) -> None:
        self.request.recv(65536)  # the request (its body, if any, is not needed)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        head += b"Content-Length: %d\r\n" % len(BODY) if self.server.length else b""
        head += b"Connection: close\r\n\r\n"
        if self.server.what == "body":
            self.request.sendall(head)
            self.drip(BODY)
        else:
            self.drip(head + BODY)

    def drip(self, data: bytes) -> None:
        for index in range(len(data)):
            if self.server.stopped.wait(GAP):
                return
            try:
                self.request.sendall(data[index : index + 1])
            except OSError:  # the client gave up: shut down at its deadline
                return


@pytest.fixture
def dripper(request: pytest.FixtureRequest) -> Iterator[Dripper]:
    what, length = getattr(request, "param", ("body", True))
    server = Dripper(what, length=length)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.stopped.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "dripper", [("body", True), ("body", False), ("head", True)], indirect=True
)
def test_a_request_dripped_past_its_deadline_fails_as_a_timeout(dripper: Dripper) -> None:
    session = ProviderSession(0.5)
    assert session.deadline == DEADLINE_TIMEOUTS * 0.5
    started_at = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout, match=r"no whole answer within 1\.5 s"):
        session.get(f"{dripper.url}/token")
    took = time.monotonic() - started_at
    assert session.deadline <= took < WITHIN


def test_an_answer_within_the_deadline_is_read_whole(fake_provider: FakeProvider) -> None:
    session = ProviderSession(0.5)
    fake_provider.token_answer = (200, "application/json", BODY)
    answer = session.post(fake_provider.token_endpoint, data={"code": "c"})
    assert answer.status_code == 200
    assert answer.json()["token_type"] == "Bearer"
    time.sleep(session.deadline + 0.2)  # the timer was stopped: the session still works
    assert session.post(fake_provider.token_endpoint, data={"code": "d"}).content == BODY


def test_a_discovery_document_dripped_is_the_provider_unreachable(
    client: Client, settings: Any, dripper: Dripper, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    point_at(settings, dripper.url)
    started_at = time.monotonic()
    response = client.post(LOGIN, {"process": "login"})
    assert time.monotonic() - started_at < WITHIN
    assert_unreachable_page(response, dripper.url, confirming=False)
    details = assert_audited("", caplog)
    assert details["exception"] == "Timeout"


@pytest.mark.parametrize("process", ["login", "redirect"])
def test_a_token_endpoint_dripping_its_answer_is_the_provider_unreachable(
    client: Client,
    settings: Any,
    fake_provider: FakeProvider,
    dripper: Dripper,
    caplog: pytest.LogCaptureFixture,
    process: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    point_at(settings, fake_provider.url)
    fake_provider.token_endpoint = f"{dripper.url}/token"
    if process == "redirect":
        alice = make_sso_user("alice.admin", "Admin", uid="sub-alice")
        client.force_login(alice)
        mark_recently_authenticated(client.session, alice, at=0)
    state = started(client, fake_provider, {"process": process, "next": "/calls/api/"})
    started_at = time.monotonic()
    response = client.get(CALLBACK, {"state": state, "code": "a-code-from-the-provider"})
    assert time.monotonic() - started_at < WITHIN
    assert_unreachable_page(response, fake_provider.url, confirming=process == "redirect")
    details = assert_audited("alice.admin" if process == "redirect" else "", caplog)
    assert details["exception"] == "Timeout"
    assert "a-code-from-the-provider" not in response.content.decode() + str(details)


def test_a_deadline_shuts_only_its_own_request(dripper: Dripper) -> None:
    """Two requests at once, one dripped: the other, already answered, is unharmed."""
    with socket.create_connection(dripper.server_address) as unrelated:
        session = ProviderSession(0.2)
        with pytest.raises(requests.exceptions.Timeout):
            session.get(dripper.url)
        unrelated.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert unrelated.recv(1)  # still connected: the deadline shut nothing of it
