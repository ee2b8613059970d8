"""Re-authentication through the identity provider, in Chromium against the real provider
(tests/oidc/provider.mjs): a person who signs in only with single sign-on (no password, no second
factor) whose log-in is more than five minutes old is sent to "Confirm with <provider>" before
Make an API call; the provider asks them to sign in again (prompt=login) and they land back on
the page, which opens. Signing in there as someone else confirms nothing."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session

from segadmin.accounts.reauth import recently_authenticated
from tests.browser.test_accessibility import axe_violations
from tests.browser.test_audit_browser import shot
from tests.conftest import mark_recently_authenticated
from tests.oidc.fixture import PASSWORD
from tests.oidc.segadmin_sso import PROVIDER_NAME, all_audit_text, audit_events, sso_log_in

pytestmark = pytest.mark.django_db(transaction=True)

CALL = "/calls/api/"


def age_the_log_in(user: User) -> None:
    """The person's log-in in every session of theirs, six minutes ago (nothing confirmed since)."""
    for row in Session.objects.all():
        if row.get_decoded().get("_auth_user_id") == str(user.pk):
            session = SessionStore(session_key=row.session_key)
            mark_recently_authenticated(session, user, at=time.time() - 360)


def sessions_recently_authenticated(user: User) -> bool:
    from django.test import RequestFactory

    for row in Session.objects.all():
        if row.get_decoded().get("_auth_user_id") == str(user.pk):
            request = RequestFactory().get("/")
            request.session = SessionStore(session_key=row.session_key)
            request.user = user
            if recently_authenticated(request):
                return True
    return False


def sign_in_at_provider(page: Any, provider: Any, username: str) -> None:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(provider.issuer))
    page.wait_for_url(f"{origin}/interaction/**")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if page.url.startswith(origin) and page.get_by_role("button", name="Allow").count():
        page.get_by_role("button", name="Allow").click()


def stale_admin(page: Any, live_server: Any, sso: Any) -> User:
    sso_log_in(page, live_server, sso, "alice.admin")
    alice = User.objects.get(username="alice.admin")
    assert not alice.has_usable_password()
    assert alice.groups.filter(name="Admin").exists()
    age_the_log_in(alice)
    page.goto(f"{live_server.url}{CALL}")
    page.wait_for_url("**/accounts/confirm/?next=**")
    return alice


def test_an_sso_only_admin_confirms_with_the_provider_and_the_call_page_opens(
    page: Any, live_server: Any, browser_errors: list[str], sso: Any
) -> None:
    alice = stale_admin(page, live_server, sso)
    assert page.get_by_role("heading", name="Confirm it is you").is_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name=f"Confirm with {PROVIDER_NAME}").click()
    # prompt=login: the provider asks for the password again, though its session persists.
    sign_in_at_provider(page, sso, "alice.admin")
    page.wait_for_url(f"{live_server.url}{CALL}")
    assert page.get_by_role("heading", name="Make an API call").is_visible()
    assert page.get_by_test_id("whoami").inner_text().split() == ["alice.admin", "Admin"]
    assert sessions_recently_authenticated(alice)
    # A confirmation is no new log-in: no second log-in entry, but a confirmation's.
    assert len(audit_events("user.logged_in")) == 1
    [confirmed] = audit_events("user.reauthenticated")
    assert (confirmed["username"], confirmed["role"], confirmed["target"]) == (
        "alice.admin",
        "Admin",
        "alice.admin",
    )
    assert confirmed["details"] == {
        "method": "single sign-on",
        "provider": PROVIDER_NAME,
        "role": "Admin",
    }
    assert sso.client_secret not in all_audit_text()
    # The audit list shows it as the other account events (under the page's CSP).
    page.goto(f"{live_server.url}/audit/")
    row = page.locator("tr", has_text="user.reauthenticated")
    assert row.count() == 1
    assert "user alice.admin" in row.inner_text()
    shot(page, "sso-reauthenticated-audit-list")
    row.get_by_role("link").click()
    page.wait_for_load_state()
    assert '"provider": "Test IdP"' in page.get_by_text('"method": "single sign-on"').inner_text()
    shot(page, "sso-reauthenticated-audit-entry")
    assert browser_errors == []


def test_a_confirmation_forged_without_prompt_login_still_asks_at_the_provider(
    page: Any, live_server: Any, browser_errors: list[str], sso: Any
) -> None:
    """The provider still holds the browser's session from the log-in: a confirmation form
    whose address asks for no fresh sign-in (or for none at all, prompt=none) is still made to
    sign in at the provider, and only then counts."""
    alice = stale_admin(page, live_server, sso)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(sso.issuer))
    page.get_by_test_id("sso-confirm").evaluate(
        "form => { form.action = form.action.split('?')[0] + '?auth_params=prompt%3Dnone'; }"
    )
    page.get_by_role("button", name=f"Confirm with {PROVIDER_NAME}").click()
    page.wait_for_url(
        lambda url: url.startswith(f"{origin}/interaction/") or url.startswith(live_server.url)
    )
    assert page.url.startswith(f"{origin}/interaction/"), page.url
    assert not sessions_recently_authenticated(alice)
    sign_in_at_provider(page, sso, "alice.admin")
    page.wait_for_url(f"{live_server.url}{CALL}")
    assert page.get_by_role("heading", name="Make an API call").is_visible()
    assert sessions_recently_authenticated(alice)
    assert browser_errors == []


def test_confirming_as_another_person_at_the_provider_confirms_nothing(
    page: Any, live_server: Any, browser_errors: list[str], sso: Any
) -> None:
    alice = stale_admin(page, live_server, sso)
    # The provider knows sam.support too; his provider account is not alice's.
    page.get_by_role("button", name=f"Confirm with {PROVIDER_NAME}").click()
    sign_in_at_provider(page, sso, "sam.support")
    page.wait_for_load_state()
    refusal = page.get_by_test_id("sso-failed")
    assert refusal.is_visible()
    assert "someone other than the person logged in" in refusal.inner_text()
    assert "still logged in as before" in refusal.inner_text()
    assert not sessions_recently_authenticated(alice)
    # Still alice, still not allowed in.
    page.goto(f"{live_server.url}{CALL}")
    page.wait_for_url("**/accounts/confirm/?next=**")
    assert page.get_by_test_id("whoami").inner_text().split() == ["alice.admin", "Admin"]
    [failed] = audit_events("user.login_failed")
    assert failed["details"]["reason"] == "confirm_other_account"
