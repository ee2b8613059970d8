"""A plan's sentences in an editor's JSON mode: each names its key once."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from segadmin.credentials.models import Source
from tests.calls.conftest import errors_of, form_data
from tests.tracking_plans import PLAN_NAME, connect

pytestmark = pytest.mark.django_db


def test_a_plan_sentence_that_names_its_property_is_not_prefixed_with_it_again_in_json_mode(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    connect(source, enforcement="block")
    data = form_data(source, user_id="u-1", event="Order Completed", properties={"total": "twenty"})
    response = marketer_client.post("/calls/track/", {**data, "action": "send"})
    assert response.status_code == 422
    errors = errors_of(response)["properties"]
    assert f"order_id is required by the tracking plan “{PLAN_NAME}”" in errors
    assert any(e.startswith("total must be a number") for e in errors), errors
    assert not any(e.startswith(("total: total", "order_id: order_id")) for e in errors)
    assert fake_segment.requests == []
