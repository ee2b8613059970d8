"""Plan-driven forms in Chromium, under the real CSP, against the local fake of Segment."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from segadmin.credentials.models import Source, Workspace
from tests.calls.conftest import WRITE_KEY, search_and_choose
from tests.calls.plan_fixtures import connect, shop_plan
from tests.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ready(
    page: Page,
    live_server: Any,
    marketer: Any,
    source: Source,
    workspace: Workspace,
    fake_segment: Any,
) -> Page:
    connect(source, shop_plan(workspace))
    fake_segment.add_write_key(WRITE_KEY)
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, live_server, "maria")
    return page


def test_a_planned_event_fills_its_properties_and_a_required_one_left_empty_is_named(
    ready: Page, live_server: Any, source: Source, fake_segment: Any, browser_errors: list[str]
) -> None:
    page = ready
    page.goto(f"{live_server.url}/calls/track/")
    page.get_by_label("Source").select_option(str(source.pk))
    # The source's plan comes with it: Event Name becomes the list of its events, searchable.
    search_and_choose(page, "Event Name", "complet")
    expect(page.locator("#id_event")).to_have_value("Order Completed")

    order_id = page.locator('[data-planned="order_id"]')
    expect(order_id).to_be_visible()
    expect(order_id.get_by_test_id("required-badge")).to_have_text("required")
    expect(order_id).to_contain_text("The order's ID in the shop")
    expect(page.get_by_label("order_id", exact=True)).to_have_attribute("aria-required", "true")
    expect(page.get_by_label("Type of total")).to_have_value("number")
    size = page.get_by_label("size", exact=True)
    assert size.locator("option").all_inner_texts() == ["choose…", "S", "M", "L"]

    # What was typed survives a change of event, for the names both events plan.
    page.get_by_label("order_id", exact=True).fill("o-1")
    page.locator("#id_event").select_option("Product Viewed")
    expect(page.locator('[data-planned="product_id"]')).to_be_visible()
    expect(page.get_by_label("order_id", exact=True)).to_have_value("o-1")
    page.locator("#id_event").select_option("Order Completed")
    expect(page.locator('[data-planned="total"]')).to_be_visible()
    expect(page.get_by_label("order_id", exact=True)).to_have_value("o-1")

    # A required property left empty: the message stands next to it, nothing is sent.
    page.get_by_label("order_id", exact=True).fill("")
    page.get_by_label("User ID").fill("u-1001")
    page.get_by_label("total", exact=True).fill("20")
    size.select_option("M")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator('[data-planned="order_id"] .kv-error')).to_have_text(
        "order_id is required by the tracking plan “Shop plan”"
    )
    assert fake_segment.requests == []

    page.get_by_label("order_id", exact=True).fill("o-2")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_test_id("result-verdict")).to_have_text(
        "Sent: Segment accepted the request."
    )
    (message,) = fake_segment.messages()
    assert message["event"] == "Order Completed"
    assert message["properties"] == {"order_id": "o-2", "total": 20, "size": "M"}
    # The refused send came back with 200 for htmx: not even a failed resource in the console.
    assert browser_errors == []


def test_identify_shows_the_planned_traits_first_for_the_chosen_source(
    ready: Page, live_server: Any, source: Source, browser_errors: list[str]
) -> None:
    page = ready
    page.goto(f"{live_server.url}/calls/identify/")
    expect(page.locator("[data-planned]")).to_have_count(0)
    page.get_by_label("Source").select_option(str(source.pk))
    tier = page.locator('[data-planned="plan_tier"]')
    expect(tier).to_be_visible()
    expect(tier.get_by_test_id("required-badge")).to_be_visible()
    page.get_by_label("plan_tier", exact=True).select_option("pro")
    page.get_by_label("User ID").fill("u-7")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview")).to_be_visible()
    expect(page.get_by_test_id("preview-body")).to_contain_text('"plan_tier": "pro"')
    assert browser_errors == []
