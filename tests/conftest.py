"""Fixtures shared by the whole suite: personas, the network guard and the browser."""

from __future__ import annotations

import importlib
import ipaddress
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from pytest_django.plugin import blocking_manager_key

from segadmin.accounts.roles import ROLES
from segadmin.credentials.models import Workspace
from tests.factories import make_workspace

# The local fake of Segment (`fake_segment`, `fake_segment_server`) and the OpenID Connect
# provider of the single sign-on tests (`oidc_provider`, `oidc_provider_server`).
pytest_plugins = ["tests.fake_segment", "tests.oidc.fixture", "tests.oidc.segadmin_sso"]


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Real hashing costs ~0.3 s per persona; tests check roles and pages, not the hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


CHROMIUM = os.environ.get("SEGADMIN_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery staple"


# --- The test database -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    # A reused test database may have been flushed last time: the roles must be there.
    with django_db_blocker.unblock():
        ensure_roles()


# --- Personas -------------------------------------------------------------------------------


# The data migrations that make the roles and their permissions, in order.
ROLE_MIGRATIONS = (
    ("0002_create_roles", "create_roles"),
    ("0003_admins_manage_everyones_imports", "grant_to_admins"),
    ("0004_everyone_who_sends_reads_tracking_plans", "grant"),
    ("0006_privacy_requests_and_approvals", "grant"),
)


def ensure_roles() -> None:
    """Transactional tests flush every table, the roles made by the data migration included:
    put them back the way the migration makes them."""
    if Group.objects.filter(name__in=ROLES).count() < len(ROLES):
        from django.apps import apps

        for module, function in ROLE_MIGRATIONS:
            migration = importlib.import_module(f"segadmin.accounts.migrations.{module}")
            getattr(migration, function)(apps, None)


def make_user(username: str, role: str | None, **extra: Any) -> User:
    ensure_roles()
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_sso_user(username: str, role: str | None, *, uid: str) -> User:
    """A person who signs in only with single sign-on: no usable password, one provider
    account (``uid``, the provider's subject)."""
    from allauth.socialaccount.models import SocialAccount

    user = make_user(username, role)
    user.set_unusable_password()
    user.save()
    SocialAccount.objects.create(user=user, provider="sso", uid=uid)
    return user


@pytest.fixture
def marketer(db: None) -> User:
    return make_user("maria", "Marketer", email="maria@example.com")


@pytest.fixture
def support(db: None) -> User:
    return make_user("sam", "Support", email="sam@example.com")


@pytest.fixture
def admin_user(db: None) -> User:
    """An Admin by role (not a superuser): replaces pytest-django's fixture of that name."""
    return make_user("ada", "Admin", email="ada@example.com")


@pytest.fixture
def superuser(db: None) -> User:
    ensure_roles()
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def no_role_user(db: None) -> User:
    return make_user("nora", None)


@pytest.fixture
def persona(request: pytest.FixtureRequest) -> Callable[[str], User]:
    """persona("marketer") -> the user of that fixture; for parametrised role tests."""
    return lambda name: request.getfixturevalue(name)


# --- Stored credentials ---------------------------------------------------------------------

# The Public API token of the `workspace` fixture (tests check that no form of it leaks).
TOKEN = "sgp_TESTtokenAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


@pytest.fixture
def workspace(db: None) -> Workspace:
    """Workspace “Acme” in the US region, with the Public API token TOKEN."""
    return make_workspace(TOKEN)


# --- Background tasks -----------------------------------------------------------------------


@pytest.fixture
def immediate_tasks(settings: Any) -> None:
    """Tasks run in-process, at enqueue time."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


# --- Logging in in tests ------------------------------------------------------------------


def mark_recently_authenticated(session: Any, user: User, at: float | None = None) -> None:
    """Record in ``session`` a password log-in of ``user`` at ``at`` (now), as django-allauth
    does at a real log-in: what re-authentication before sensitive actions looks at."""
    import time

    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY,
        AUTHENTICATION_METHODS_SESSION_KEY,
    )

    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time() if at is None else at, "username": user.username}
    ]
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session.save()


@pytest.fixture(autouse=True)
def _force_login_is_a_fresh_log_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Client.force_login stands for logging in: like a real log-in it leaves the record of a
    password just given, so the sensitive actions (segadmin.accounts.reauth) work for five
    minutes. tests/accounts/test_reauthentication.py ages or drops that record to test them."""
    from django.test import Client

    real = Client.force_login

    def force_login(self: Client, user: Any, backend: str | None = None) -> None:
        real(self, user, backend)
        mark_recently_authenticated(self.session, user)

    monkeypatch.setattr(Client, "force_login", force_login)


# --- Rate limits --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """django-allauth counts attempts (re-authentication, second-factor codes) in the cache:
    each test starts with none, whatever the tests before it did."""
    from django.core.cache import cache

    cache.clear()
    yield


# --- No test may reach the network ----------------------------------------------------------


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple):  # Unix sockets
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to an address outside 127.0.0.0/8 and ::1 fails the test loudly."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(address: Any) -> None:
        if not _is_local(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        guard(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture
def refused_url() -> Iterator[str]:
    """http://127.0.0.1:<port> where connections are refused: a port bound for the whole test
    and never listened on. Closing it at once would free the port for anyone (another xdist
    worker's live server or fake, or the kernel choosing it as a client's own port, which then
    connects to itself) while the test still counts on it being closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


# --- Transactional tests and the audit log's triggers ---------------------------------------

AUDIT_TABLES = ("audit_auditentry", "audit_auditmessage")


def _is_transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        return True
    names = getattr(item, "fixturenames", ())
    return "transactional_db" in names or "live_server" in names


def _set_audit_triggers(item: pytest.Item, enabled: bool) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with item.config.stash[blocking_manager_key].unblock(), connection.cursor() as cursor:
        for table in AUDIT_TABLES:
            cursor.execute("SELECT to_regclass(%s)", [table])
            if cursor.fetchone()[0] is None:
                continue
            action = "ENABLE" if enabled else "DISABLE"
            cursor.execute(f"ALTER TABLE {table} {action} TRIGGER USER")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A transactional test ends with Django flushing every table (TRUNCATE). On PostgreSQL the
    audit log's trigger refuses that, as it must in production; the test database's owner lifts
    it for the flush only, and puts it back straight after. The flush also empties what the
    data migrations made (the roles): they are put back too, for the tests that follow."""
    if not _is_transactional(item):
        return (yield)
    _set_audit_triggers(item, enabled=False)
    try:
        return (yield)
    finally:
        _set_audit_triggers(item, enabled=True)
        with item.config.stash[blocking_manager_key].unblock():
            ensure_roles()


# --- Browser tests --------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    have_chromium = os.path.exists(CHROMIUM) or shutil.which("chromium")
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "page" in fixtures or "browser" in fixtures:  # a page, or a context of one's own
            item.add_marker(pytest.mark.browser)
            if not have_chromium:
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"Chromium not found at {CHROMIUM}: install it with "
                        "`sudo apt-get install -y chromium` (Debian/Ubuntu) to run browser tests"
                    )
                )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Playwright cannot download its own browsers here: use the system Chromium.
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def browser_errors(page: Any, live_server: Any) -> Iterator[list[str]]:
    """Console errors, page errors and requests that leave 127.0.0.1, collected for asserts."""
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def check_request(request: Any) -> None:
        url = request.url
        if not url.startswith(("http://localhost", "http://127.0.0.1", "data:", "about:")):
            errors.append(f"request left the machine: {url}")

    page.on("request", check_request)
    yield errors


def log_in(page: Any, live_server: Any, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
