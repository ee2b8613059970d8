"""An Admin adds a Support person in one step in Chromium; that person logs in with the
one-time password, chooses their own, and sees exactly Support's pages. Deleting a person in
the Django admin logs their open browser out."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from segadmin.accounts.models import UserSession
from segadmin.accounts.navigation import NAVIGATION
from tests.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def _support_labels() -> list[str]:
    permissions = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name="Support").permissions.select_related("content_type")
    }
    return [item.label for item in NAVIGATION if item.permission in permissions]


def test_an_admin_adds_a_support_person_who_then_sees_exactly_supports_pages(
    page, live_server, browser_errors, admin_user, browser
) -> None:
    log_in(page, live_server, "ada")
    page.locator(".main-nav").get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Email").fill("nina@example.com")
    page.get_by_label("Support").check()
    page.get_by_role("button", name="Add the person").click()
    # The click returns once the next page is committed, not parsed: wait for what it shows.
    expect(page.get_by_role("heading", name="nina added as Support")).to_be_visible()
    password = page.get_by_test_id("one-time-password").input_value()
    assert len(password) == 19
    page.get_by_role("link", name="Back to Users").click()
    assert "Support" in page.get_by_role("row", name="nina").inner_text()
    assert browser_errors == []

    context = browser.new_context()
    theirs = context.new_page()
    try:
        log_in_errors: list[str] = []
        theirs.on("console", lambda m: log_in_errors.append(m.text) if m.type == "error" else None)
        theirs.goto(f"{live_server.url}/accounts/login/")
        theirs.get_by_label("Username").fill("nina")
        theirs.get_by_label("Password").fill(password)
        theirs.get_by_role("button", name="Log in").click()
        theirs.wait_for_url(f"{live_server.url}/users/password/")
        assert theirs.get_by_test_id("must-change").is_visible()
        theirs.locator("#id_new_password1").fill("nina's own long secret")
        theirs.locator("#id_new_password2").fill("nina's own long secret")
        theirs.get_by_role("button", name="Save the password").click()
        theirs.wait_for_url(f"{live_server.url}/")
        labels = theirs.locator(".main-nav .nav-link").all_inner_texts()
        assert labels == _support_labels()
        assert "User lookup" in labels and "Identify" in labels
        assert "Users" not in labels and "Track" not in labels and "Workspaces" not in labels
        hrefs = [link.get_attribute("href") for link in theirs.locator(".main-nav .nav-link").all()]
        for href in hrefs:
            response = theirs.goto(f"{live_server.url}{href}")
            assert response is not None and response.status == 200, href
        response = theirs.goto(f"{live_server.url}/users/")
        assert response is not None and response.status == 403
        assert [e for e in log_in_errors if "403" not in e] == []
    finally:
        context.close()


def test_an_admin_limits_a_person_to_chosen_sources_with_the_pickers(
    page, live_server, browser_errors, admin_user, support
) -> None:
    """The Users page's source limits: chosen with the searchable pickers, saved, shown in the
    list; the page passes axe with the pickers drawn and a choice made."""
    from tests.browser.test_accessibility import axe_violations
    from tests.factories import make_source, make_workspace

    shop = make_workspace("tok-shop-0123456789", name="Shop")
    make_source("Web shop", "wk-web-0123456789", workspace=shop)
    make_source("Mobile app", "wk-app-0123456789")
    log_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/users/{support.pk}/")
    assert page.get_by_test_id("person-limits").inner_text() == "Every source"
    sources = page.get_by_role("combobox", name="Sources", exact=True)
    sources.locator("xpath=ancestor::div[contains(@class, 'ts-control')]").click()
    sources.fill("mobile")
    sources.press("Enter")
    workspaces = page.get_by_role("combobox", name="Workspaces", exact=True)
    workspaces.locator("xpath=ancestor::div[contains(@class, 'ts-control')]").click()
    workspaces.fill("sho")
    workspaces.press("Enter")
    page.keyboard.press("Escape")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Save the source limits").click()
    expect(page.get_by_text("sam is limited to the workspaces and sources chosen")).to_be_visible()
    assert page.get_by_test_id("person-limits").inner_text() == "workspace Shop, source Mobile app"
    page.get_by_role("link", name="Users").first.click()
    row = page.get_by_role("row", name="sam")
    assert "Limited workspace Shop, source Mobile app" in row.inner_text()
    assert "Password" in row.inner_text()
    assert browser_errors == []


def test_a_single_sign_on_person_is_told_the_provider_keeps_their_password(
    page, live_server, browser_errors, settings
) -> None:
    """Signed in through the provider (a session made for them here: they have no password to
    type), the menu offers no Change password, and the page explains; axe finds nothing."""
    from django.conf import settings as django_settings
    from django.test import Client

    from tests.browser.test_accessibility import axe_violations
    from tests.conftest import make_sso_user

    settings.SEGADMIN_OIDC_NAME = "Acme ID"
    olga = make_sso_user("olga.sso", "Marketer", uid="olga-sub")
    client = Client()
    client.force_login(olga)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.goto(f"{live_server.url}/")
    page.get_by_test_id("whoami").click()
    assert page.get_by_role("link", name="Second factor").is_visible()
    assert page.get_by_role("link", name="Change password").count() == 0
    page.goto(f"{live_server.url}/users/password/")
    assert "managed by your identity provider, Acme ID" in (
        page.get_by_test_id("password-by-provider").inner_text()
    )
    assert page.get_by_label("New password").count() == 0
    assert axe_violations(page) == []
    assert browser_errors == []


def test_an_admin_removes_the_second_factor_of_a_person_who_lost_their_phone(
    page, live_server, browser_errors, admin_user, support
) -> None:
    """The person's page with Remove second factor passes axe; the box naming the person is
    needed (the browser does not send the form without it); afterwards the page says None."""
    from allauth.mfa.models import Authenticator

    from tests.browser.test_accessibility import axe_violations
    from tests.second_factor import enrol

    enrol(support)
    log_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/users/{support.pk}/")
    assert page.get_by_test_id("person-second-factor").inner_text() == (
        "On: authenticator app, with recovery codes"
    )
    button = page.get_by_role("button", name="Remove second factor")
    assert button.is_visible()
    assert axe_violations(page) == []
    button.click()  # the box is not ticked: the browser keeps the form
    assert Authenticator.objects.filter(user=support).count() == 2
    page.get_by_label("Remove every second factor of sam").check()
    button.click()
    expect(page.get_by_text("sam's second factor is removed")).to_be_visible()
    assert page.get_by_test_id("person-second-factor").inner_text() == "None"
    expect(page.get_by_text("sam has no second factor.")).to_be_visible()
    assert Authenticator.objects.filter(user=support).count() == 0
    assert axe_violations(page) == []
    assert browser_errors == []


def test_deleting_a_person_in_the_django_admin_logs_their_browser_out(
    page, live_server, browser_errors, admin_user, support, browser
) -> None:
    context = browser.new_context()
    theirs = context.new_page()
    try:
        log_in(theirs, live_server, "sam")
        assert theirs.get_by_role("heading", name="Welcome, sam").is_visible()
        assert UserSession.objects.filter(user=support).count() == 1
        pk = support.pk

        log_in(page, live_server, "ada")
        page.goto(f"{live_server.url}/admin/auth/user/{pk}/delete/")
        if os.environ.get("SEGADMIN_SCREENSHOTS"):
            shots = os.environ["SEGADMIN_SCREENSHOTS"]
            page.screenshot(path=os.path.join(shots, "admin-delete-user.png"), full_page=True)
        page.get_by_role("button", name="Yes, I\u2019m sure").click()  # Django's words
        page.wait_for_url(f"{live_server.url}/admin/auth/user/")
        assert browser_errors == []

        # Their open page no longer works: the next request is sent to log in.
        theirs.reload()
        theirs.wait_for_url(f"{live_server.url}/accounts/login/**")
        assert not UserSession.objects.filter(user_id=pk).exists()
        assert not any(
            s.get_decoded().get("_auth_user_id") == str(pk) for s in Session.objects.all()
        )
    finally:
        context.close()
