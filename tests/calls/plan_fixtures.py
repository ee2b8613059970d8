"""A stored tracking plan for the plan-driven form tests (rows made as an import would)."""

from __future__ import annotations

from typing import Any

from segadmin.credentials.models import Source, TrackingPlan, TrackingPlanRule, Workspace


def _payload(fields_key: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    # Segment's shape: the whole payload's schema, the names under properties.<fields_key>.
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "context": {},
            fields_key: {"type": "object", "properties": properties, "required": required},
        },
        "required": [fields_key] if required else [],
    }


ORDER_COMPLETED = _payload(
    "properties",
    {
        "order_id": {
            "id": "/properties/properties/properties/order_id",
            "description": "The order's ID in the shop",
            "type": ["string"],
        },
        "total": {"description": "What the customer paid", "type": "number", "minimum": 0},
        "currency": {"description": "Paid in", "type": ["string"], "enum": ["USD", "EUR"]},
        "coupon": {"type": ["string", "null"]},
        "placed_at": {"type": "string", "format": "date-time"},
        "gift": {"type": "boolean"},
        "products": {"type": "array", "items": {"type": "object"}},
        "shipping": {"type": "object"},
        "quantity": {"type": "integer"},
        "size": {"type": "string", "enum": ["S", "M", "L"]},
    },
    ["order_id", "total"],
)

PRODUCT_VIEWED = _payload(
    "properties",
    {
        "product_id": {"description": "The product's SKU", "type": "string"},
        "order_id": {"type": "string"},
    },
    ["product_id"],
)

IDENTIFY = _payload(
    "traits",
    {
        "plan_tier": {
            "description": "The customer's plan",
            "type": "string",
            "enum": ["free", "pro"],
        },
        "email": {"description": "Where we write to", "type": "string"},
        "seats": {"type": "integer"},
    },
    ["plan_tier"],
)

GROUP = _payload(
    "traits",
    {"account_type": {"description": "Kind of account", "type": "string"}},
    ["account_type"],
)


def shop_plan(workspace: Workspace) -> TrackingPlan:
    plan = TrackingPlan.objects.create(workspace=workspace, plan_id="tp_shop", name="Shop plan")
    for rule_type, key, schema in (
        ("TRACK", "Order Completed", ORDER_COMPLETED),
        ("TRACK", "Product Viewed", PRODUCT_VIEWED),
        ("IDENTIFY", None, IDENTIFY),
        ("GROUP", None, GROUP),
    ):
        TrackingPlanRule.objects.create(plan=plan, rule_type=rule_type, key=key, json_schema=schema)
    return plan


def connect(source: Source, plan: TrackingPlan, **settings: str) -> Source:
    source.tracking_plan = plan
    for name, value in settings.items():
        setattr(source, name, value)
    source.save()
    return source
