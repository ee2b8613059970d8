"""Issue 13's "Done when", in Chromium under the real CSP, against the local fake of Segment:
a marketer picks a planned event, sees its properties (and its versions), leaves a required
one empty and is refused with the reason next to it; an Admin switches the source to Warn;
the same message is then sent, with the violation on the result and in the audit entry."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from segadmin.credentials.models import Source, TrackingPlanRule, Workspace
from tests.calls.conftest import WRITE_KEY, search_and_choose
from tests.calls.plan_fixtures import ORDER_COMPLETED, connect, shop_plan
from tests.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

MISSING = "order_id is required by the tracking plan “Shop plan”"


@pytest.fixture
def ready(
    page: Page,
    live_server: Any,
    marketer: Any,
    admin_user: Any,
    source: Source,
    workspace: Workspace,
    fake_segment: Any,
) -> Page:
    plan = shop_plan(workspace)
    # Version 2 of Order Completed also requires a sales channel.
    version_2 = copy.deepcopy(ORDER_COMPLETED)
    inner = version_2["properties"]["properties"]
    inner["properties"]["channel"] = {"type": "string", "description": "Where it was sold"}
    inner["required"] = [*inner["required"], "channel"]
    TrackingPlanRule.objects.create(
        plan=plan, rule_type="TRACK", key="Order Completed", version=2, json_schema=version_2
    )
    source.workspace = workspace
    source.region = workspace.region
    connect(source, plan)
    fake_segment.add_write_key(WRITE_KEY)
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, live_server, "maria")
    return page


def test_refused_under_block_then_sent_with_the_violation_under_warn(
    ready: Page, live_server: Any, source: Source, fake_segment: Any, browser_errors: list[str]
) -> None:
    page = ready
    page.goto(f"{live_server.url}/calls/track/")
    page.get_by_label("Source").select_option(str(source.pk))
    search_and_choose(page, "Event Name", "order comp")
    expect(page.locator("#id_event")).to_have_value("Order Completed")
    expect(page.locator('[data-planned="order_id"]')).to_be_visible()

    # Two versions of the event: Event version comes along; version 2 plans a channel too.
    version = page.get_by_label("Event version")
    expect(version).to_be_visible()
    expect(page.locator('[data-planned="channel"]')).to_have_count(0)
    version.select_option("2")
    channel = page.locator('[data-planned="channel"]')
    expect(channel).to_be_visible()
    expect(channel.get_by_test_id("required-badge")).to_be_visible()
    version.select_option("")
    expect(page.locator('[data-planned="channel"]')).to_have_count(0)

    # order_id left empty under Block: refused, the reason next to it, nothing sent.
    page.get_by_label("User ID").fill("u-1001")
    page.get_by_label("total", exact=True).fill("20")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator('[data-planned="order_id"] .kv-error')).to_have_text(MISSING)
    assert fake_segment.requests == []

    # An Admin switches the source to Warn on its edit page.
    admin = page.context.browser.new_context()  # type: ignore[union-attr]
    admin_page = admin.new_page()
    log_in(admin_page, live_server, "ada")
    admin_page.goto(f"{live_server.url}/sources/{source.pk}/edit/")
    admin_page.get_by_label("Tracking plan enforcement").select_option("warn")
    admin_page.get_by_role("button", name="Save").click()
    admin_page.wait_for_url(lambda url: "/edit/" not in url)
    admin.close()

    # The same form, sent again: it goes, and the violation is on the result.
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_test_id("result-verdict")).to_have_text(
        "Sent: Segment accepted the request."
    )
    violations = page.get_by_test_id("plan-violations")
    expect(violations).to_contain_text("Sent with 1 violation")
    expect(violations).to_contain_text(MISSING)
    (message,) = fake_segment.messages()
    assert (message["event"], message["properties"]) == ("Order Completed", {"total": 20})

    # ...and in the audit entry.
    page.get_by_test_id("result-audit").get_by_role("link").click()
    plan = page.get_by_test_id("entry-plan")
    expect(plan).to_contain_text("enforcement Warn")
    expect(plan).to_contain_text("sent with 1 violation")
    expect(plan).to_contain_text(MISSING)
    # The refused send came back with 200 for htmx: not even a failed resource in the console.
    assert browser_errors == []
