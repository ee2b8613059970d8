"""The second factor in Chromium, under the real CSP: an Admin made to set up an authenticator
app types the code computed here (RFC 6238), keeps the recovery codes, logs out and logs in
again with a fresh code. Each page passes axe-core (the walk of every route opens them only
as a redirect); no console error on the way."""

from __future__ import annotations

import time
from typing import Any

import pytest
from allauth.mfa.webauthn.internal.auth import WebAuthn
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache

from tests.browser.test_accessibility import axe_violations
from tests.conftest import PASSWORD, log_in
from tests.second_factor import security_key_credential, totp

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_sets_up_an_authenticator_app_and_logs_in_with_it(
    page: Any, live_server: Any, browser_errors: list[str], admin_user: Any, settings: Any
) -> None:
    settings.SEGADMIN_REQUIRE_MFA = True
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Sent to set a second factor up before anything else.
    page.wait_for_url(f"{live_server.url}/accounts/2fa/")
    assert page.get_by_text("As an Admin you need a second factor").is_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Activate").click()
    # The password is confirmed first.
    page.wait_for_url("**/accounts/reauthenticate/**")
    assert axe_violations(page) == []
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/totp/activate/")
    assert page.get_by_role("img").count() >= 1  # the QR code
    assert axe_violations(page) == []
    secret = page.get_by_label("Authenticator secret").input_value()
    page.get_by_label("Authenticator code").fill(totp(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    codes = page.get_by_label("Unused codes").input_value().split()
    assert len(codes) >= 5
    assert axe_violations(page) == []
    # Now the rest of segadmin opens.
    page.goto(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Welcome, ada").is_visible()

    page.get_by_test_id("whoami").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/authenticate/")
    assert axe_violations(page) == []
    cache.clear()  # the code typed at set-up is spent for its 30 seconds
    page.get_by_label("Code").fill(totp(secret))
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Welcome, ada").is_visible()
    assert browser_errors == []


def test_the_pages_of_ones_security_keys_pass_axe(
    page: Any, live_server: Any, browser_errors: list[str], marketer: Any
) -> None:
    log_in(page, live_server, "maria")
    # Added once logged in (with it, the log-in would ask for the key, which Chromium lacks).
    key = WebAuthn.add(marketer, "Blue key", security_key_credential()).instance
    page.goto(f"{live_server.url}/accounts/2fa/")
    assert page.get_by_text("You have added 1 security key").is_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Manage").click()
    page.wait_for_url("**/accounts/2fa/webauthn/**")
    assert page.get_by_text("Blue key").is_visible()
    assert axe_violations(page) == []
    for path in (f"keys/{key.pk}/edit/", f"keys/{key.pk}/remove/"):
        page.goto(f"{live_server.url}/accounts/2fa/webauthn/{path}")
        if "/reauthenticate/" in page.url:
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Confirm").click()
            page.wait_for_url(f"**/accounts/2fa/webauthn/{path}")
        assert axe_violations(page) == [], path
    assert browser_errors == []


def test_adding_a_workspace_asks_to_confirm_the_password_after_five_minutes(
    page: Any, live_server: Any, browser_errors: list[str], admin_user: Any
) -> None:
    from django.contrib.sessions.models import Session

    from tests.conftest import mark_recently_authenticated

    log_in(page, live_server, "ada")
    # Five minutes and more later: the log-in no longer counts.
    for row in Session.objects.all():
        store = row.get_decoded()
        if store.get("_auth_user_id") == str(admin_user.pk):
            session = SessionStore(session_key=row.session_key)
            mark_recently_authenticated(session, admin_user, at=time.time() - 360)
    page.goto(f"{live_server.url}/workspaces/add/")
    page.wait_for_url("**/accounts/reauthenticate/**")
    assert page.get_by_role("heading", name="Confirm Access").is_visible()
    assert axe_violations(page) == []
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{live_server.url}/workspaces/add/")
    assert page.get_by_label("Public API token").is_visible()
    assert browser_errors == []
