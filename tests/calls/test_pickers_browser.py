"""Pickers in Chromium, under the real CSP: the time zones (preset to the browser's zone, UTC
and the recently used first, searchable), date-time traits with a date-time input and its
zone, a date input for a birthday, and the searchable currency."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from segadmin.credentials.models import Source
from tests.calls.conftest import WRITE_KEY, open_call, search_and_choose
from tests.calls.test_call_screens_browser import add_custom, add_reserved
from tests.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

ZONE = "Asia/Tokyo"  # the browser's zone in these tests (Playwright's timezone_id)


@pytest.fixture
def tokyo(
    browser: Browser, live_server: Any, marketer: Any, source: Source, fake_segment: Any
) -> Iterator[tuple[Page, list[str]]]:
    """A page whose browser lives in Tokyo, logged in as a Marketer; its console errors."""
    fake_segment.add_write_key(WRITE_KEY)
    context = browser.new_context(timezone_id=ZONE, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server, "maria")
    try:
        yield page, errors
    finally:
        context.close()


def preview(page: Page) -> dict[str, Any]:
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview")).to_be_visible()
    return json.loads(page.get_by_test_id("preview-body").inner_text())  # type: ignore[no-any-return]


def first_zones(page: Page, label: str) -> list[str]:
    box = page.get_by_role("combobox", name=label, exact=True)
    box.locator("xpath=ancestor::div[contains(@class, 'ts-control')]").click()
    # tom-select opens its list in a timeout after the click (focus(), then onFocus()), so the
    # click can return before the list is there: evaluate_all does not wait, wait for the list.
    group = page.locator(".ts-dropdown:visible .optgroup").first
    expect(group.locator(".option").first).to_be_visible()
    names = group.locator(".option").evaluate_all("(els) => els.map((e) => e.dataset.value)")
    box.press("Escape")
    return names  # type: ignore[no-any-return]


def test_the_timestamp_zone_is_preset_to_the_browsers_searchable_with_recent_ones_first(
    tokyo: tuple[Page, list[str]], live_server: Any, source: Source
) -> None:
    page, errors = tokyo
    page.goto(f"{live_server.url}/calls/track/")
    zone = page.locator("select[name=timestamp_1]")
    expect(zone).to_have_value(ZONE)
    assert first_zones(page, "Timezone of the timestamp") == ["UTC", ZONE]

    # Searchable: a few letters find the zone; chosen once, it is offered first next time.
    search_and_choose(page, "Timezone of the timestamp", "kolk")
    expect(zone).to_have_value("Asia/Kolkata")
    page.get_by_label("Source").select_option(str(source.pk))
    page.get_by_label("User ID").fill("u-1")
    page.get_by_label("Event Name").fill("Signed Up")
    page.get_by_label("Timestamp", exact=True).fill("2024-05-01T09:30:00")
    timestamp = preview(page)["timestamp"]
    assert timestamp.startswith("2024-05-01T09:30:00") and timestamp.endswith("+05:30")

    page.goto(f"{live_server.url}/calls/identify/")
    expect(page.locator("select[name=timestamp_1]")).to_have_value(ZONE)  # a new form
    assert first_zones(page, "Timezone of the timestamp") == ["UTC", ZONE, "Asia/Kolkata"]
    assert errors == []


def test_date_time_traits_get_a_date_time_input_with_their_zone(
    tokyo: tuple[Page, list[str]], live_server: Any, source: Source
) -> None:
    page, errors = tokyo
    open_call(page, live_server, "identify", source, "u-1")

    created = add_reserved(page, "trait", "createdAt")
    when = page.get_by_label("Date and time of createdAt")
    expect(when).to_have_attribute("type", "datetime-local")
    row_zone = page.locator("[data-kv-key=createdAt] .kv-datetime select")
    expect(row_zone).to_have_value(ZONE)  # the browser's zone to start with
    when.fill("2024-05-01T09:30:15")
    expect(created).to_have_value("2024-05-01T09:30:15+09:00")
    search_and_choose(page, "Time zone of createdAt", "UTC")
    expect(created).to_have_value("2024-05-01T09:30:15Z")
    # The text stays editable; typed, it moves the picker.
    created.fill("2024-12-24T18:00:00+01:00")
    created.dispatch_event("change")
    expect(when).to_have_value("2024-12-24T17:00")
    expect(row_zone).to_have_value("UTC")
    search_and_choose(page, "Time zone of createdAt", "Europe/Paris")
    expect(created).to_have_value("2024-12-24T17:00:00+01:00")  # the wall time, now in Paris

    # A birthday is a date: a date input, no zone.
    birthday = add_reserved(page, "trait", "birthday")
    page.get_by_label("Date of birthday").fill("1990-05-04")
    expect(birthday).to_have_value("1990-05-04")
    expect(page.locator("[data-kv-key=birthday] .kv-datetime select")).to_have_count(0)

    # A custom row typed date-time gets the picker too.
    add_custom(page, "traits", "trait", "renewal", "datetime", "")
    page.get_by_label("Date and time of a custom trait").fill("2025-01-31T10:00")
    traits = preview(page)["traits"]
    assert traits == {
        "createdAt": "2024-12-24T17:00:00+01:00",
        "birthday": "1990-05-04",
        "renewal": "2025-01-31T10:00:00+09:00",
    }
    assert errors == []


def test_the_currency_is_searchable(
    tokyo: tuple[Page, list[str]], live_server: Any, source: Source
) -> None:
    page, errors = tokyo
    open_call(page, live_server, "track", source, "u-1")
    page.get_by_label("Event Name").fill("Order Completed")
    add_reserved(page, "property", "revenue", "Revenue").fill("12.5")
    add_reserved(page, "property", "currency", "Currency")
    search_and_choose(page, "Currency", "yen")
    assert preview(page)["properties"] == {"revenue": 12.5, "currency": "JPY"}
    assert errors == []
