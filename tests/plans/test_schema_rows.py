"""What a rule's schema plans, as the rows the plan page shows."""

from __future__ import annotations

from segadmin.plans.schema import planned_fields


def _track(properties: dict, required: list[str]) -> dict:
    inner = {"type": "object", "properties": properties, "required": required}
    return {"properties": {"context": {}, "traits": {}, "properties": inner}}


def test_each_property_shows_type_required_description_values_pattern_and_range() -> None:
    schema = _track(
        {
            "order_id": {"type": ["string"], "description": "The order", "pattern": "^o-"},
            "total": {"type": "number", "minimum": 0, "maximum": 10000},
            "currency": {"type": ["string"], "enum": ["USD", "EUR"]},
            "coupon": {"type": ["string", "null"], "maxLength": 20},
            "note": {"enum": ["a", None]},
        },
        ["order_id"],
    )
    rows = {row.name: row for row in planned_fields("TRACK", schema)}
    assert rows["order_id"].required and rows["order_id"].pattern == "^o-"
    assert rows["order_id"].description == "The order"
    assert not rows["total"].required and rows["total"].range == "0 to 10000"
    assert rows["currency"].allowed == "USD, EUR"
    assert rows["coupon"].type == "string or null" and rows["coupon"].range == "length ≤ 20"
    assert rows["note"].allowed == "a, null" and rows["note"].type == "one of the values"


def test_nested_objects_and_arrays_of_objects_are_listed_under_dotted_names() -> None:
    schema = _track(
        {
            "shipping": {"type": "object", "properties": {"city": {"type": "string"}}},
            "products": {
                "type": "array",
                "items": {"type": "object", "properties": {"sku": {}}, "required": ["sku"]},
            },
        },
        [],
    )
    rows = {row.name: row for row in planned_fields("TRACK", schema)}
    assert rows["shipping.city"].depth == 1
    assert rows["products[].sku"].required and rows["products[].sku"].type == "any"


def test_identify_rules_plan_traits_and_the_common_schema_the_payload() -> None:
    identify = {"properties": {"traits": {"properties": {"email": {"format": "email"}}}}}
    assert [row.format for row in planned_fields("IDENTIFY", identify)] == ["email"]
    common = {
        "properties": {"context": {"properties": {"userAgent": {"type": "string"}}}},
        "required": ["context"],
    }
    names = [(row.name, row.required) for row in planned_fields("COMMON", common)]
    assert names == [("context", True), ("context.userAgent", False)]


def test_a_rule_without_a_usable_schema_plans_nothing() -> None:
    assert planned_fields("TRACK", None) == []
    assert planned_fields("TRACK", {"properties": {"properties": "text"}}) == []
    assert planned_fields("IDENTIFY", ["not", "an", "object"]) == []
