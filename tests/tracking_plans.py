"""A tracking plan stored as the import would store it, for the tests of every entrance.

“Shop plan”: Track “Order Completed” version 1 requires ``order_id`` (text) and ``total`` (a
number); version 2 also requires ``currency``; “Signed Up” plans nothing in particular.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from segadmin.credentials.models import Source, TrackingPlan, TrackingPlanRule, Workspace

PLAN_NAME = "Shop plan"


def track_schema(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "properties": {"type": "object", "properties": properties, "required": required}
        },
    }


ORDER_V1 = track_schema(
    ["order_id", "total"], {"order_id": {"type": "string"}, "total": {"type": "number"}}
)
ORDER_V2 = track_schema(
    ["order_id", "total", "currency"],
    {"order_id": {"type": "string"}, "total": {"type": "number"}, "currency": {"type": "string"}},
)


def shop_plan(workspace: Workspace | None = None) -> TrackingPlan:
    if workspace is None:
        workspace = Workspace(name="Shop workspace", region="us")
        workspace.set_public_api_token("sgp_PLANStestTokenAbCdEfGhIjKlMnOp")
        workspace.save()
    plan = TrackingPlan.objects.create(
        workspace=workspace,
        plan_id="tp_shop",
        name=PLAN_NAME,
        plan_type="LIVE",
        imported_at=timezone.now(),
        revision=3,
    )
    TrackingPlanRule.objects.create(
        plan=plan, rule_type="TRACK", key="Order Completed", version=1, json_schema=ORDER_V1
    )
    TrackingPlanRule.objects.create(
        plan=plan, rule_type="TRACK", key="Order Completed", version=2, json_schema=ORDER_V2
    )
    TrackingPlanRule.objects.create(
        plan=plan, rule_type="TRACK", key="Signed Up", version=1, json_schema=None
    )
    return plan


def connect(
    source: Source,
    *,
    enforcement: str = "block",
    unplanned_events: str = "block",
    protocols_settings: dict[str, Any] | None = None,
    plan: TrackingPlan | None = None,
) -> TrackingPlan:
    """Connect ``source`` to the shop plan (made in the source's workspace when it has one)."""
    plan = plan or shop_plan(source.workspace)
    source.workspace = plan.workspace
    source.region = plan.workspace.region
    source.tracking_plan = plan
    source.plan_enforcement = enforcement
    source.unplanned_events = unplanned_events
    source.protocols_settings = protocols_settings
    source.save()
    return plan
