"""Log out after a log-in through the identity provider goes on to the provider's
end_session_endpoint (segadmin.accounts.provider_logout): taken from the discovery document at
the log-in's start (the real test provider's), kept in the session, used at Log out without
asking the provider anything; the segadmin session always ends first. A password log-in, a
provider without the endpoint, or SEGADMIN_OIDC_LOGOUT off: a plain log-out."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from segadmin.accounts import provider_logout
from segadmin.accounts.provider_logout import SESSION_KEY, endpoint_in
from tests.conftest import make_sso_user

pytestmark = pytest.mark.django_db

IDP = "https://idp.example.test"
END = f"{IDP}/protocol/openid-connect/logout?ui=compact"


@pytest.fixture
def sso_on(settings: Any) -> None:
    from tests.oidc.segadmin_sso import configure

    configure(settings, SimpleNamespace(issuer=IDP, client_id="segadmin", client_secret="s3"))


def logged_in_through_the_provider(client: Client, endpoint: str = END) -> Any:
    user = make_sso_user("alice.admin", "Admin", uid="sub-alice.admin")
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = endpoint
    session.save()
    return user


def logged_out(client: Client) -> bool:
    return client.get("/").status_code == 302


def test_a_log_in_keeps_the_providers_end_session_endpoint_from_its_discovery_document(
    client: Client, sso: Any
) -> None:
    """Against the real provider: the log-in's start fetches the discovery document once and
    keeps its end_session_endpoint in the log-in's state."""
    config = requests.get(f"{sso.issuer}/.well-known/openid-configuration", timeout=10).json()
    answer = client.post("/accounts/oidc/sso/login/", {"process": "login"})
    assert answer.status_code == 302
    [(state, *_)] = client.session["socialaccount_states"].values()
    assert state["end_session_endpoint"] == config["end_session_endpoint"]
    assert state["end_session_endpoint"].startswith(f"{sso.issuer}/")


def test_log_out_ends_the_session_then_goes_to_the_provider(client: Client, sso_on: None) -> None:
    logged_in_through_the_provider(client)
    answer = client.post("/accounts/logout/")
    assert answer.status_code == 302
    location = urlsplit(answer["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{IDP}/protocol/openid-connect/logout"
    )
    assert parse_qs(location.query) == {
        "ui": ["compact"],
        "client_id": ["segadmin"],
        "post_logout_redirect_uri": ["http://testserver/accounts/login/"],
    }
    assert "s3" not in answer["Location"]
    assert logged_out(client)
    assert SESSION_KEY not in client.session


def test_log_out_asks_the_provider_nothing_so_an_outage_cannot_stop_it(
    client: Client, sso_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise requests.ConnectionError("the provider is down")

    monkeypatch.setattr(requests.Session, "request", no_network)
    logged_in_through_the_provider(client)
    answer = client.post("/accounts/logout/")
    assert answer["Location"].startswith(f"{IDP}/protocol/openid-connect/logout?")
    assert logged_out(client)


@pytest.mark.parametrize(
    "case", ["password log-in", "provider without the endpoint", "setting off", "sso off"]
)
def test_otherwise_log_out_is_local_only(
    client: Client, sso_on: None, settings: Any, admin_user: Any, case: str
) -> None:
    if case == "password log-in":
        client.force_login(admin_user)
    elif case == "provider without the endpoint":
        logged_in_through_the_provider(client, endpoint="")
    elif case == "setting off":
        settings.SEGADMIN_OIDC_LOGOUT = False
        logged_in_through_the_provider(client)
    else:
        logged_in_through_the_provider(client)
        settings.SEGADMIN_SSO_ENABLED = False
    answer = client.post("/accounts/logout/")
    assert answer.status_code == 302
    assert answer["Location"] == "/accounts/login/"
    assert logged_out(client)


def test_only_the_pages_of_a_session_ending_at_the_provider_let_the_log_out_form_go_there(
    client: Client, sso_on: None, admin_user: Any
) -> None:
    logged_in_through_the_provider(client)
    policy = client.get("/")["Content-Security-Policy"]
    assert f"form-action 'self' {IDP};" in policy
    confirm = client.get("/accounts/confirm/")["Content-Security-Policy"]
    assert f"form-action 'self' {IDP};" in confirm  # its own policy, the origin once
    client.post("/accounts/logout/")
    client.force_login(admin_user)
    assert "form-action 'self';" in client.get("/")["Content-Security-Policy"]
    assert IDP not in client.get("/")["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://idp.example.test/logout", True),
        ("http://127.0.0.1:9000/session/end", True),
        ("http://idp.example.test/logout", False),
        ("javascript:alert(1)", False),
        ("https://idp.example.test/logout#x", False),
        ("/session/end", False),
        (["https://idp.example.test/logout"], False),
        (None, False),
    ],
)
def test_only_an_https_end_session_endpoint_is_used(value: Any, kept: bool) -> None:
    assert endpoint_in({"end_session_endpoint": value}) == (value if kept else "")


def test_a_log_in_through_a_provider_without_the_endpoint_forgets_an_earlier_one(
    client: Client, sso_on: None
) -> None:
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    logged_in_through_the_provider(client)
    request = RequestFactory().get("/")
    request.session = SessionStore(session_key=client.session.session_key)
    provider_logout.remember(request, SimpleNamespace(state={"process": "login"}))  # type: ignore[arg-type]
    assert SESSION_KEY not in request.session
    provider_logout.remember(request, SimpleNamespace(state={"end_session_endpoint": END}))  # type: ignore[arg-type]
    assert request.session[SESSION_KEY] == END
