"""Public API reads for tracking plans: answers that cannot be used are errors, not crashes."""

from __future__ import annotations

import inspect

import pytest
import responses

from segadmin.segment import client
from segadmin.segment.client import ApiError
from segadmin.segment.client import tracking_plans as public_plans

TOKEN = "sgp_public_plans_token_0123456789"
BASE = "https://api.segmentapis.com"


@pytest.fixture
def api(settings):
    settings.SEGMENT_PUBLIC_API_URL = ""
    with responses.RequestsMock() as mock:
        yield mock


def test_a_cursor_handed_back_twice_stops_the_listing(api) -> None:
    page = {"data": {"rules": [], "pagination": {"current": "MA==", "next": "MjAw"}}}
    api.get(f"{BASE}/tracking-plans/tp_1/rules", json=page)
    found = public_plans.list_rules(token=TOKEN, region="us", plan_id="tp_1", transport=client.send)
    assert isinstance(found, ApiError) and found.kind == "invalid_response"


def test_a_rule_that_is_not_an_object_is_an_invalid_answer(api) -> None:
    page = {"data": {"rules": ["TRACK"], "pagination": {"current": "MA=="}}}
    api.get(f"{BASE}/tracking-plans/tp_1/rules", json=page)
    found = public_plans.list_rules(token=TOKEN, region="us", plan_id="tp_1", transport=client.send)
    assert isinstance(found, ApiError) and found.kind == "invalid_response"


def test_403_names_protocols_and_never_the_token(api) -> None:
    body = {"errors": [{"type": "forbidden", "message": f"no Protocols for {TOKEN}"}]}
    api.get(f"{BASE}/tracking-plans", json=body, status=403)
    found = public_plans.list_tracking_plans(token=TOKEN, region="us", transport=client.send)
    assert isinstance(found, ApiError) and found.status == 403
    assert "Protocols feature" in found.message and TOKEN not in found.message


def test_settings_without_a_settings_object_are_an_invalid_answer(api) -> None:
    api.get(f"{BASE}/sources/src_1/settings", json={"data": {"sourceId": "src_1"}})
    found = public_plans.get_source_settings(
        token=TOKEN, region="us", source_id="src_1", transport=client.send
    )
    assert isinstance(found, ApiError) and found.kind == "invalid_response"


def test_plan_ids_are_escaped_in_the_path(api) -> None:
    api.get(f"{BASE}/tracking-plans/tp%2F..%2Fx/sources", json={"data": {"sources": []}})
    found = public_plans.list_plan_source_ids(
        token=TOKEN, region="us", plan_id="tp/../x", transport=client.send
    )
    assert found == []


@pytest.mark.parametrize(
    "read",
    [
        public_plans.list_tracking_plans,
        public_plans.list_rules,
        public_plans.list_plan_source_ids,
        public_plans.get_source_settings,
    ],
)
def test_every_read_needs_its_transport_passed_so_nothing_is_sent_unaudited(read) -> None:
    transport = inspect.signature(read).parameters["transport"]
    assert transport.kind is inspect.Parameter.KEYWORD_ONLY
    assert transport.default is inspect.Parameter.empty
