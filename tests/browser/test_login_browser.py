"""Log in through the real login page in Chromium, under the real CSP."""

from __future__ import annotations

import io
import os

import pytest
from django.core.management import call_command

from tests.conftest import PASSWORD, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_logging_in_shows_the_home_page_with_no_console_errors(
    page, live_server, browser_errors, marketer
) -> None:
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    log_in(page, live_server, "maria", PASSWORD)
    assert page.get_by_role("heading", name="Welcome, maria").is_visible()
    assert page.get_by_test_id("whoami").inner_text().startswith("maria")
    # Bootstrap is served from our own static files and applied.
    navbar_bg = page.eval_on_selector("nav.navbar", "el => getComputedStyle(el).backgroundColor")
    assert navbar_bg != "rgba(0, 0, 0, 0)"
    page.get_by_test_id("whoami").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    assert browser_errors == []


def test_the_first_admin_chooses_their_own_password_at_the_first_log_in(
    page, live_server, browser_errors
) -> None:
    """`make run`'s first account: the printed password leads to Choose your own password."""
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().split("password: ", 1)[1].split()[0]
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/users/password/")
    assert page.get_by_test_id("must-change").is_visible()
    if os.environ.get("SEGADMIN_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["SEGADMIN_SCREENSHOTS"], "first-admin.png"))
    page.goto(f"{live_server.url}/audit/")  # any other page leads back
    page.wait_for_url(f"{live_server.url}/users/password/")
    page.locator("#id_new_password1").fill("the first admin's own long secret")
    page.locator("#id_new_password2").fill("the first admin's own long secret")
    page.get_by_role("button", name="Save the password").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Welcome, admin").is_visible()
    assert browser_errors == []
