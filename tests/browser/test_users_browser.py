"""An Admin adds a Support person in one step in Chromium; that person logs in with the
one-time password, chooses their own, and sees exactly Support's pages."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

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
    assert page.get_by_role("heading", name="nina added as Support").is_visible()
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
