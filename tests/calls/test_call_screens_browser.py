"""The call screens in Chromium, under the real CSP, against the local fake of Segment."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from segadmin.calls import editors
from segadmin.credentials.models import Source
from tests.calls.conftest import WRITE_KEY, open_call, search_and_choose
from tests.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ready(page: Page, live_server: Any, marketer: Any, source: Source, fake_segment: Any) -> Page:
    fake_segment.add_write_key(WRITE_KEY)
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, live_server, "maria")
    return page


def custom_row(page: Page, editor: str, index: int) -> Locator:
    return page.locator(f"#id_{editor}__rows .kv-row").nth(index)


def add_custom(page: Page, editor: str, noun: str, name: str, type_: str, value: str) -> None:
    """Fill the last custom row, adding one first when the last is already used."""
    rows = page.locator(f"#id_{editor}__rows .kv-row")
    last = rows.nth(rows.count() - 1)
    if last.get_by_label(f"Name of a custom {noun}").input_value():
        before = rows.count()
        page.get_by_role("button", name=f"+ Add a custom {noun}").click()
        expect(rows).to_have_count(before + 1)
        last = rows.nth(before)
    last.get_by_label(f"Name of a custom {noun}").fill(name)
    last.get_by_label(f"Type of a custom {noun}").select_option(type_)
    if type_ == "boolean":
        last.get_by_label("True or false").select_option(value)
    elif type_ != "null":
        last.get_by_label(f"Value of a custom {noun}").fill(value)


def add_reserved(page: Page, noun: str, key: str, label: str = "") -> Locator:
    """Add one of Segment's reserved fields with the searchable "Add a trait" picker; its
    row comes up with the rows being typed, the cursor in it. The row's value field."""
    picker = page.get_by_role("combobox", name=f"Add a {noun}", exact=True)
    picker.click()
    picker.fill(key)
    page.locator(f".ts-dropdown .option[data-value='{key}']").click()
    field = page.get_by_label(label or key, exact=True).first  # a searchable one: its box
    expect(field).to_be_focused()
    return field


def shown_body(page: Page) -> dict[str, Any]:
    return json.loads(page.get_by_test_id("preview-body").inner_text())


def test_an_identify_built_in_the_editor_is_previewed_sent_and_received_with_its_types(
    ready: Page, live_server: Any, source: Source, fake_segment: Any, browser_errors: list[str]
) -> None:
    page = ready
    open_call(page, live_server, "identify", source, "u-1001")
    page.get_by_role("button", name="New UUID").click()
    anonymous_id = page.get_by_label("Anonymous ID").input_value()
    assert len(anonymous_id) == 36

    add_reserved(page, "trait", "email").fill("ada@example.com")
    add_reserved(page, "trait", "age").fill("36")
    add_reserved(page, "trait", "phone")
    page.get_by_label("Type of phone").select_option("null")
    phone = page.locator(".kv-row", has=page.get_by_label("Type of phone"))
    expect(phone.get_by_text("null unsets the trait")).to_be_visible()
    # A part of address brings the whole address group, open.
    add_reserved(page, "trait", "address.city").fill("Paris")
    expect(page.get_by_label("address.street", exact=True)).to_be_visible()

    add_custom(page, "traits", "trait", "plan", "text", "pro")
    add_custom(page, "traits", "trait", "seats", "number", "12")
    add_custom(page, "traits", "trait", "score", "number", "4.5")
    add_custom(page, "traits", "trait", "vip", "boolean", "true")
    add_custom(page, "traits", "trait", "nickname", "null", "")
    add_custom(page, "traits", "trait", "renewal", "datetime", "2025-01-31T10:00:00+01:00")
    add_custom(page, "traits", "trait", "tags", "list", '["beta", 2]')
    add_custom(page, "traits", "trait", "prefs", "object", '{"theme": {"dark": false}}')

    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview")).to_be_visible()
    shown = shown_body(page)
    expected_traits = {
        "email": "ada@example.com",
        "age": 36,
        "phone": None,
        "address": {"city": "Paris"},
        "plan": "pro",
        "seats": 12,
        "score": 4.5,
        "vip": True,
        "nickname": None,
        "renewal": "2025-01-31T10:00:00+01:00",
        "tags": ["beta", 2],
        "prefs": {"theme": {"dark": False}},
    }
    assert shown["traits"] == expected_traits
    assert shown["anonymousId"] == anonymous_id
    assert shown["writeKey"] == "****"
    assert fake_segment.requests == []

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_test_id("result-verdict")).to_have_text(
        "Sent: Segment accepted the request."
    )
    expect(page.get_by_test_id("result-status")).to_have_text("200")
    expect(page.get_by_test_id("result-audit")).to_contain_text("#")
    received = json.loads(fake_segment.requests[0].body)
    assert {k: v for k, v in received.items() if k not in ("sentAt", "writeKey")} == {
        k: v for k, v in shown.items() if k not in ("sentAt", "writeKey")
    }

    page.get_by_test_id("send-another").click()
    expect(page.get_by_label("Source")).to_have_value(str(source.pk))
    expect(page.get_by_label("User ID")).to_have_value("")
    assert browser_errors == []


def test_an_editor_switches_to_json_and_back_without_losing_anything(
    ready: Page, live_server: Any, source: Source, browser_errors: list[str]
) -> None:
    page = ready
    page.goto(f"{live_server.url}/calls/identify/")
    add_reserved(page, "trait", "firstName").fill("Ada")
    add_custom(page, "traits", "trait", "seats", "number", "3")
    add_custom(page, "traits", "trait", "vip", "boolean", "false")
    add_custom(page, "traits", "trait", "gone", "null", "")

    page.get_by_role("button", name="Edit Traits as JSON").click()
    textarea = page.get_by_label("Traits (JSON)")
    expect(textarea).to_be_visible()
    assert json.loads(textarea.input_value()) == {
        "firstName": "Ada",
        "seats": 3,
        "vip": False,
        "gone": None,
    }
    textarea.fill('{"firstName": "Ada", "seats": 4, "vip": false, "gone": null, "o": {"a": [1]}}')

    page.get_by_role("button", name="Edit Traits as a form").click()
    expect(page.get_by_label("firstName", exact=True)).to_have_value("Ada")
    names = page.locator("#id_traits__rows .kv-row").get_by_label("Name of a custom trait")
    expect(names).to_have_count(5)  # and one empty row to type the next, the cursor in it
    expect(names.nth(4)).to_be_focused()
    assert [names.nth(i).input_value() for i in range(5)] == ["seats", "vip", "gone", "o", ""]
    types = page.locator("#id_traits__rows .kv-row").get_by_label("Type of a custom trait")
    assert [types.nth(i).input_value() for i in range(4)] == ["number", "boolean", "null", "object"]

    # Invalid JSON is refused with its line and column, and the text is kept as typed.
    page.get_by_role("button", name="Edit Traits as JSON").click()
    page.get_by_label("Traits (JSON)").fill('{\n  "a": \n}')
    page.get_by_role("button", name="Edit Traits as a form").click()
    expect(page.get_by_test_id("editor-message")).to_contain_text("line 3, column 1")
    expect(page.get_by_label("Traits (JSON)")).to_have_value('{\n  "a": \n}')

    page.get_by_label("Traits (JSON)").fill('{"email": "x@example.com", "seats": 4}')
    page.get_by_label("Source").select_option(str(source.pk))
    page.get_by_label("User ID").fill("u-2")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview")).to_be_visible()
    assert shown_body(page)["traits"] == {"email": "x@example.com", "seats": 4}
    assert browser_errors == []


def test_a_track_with_revenue_and_currency_is_sent_as_numbers_and_a_code(
    ready: Page, live_server: Any, source: Source, fake_segment: Any, browser_errors: list[str]
) -> None:
    page = ready
    open_call(page, live_server, "track", source, "u-1001")
    page.get_by_label("Event Name").fill("Order Completed")
    add_reserved(page, "property", "revenue", "Revenue").fill("19.99")
    add_reserved(page, "property", "currency", "Currency")
    search_and_choose(page, "Currency", "EUR")
    currency = page.locator("[data-kv-key=currency] select[name=properties__value]")
    expect(currency).to_have_value("EUR")
    add_custom(page, "properties", "property", "items", "number", "2")

    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview")).to_be_visible()
    assert shown_body(page)["properties"] == {"revenue": 19.99, "currency": "EUR", "items": 2}

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_test_id("result-verdict")).to_have_text(
        "Sent: Segment accepted the request."
    )
    (message,) = fake_segment.messages()
    assert message["event"] == "Order Completed"
    assert message["properties"] == {"revenue": 19.99, "currency": "EUR", "items": 2}

    # Revenue typed as words is refused next to the field, and nothing more is sent.
    page.get_by_label("Revenue", exact=True).fill("lots")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(
        page.get_by_text("“lots” is not a number, like 42 or 19.99.", exact=True)
    ).to_be_visible()
    assert len(fake_segment.requests) == 1
    # The refused send came back with 200 for htmx: not even a failed resource in the console.
    assert browser_errors == []


def test_the_editor_waits_while_it_switches_to_json_so_nothing_typed_is_lost(
    ready: Page, live_server: Any, monkeypatch: pytest.MonkeyPatch, browser_errors: list[str]
) -> None:
    """The answer of Form/JSON replaces the editor with what it held when the button was
    pressed: anything typed while the answer is on its way would be lost, so the editor's
    fields wait for it (as for the planned redraw of calls/planned.py)."""
    page = ready
    page.goto(f"{live_server.url}/calls/identify/")
    name = page.get_by_label("Name of a custom trait")
    name.fill("plan")
    answer = threading.Event()
    render = editors.render_editor

    def held(*args: Any, **kwargs: Any) -> str:  # the live server holds the answer
        answer.wait(timeout=20)
        return render(*args, **kwargs)

    monkeypatch.setattr(editors, "render_editor", held)
    page.get_by_role("button", name="Edit Traits as JSON").click()
    try:
        expect(name).to_be_disabled()
        expect(page.get_by_role("button", name="+ Add a custom trait")).to_be_disabled()
    finally:
        answer.set()
    expect(page.get_by_label("Traits (JSON)")).to_have_value('{\n  "plan": ""\n}')
    assert browser_errors == []
