"""Short call forms in Chromium, under the real CSP, against the local fake of Segment: a first
Identify without scrolling past reserved rows, a reserved trait added from the searchable
picker, and the same form without JavaScript."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from segadmin.credentials.models import Source
from tests.calls.conftest import WRITE_KEY, open_call
from tests.calls.test_call_screens_browser import add_reserved
from tests.conftest import PASSWORD, log_in

pytestmark = pytest.mark.django_db(transaction=True)

LAPTOP = {"width": 1280, "height": 800}


def test_a_marketer_sends_a_first_identify_without_scrolling_past_reserved_rows(
    page: Page,
    live_server: Any,
    marketer: Any,
    source: Source,
    fake_segment: Any,
    browser_errors: list[str],
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    page.set_viewport_size(LAPTOP)
    log_in(page, live_server, "maria")
    page.goto(f"{live_server.url}/calls/identify/")

    # No reserved row stands in the way: the empty custom row is on the first screen.
    expect(page.locator(".kv-reserved")).to_have_count(25)
    for row in page.locator(".kv-reserved").all():
        expect(row).to_be_hidden()
    name = page.get_by_label("Name of a custom trait")
    box = name.bounding_box()
    assert box is not None and box["y"] + box["height"] < LAPTOP["height"]

    page.get_by_label("Source").select_option(str(source.pk))
    page.get_by_label("User ID").fill("u-1001")
    name.fill("plan")
    page.get_by_label("Value of a custom trait").fill("pro")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_test_id("result-verdict")).to_have_text(
        "Sent: Segment accepted the request."
    )
    assert page.evaluate("window.scrollY") == 0  # nothing had to be scrolled to
    (message,) = fake_segment.messages()
    assert message["userId"] == "u-1001"
    assert message["traits"] == {"plan": "pro"}
    assert browser_errors == []


def test_a_reserved_trait_is_found_by_its_meaning_and_added_from_the_picker(
    page: Page,
    live_server: Any,
    marketer: Any,
    source: Source,
    fake_segment: Any,
    browser_errors: list[str],
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    page.set_viewport_size(LAPTOP)
    log_in(page, live_server, "maria")
    page.goto(f"{live_server.url}/calls/identify/")
    picker = page.get_by_role("combobox", name="Add a trait", exact=True)
    picker.click()
    picker.fill("position")  # words of Segment's meaning, not the name
    option = page.locator(".ts-dropdown .option[data-value='title']")
    expect(option).to_contain_text('usually their position, e.g. "VP of Engineering"')
    expect(option).to_contain_text("text")
    option.click()
    title = page.get_by_label("title", exact=True)
    expect(title).to_be_focused()
    title.fill("VP of Engineering")
    # Chosen once, it is no longer offered.
    picker.click()
    picker.fill("title")
    expect(page.locator(".ts-dropdown .option[data-value='title']")).to_have_count(0)
    picker.press("Escape")

    # With the keyboard alone: type, Enter, and the cursor is in the new row.
    picker.press("Escape")
    picker.fill("lastN")
    picker.press("Enter")
    expect(page.get_by_label("lastName", exact=True)).to_be_focused()
    page.keyboard.type("Lovelace")

    # A part of company brings the whole company group.
    add_reserved(page, "trait", "company.employee_count").fill("12")
    expect(page.get_by_label("company.name", exact=True)).to_be_visible()

    page.get_by_label("Source").select_option(str(source.pk))
    page.get_by_label("User ID").fill("u-7")
    page.get_by_role("button", name="Preview").click()
    body = json.loads(page.get_by_test_id("preview-body").inner_text())
    assert body["traits"] == {
        "title": "VP of Engineering",
        "lastName": "Lovelace",
        "company": {"employee_count": 12},
    }
    # After the round trip the chosen fields stay up with the typed rows.
    expect(page.get_by_label("title", exact=True)).to_have_value("VP of Engineering")
    expect(page.get_by_label("title", exact=True)).to_be_visible()
    assert browser_errors == []


def test_without_javascript_the_short_form_still_sends_reserved_and_custom_traits(
    browser: Browser, live_server: Any, marketer: Any, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    context = browser.new_context(java_script_enabled=False, viewport=LAPTOP)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill("maria")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        open_call(page, live_server, "identify", source, "u-9")
        page.get_by_label("Name of a custom trait").fill("plan")
        page.get_by_label("Value of a custom trait").fill("pro")
        # The reserved fields are a folded list of their own: open it, type into one.
        page.locator("details[data-kv-pool] > summary").click()
        page.get_by_label("email", exact=True).fill("ada@example.com")
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.get_by_test_id("result-verdict")).to_have_text(
            "Sent: Segment accepted the request."
        )
        (message,) = fake_segment.messages()
        assert message["traits"] == {"email": "ada@example.com", "plan": "pro"}
    finally:
        context.close()
