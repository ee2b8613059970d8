"""SEGADMIN_PASSWORD_LOGIN=false: the log-in page offers single sign-on only, and a password
post is refused (and audited) but for the break-glass superusers of SEGADMIN_BREAK_GLASS_USERS."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from segadmin.audit.logins import unknown_name
from segadmin.settings import oidc_provider_settings
from tests.conftest import PASSWORD, make_user
from tests.oidc.segadmin_sso import audit_events

LOGIN = "/accounts/login/"


@pytest.fixture
def password_login_off(settings: Any) -> None:
    settings.SEGADMIN_SSO_ENABLED = True
    settings.SEGADMIN_OIDC_NAME = "Acme ID"
    settings.SOCIALACCOUNT_PROVIDERS = oidc_provider_settings(
        issuer="https://id.acme.example",
        client_id="segadmin",
        secret="client-secret-never-shown",
        name="Acme ID",
        scopes=["openid"],
    )
    settings.SEGADMIN_PASSWORD_LOGIN = False
    settings.SEGADMIN_BREAK_GLASS_USERS = ["root", "ada"]


def test_the_log_in_page_has_the_button_and_no_password_form(
    client: Client, password_login_off: None, db: None
) -> None:
    page = client.get(LOGIN).content.decode()
    assert "Log in with Acme ID" in page
    assert 'name="password"' not in page
    assert "client-secret-never-shown" not in page
    # The form may post to the provider's origin (it redirects there), and nowhere else.
    policy = client.get(LOGIN)["Content-Security-Policy"]
    assert "form-action 'self' https://id.acme.example" in policy
    assert 'name="password"' in client.get(f"{LOGIN}?break-glass").content.decode()


def test_with_password_log_in_on_both_are_offered(client: Client, settings: Any, db: None) -> None:
    settings.SEGADMIN_SSO_ENABLED = True
    settings.SEGADMIN_OIDC_NAME = "Acme ID"
    settings.SOCIALACCOUNT_PROVIDERS = oidc_provider_settings(
        issuer="https://id.acme.example", client_id="c", secret="s", name="Acme ID", scopes=[]
    )
    page = client.get(LOGIN).content.decode()
    assert "Log in with Acme ID" in page
    assert 'name="password"' in page


@pytest.mark.parametrize("username", ["maria", "nobody", "ada"])
def test_a_password_post_is_refused_but_for_a_break_glass_superuser(
    client: Client, password_login_off: None, marketer: User, admin_user: User, username: str
) -> None:
    # "ada" is named break-glass but is an Admin by role, not a superuser: refused too.
    response = client.post(LOGIN, {"username": username, "password": PASSWORD})
    assert response.status_code == 200
    assert "Password log-in is turned off" in response.content.decode()
    assert "_auth_user_id" not in client.session
    [failed] = audit_events("user.login_failed")
    # A name that is no account's is not kept as typed: it may be a password.
    assert failed["target"] == (unknown_name(username) if username == "nobody" else username)
    assert failed["details"]["reason"] == "password_login_off"


def test_a_break_glass_superuser_logs_in_with_a_password(
    client: Client, password_login_off: None, superuser: User
) -> None:
    response = client.post(LOGIN, {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(superuser.pk)


def test_a_wrong_password_of_a_break_glass_name_is_the_usual_error(
    client: Client, password_login_off: None, superuser: User
) -> None:
    response = client.post(LOGIN, {"username": "root", "password": "wrong password here"})
    assert "Password log-in is turned off" not in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_superuser_not_named_break_glass_is_refused(
    client: Client, password_login_off: None, db: None
) -> None:
    make_user("other-root", None, is_superuser=True, is_staff=True)
    response = client.post(LOGIN, {"username": "other-root", "password": PASSWORD})
    assert "Password log-in is turned off" in response.content.decode()
    assert "_auth_user_id" not in client.session
