"""In Chromium, under the real CSP: a Marketer chooses a Production source on the Track screen,
is told at once, presses Send, is asked to confirm by name (the refusal next to the box, the
focus on the error summary, nothing sent), ticks the box and sends in one more click; the
result carries the marker; each state passes axe-core with no console error."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from segadmin.credentials.models import Source
from tests.browser.test_accessibility import axe_violations
from tests.conftest import log_in
from tests.factories import make_source

pytestmark = pytest.mark.django_db(transaction=True)

WRITE_KEY = "wk_PRODbrowserAbCdEfGhIjKlMnOpQrS"


@pytest.fixture
def live(fake_segment: Any) -> Source:
    fake_segment.add_write_key(WRITE_KEY)
    make_source("Staging", WRITE_KEY)
    return make_source("Live site", WRITE_KEY, production=True)


def test_a_marketer_confirms_and_sends_to_a_production_source(
    page: Page,
    live_server: Any,
    marketer: Any,
    live: Source,
    fake_segment: Any,
    browser_errors: list[str],
) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, live_server, "maria")
    page.goto(f"{live_server.url}/calls/track/")
    source = page.locator("select[name=source]")
    source.select_option(label="Live site (US) — Production")
    # Told at once, before anything is pressed (a hint: the server decides).
    expect(page.get_by_test_id("production-hint")).to_be_visible()
    expect(page.get_by_test_id("production-hint")).to_contain_text("Live site")
    source.select_option(label="Staging (US)")
    expect(page.get_by_test_id("production-hint")).to_be_hidden()
    source.select_option(label="Live site (US) — Production")
    page.get_by_label("User ID").fill("user-prod-1")
    page.get_by_label("Event Name").fill("Order Completed")

    # Preview: no confirmation asked, the marker on the preview.
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview").get_by_test_id("panel-production")).to_be_visible()

    # Send: refused, the box and the refusal next to it; nothing reaches Segment.
    page.get_by_role("button", name="Send", exact=True).click()
    error = page.get_by_test_id("confirm-production-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("“Live site” is a Production source")
    expect(page.get_by_test_id("form-errors")).to_be_focused()
    box = page.get_by_role("checkbox", name="Send to Production source “Live site”")
    expect(box).not_to_be_checked()
    expect(page.get_by_test_id("production-banner")).to_be_visible()
    assert fake_segment.requests == []
    assert axe_violations(page) == []

    # The summary's link leads to the box; one tick and one more click send it.
    page.get_by_test_id("form-errors").get_by_role("link").first.click()
    expect(box).to_be_focused()
    box.check()
    page.get_by_role("button", name="Send", exact=True).click()
    result = page.get_by_test_id("result")
    expect(result).to_be_visible()
    expect(page.get_by_test_id("result-verdict")).to_have_text(
        "Sent: Segment accepted the request."
    )
    expect(result.get_by_test_id("panel-production")).to_contain_text("Live site")
    [message] = fake_segment.messages("/v1/track")
    assert message["userId"] == "user-prod-1"
    # The next send asks again.
    expect(
        page.get_by_role("checkbox", name="Send to Production source “Live site”")
    ).not_to_be_checked()
    assert axe_violations(page) == []

    # The bulk upload says it too, as the source is chosen (Start asks for the confirmation).
    page.goto(f"{live_server.url}/bulk/")
    page.locator("select[name=source]").select_option(label="Live site (US) — Production")
    expect(page.get_by_test_id("production-hint")).to_contain_text("Live site")
    assert axe_violations(page) == []
    assert browser_errors == []
