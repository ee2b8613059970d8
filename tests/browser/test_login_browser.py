"""Log in through the real login page in Chromium, under the real CSP."""

from __future__ import annotations

import pytest

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
