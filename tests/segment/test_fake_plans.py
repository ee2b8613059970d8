"""The local fake serves Protocols tracking plans with Segment's shapes (segment-api-more §1)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from segadmin.segment.fake.plans import DEMO_PLAN_ID, ZERO_TIME
from tests.fake_segment import FakeSegment

TOKEN = "sgp_fake_plans_token_0123456789"


def _rule(number: int) -> dict[str, Any]:
    return {"type": "TRACK", "key": f"Event {number:03d}", "jsonSchema": {"type": "object"}}


@pytest.fixture
def plans(fake_segment: FakeSegment) -> FakeSegment:
    fake_segment.add_workspace(TOKEN, id="ws_1")
    fake_segment.add_source(id="src_web", name="Web", token=TOKEN, write_keys=["wk_web"])
    control = requests.post(
        f"{fake_segment.url}/_fake/tracking-plans",
        json={
            "token": TOKEN,
            "id": "tp_big",
            "name": "Big plan",
            "rules": [_rule(n) for n in range(450)],
            "sources": ["src_web"],
        },
        timeout=5,
    )
    assert control.status_code == 200
    requests.post(
        f"{fake_segment.url}/_fake/tracking-plans",
        json={"token": TOKEN, "id": "tp_template", "name": "Template", "type": "TEMPLATE"},
        timeout=5,
    )
    return fake_segment


def _get(fake: FakeSegment, path: str, token: str = TOKEN) -> requests.Response:
    return requests.get(
        f"{fake.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )


def test_the_plan_list_has_segments_shape_and_filters_by_type(plans: FakeSegment) -> None:
    body = _get(plans, "/tracking-plans").json()["data"]
    assert {plan["id"] for plan in body["trackingPlans"]} == {"tp_big", "tp_template"}
    plan = next(p for p in body["trackingPlans"] if p["id"] == "tp_big")
    assert set(plan) == {
        "id", "name", "slug", "description", "type", "resourceSchemaId", "createdAt", "updatedAt"
    }  # fmt: skip
    assert plan["resourceSchemaId"].startswith("rs_")
    assert body["pagination"] == {"current": "MA==", "totalEntries": 2}
    live = _get(plans, "/tracking-plans?type=LIVE").json()["data"]["trackingPlans"]
    assert [p["id"] for p in live] == ["tp_big"]


def test_one_plan_is_served_under_tracking_plan(plans: FakeSegment) -> None:
    answer = _get(plans, "/tracking-plans/tp_big")
    assert answer.json()["data"]["trackingPlan"]["name"] == "Big plan"
    assert _get(plans, "/tracking-plans/tp_nope").status_code == 404


@pytest.mark.parametrize("spelling", ["pagination.{}", "pagination[{}]"])
def test_rules_come_200_a_page_in_both_pagination_spellings(
    plans: FakeSegment, spelling: str
) -> None:
    count, cursor = spelling.format("count"), spelling.format("cursor")
    keys: list[str] = []
    url = f"/tracking-plans/tp_big/rules?{count}=1000"
    pages = 0
    while True:
        data = _get(plans, url).json()["data"]
        pages += 1
        assert len(data["rules"]) <= 200
        keys += [rule["key"] for rule in data["rules"]]
        if "next" not in data["pagination"]:
            break
        url = f"/tracking-plans/tp_big/rules?{count}=1000&{cursor}={data['pagination']['next']}"
    assert pages == 3
    assert len(keys) == 450 == len(set(keys))


def test_a_rule_carries_the_zero_time_when_not_deprecated(plans: FakeSegment) -> None:
    rule = _get(plans, "/tracking-plans/tp_big/rules").json()["data"]["rules"][0]
    assert rule["deprecatedAt"] == ZERO_TIME
    assert set(rule) == {
        "key", "type", "version", "jsonSchema", "createdAt", "updatedAt", "deprecatedAt"
    }  # fmt: skip


def test_connected_sources_and_their_settings(plans: FakeSegment) -> None:
    sources = _get(plans, "/tracking-plans/tp_big/sources").json()["data"]["sources"]
    assert [source["id"] for source in sources] == ["src_web"]
    settings = _get(plans, "/sources/src_web/settings").json()["data"]
    assert settings["sourceId"] == "src_web"
    assert settings["settings"]["track"]["allowUnplannedEvents"] is True
    source = _get(plans, "/sources/src_web").json()["data"]
    assert source["trackingPlanId"] == "tp_big"


def test_a_workspace_without_protocols_gets_403_with_the_error_envelope(
    fake_segment: FakeSegment,
) -> None:
    fake_segment.add_workspace("sgp_no_protocols", protocols=False)
    answer = _get(fake_segment, "/tracking-plans", token="sgp_no_protocols")
    assert answer.status_code == 403
    error = answer.json()["errors"][0]
    assert "Protocols" in error["message"]
    assert error["status"] == 403


def test_reading_rules_over_200_a_minute_gets_429_with_retry_after(
    plans: FakeSegment,
) -> None:
    plans.state.workspaces[TOKEN].rules_per_minute = 2
    assert _get(plans, "/tracking-plans/tp_big/rules").status_code == 200
    assert _get(plans, "/tracking-plans/tp_big/rules").status_code == 200
    refused = _get(plans, "/tracking-plans/tp_big/rules")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_queued_429_answers_a_plans_route(plans: FakeSegment) -> None:
    plans.queue_faults([{"status": 429, "retry_after": 3}])
    refused = _get(plans, "/tracking-plans")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3"


def test_the_control_api_changes_a_plans_rules_between_imports(plans: FakeSegment) -> None:
    answer = requests.post(
        f"{plans.url}/_fake/tracking-plans/tp_big/rules",
        json={
            "upsert": [{"type": "TRACK", "key": "Event 000", "version": 2, "jsonSchema": {}}],
            "remove": [{"type": "TRACK", "key": "Event 001", "version": 1}],
        },
        timeout=5,
    )
    assert answer.json() == {"id": "tp_big", "rules": 450}
    requests.post(
        f"{plans.url}/_fake/source-settings",
        json={"source_id": "src_web", "settings": {"track": {"allowUnplannedEvents": False}}},
        timeout=5,
    )
    settings = _get(plans, "/sources/src_web/settings").json()["data"]["settings"]
    assert settings == {"track": {"allowUnplannedEvents": False}}


def test_the_demo_seeds_the_shop_plan_connected_to_the_website(fake_segment: FakeSegment) -> None:
    demo = fake_segment.seed_demo()
    assert demo["tracking_plan_id"] == DEMO_PLAN_ID
    token = demo["token"]
    rules = _get(fake_segment, f"/tracking-plans/{DEMO_PLAN_ID}/rules", token).json()["data"]
    keys = {(rule["type"], rule["key"]) for rule in rules["rules"]}
    assert keys == {
        ("TRACK", "Order Completed"),
        ("TRACK", "Product Viewed"),
        ("TRACK", "Signed Up"),
        ("IDENTIFY", None),
        ("COMMON", None),
    }
    order = next(r for r in rules["rules"] if r["key"] == "Order Completed")
    inner = order["jsonSchema"]["properties"]["properties"]
    assert inner["required"] == ["order_id"]
    assert inner["properties"]["total"]["minimum"] == 0
    assert inner["properties"]["currency"]["enum"] == ["USD", "EUR"]
    assert inner["properties"]["coupon"]["type"] == ["string", "null"]
    assert inner["properties"]["products"]["items"]["required"] == ["sku"]
    connected = _get(fake_segment, f"/tracking-plans/{DEMO_PLAN_ID}/sources", token).json()
    assert [s["id"] for s in connected["data"]["sources"]] == ["src_demo_website"]
    settings = _get(fake_segment, "/sources/src_demo_website/settings", token).json()["data"]
    assert settings["settings"]["track"]["allowUnplannedEvents"] is False
