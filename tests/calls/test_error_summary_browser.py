"""A refused send in Chromium: the focus lands on the error summary, each link puts it on the
field to fix (an editor row, the JSON box), clear of the sticky Send bar, and the console
stays empty (no "Failed to load resource: 422")."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from segadmin.credentials.models import Source
from tests.calls.conftest import WRITE_KEY, open_call
from tests.calls.test_call_screens_browser import add_reserved
from tests.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ready(page: Page, live_server: Any, marketer: Any, source: Source, fake_segment: Any) -> Page:
    fake_segment.add_write_key(WRITE_KEY)
    page.set_viewport_size({"width": 1400, "height": 700})
    log_in(page, live_server, "maria")
    return page


def assert_clear_of_the_send_bar(page: Page, locator: Any) -> None:
    field = locator.bounding_box()
    bar = page.locator(".call-actions").bounding_box()
    assert field is not None and bar is not None
    assert field["y"] >= 0
    assert field["y"] + field["height"] <= bar["y"], (field, bar)


def test_a_refused_send_focuses_the_summary_and_its_links_focus_each_field(
    ready: Page, live_server: Any, source: Source, fake_segment: Any, browser_errors: list[str]
) -> None:
    page = ready
    open_call(page, live_server, "track", source, "u-1001")
    page.get_by_label("Event Name").fill("Order Completed")
    add_reserved(page, "property", "revenue", "Revenue").fill("lots")
    page.get_by_role("button", name="Send", exact=True).click()

    summary = page.get_by_test_id("form-errors")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Nothing was sent: fix this problem.")
    link = summary.get_by_role("link")
    expect(link).to_have_text("Properties, Revenue: “lots” is not a number, like 42 or 19.99.")

    page.evaluate("window.scrollTo(0, 0)")  # wherever the page is, the link brings the field
    link.click()
    revenue = page.get_by_label("Revenue", exact=True)
    expect(revenue).to_be_focused()
    assert_clear_of_the_send_bar(page, revenue)

    # Fixed, it is sent; nothing went to the console on the way.
    revenue.fill("19.99")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_test_id("result-verdict")).to_have_text(
        "Sent: Segment accepted the request."
    )
    expect(page.get_by_test_id("form-errors")).to_have_count(0)
    assert len(fake_segment.requests) == 1
    assert browser_errors == []


def test_a_json_mode_error_links_to_the_json_box(
    ready: Page, live_server: Any, source: Source, fake_segment: Any, browser_errors: list[str]
) -> None:
    page = ready
    open_call(page, live_server, "identify", source, "u-1001")
    page.get_by_role("button", name="Edit Traits as JSON").click()
    box = page.get_by_label("Traits (JSON)")
    box.fill('{"plan": ')
    page.get_by_role("button", name="Preview").click()

    summary = page.get_by_test_id("form-errors")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name="Traits:").click()
    expect(box).to_be_focused()
    assert_clear_of_the_send_bar(page, box)
    assert fake_segment.requests == []
    assert browser_errors == []
