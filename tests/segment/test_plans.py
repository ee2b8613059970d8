"""Tracking plans (segment/plans.py): plans and rules from the Public API, matching a message
to its rule, and every JSON Schema feature Protocols plans use, as findings in words."""

from __future__ import annotations

import copy
import json

import pytest

from segadmin.segment import plans
from segadmin.segment.messages import build_message
from segadmin.segment.plans import (
    ERROR,
    PLAN_COMMON_VIOLATION,
    PLAN_DEPRECATED_EVENT,
    PLAN_SCHEMA_INVALID,
    PLAN_UNKNOWN_VERSION,
    PLAN_UNPLANNED_EVENT,
    PLAN_UNPLANNED_PROPERTY,
    PLAN_VIOLATION,
    WARNING,
    Plan,
    PlanDataInvalid,
    Rule,
    RuleType,
    check,
    find_rule,
)

# The realistic TRACK rule of segment-api-more.md §1.4, verbatim.
REALISTIC_RULE = json.loads(
    """
{
  "type": "TRACK",
  "key": "Order Completed",
  "version": 1,
  "jsonSchema": {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "description": "Fired when a user completes checkout",
    "labels": { "platform": "web" },
    "properties": {
      "context": {},
      "traits": {},
      "properties": {
        "type": "object",
        "properties": {
          "order_id": { "id": "/properties/properties/properties/order_id", "description": "Order id", "type": ["string"] },
          "revenue":  { "id": "/properties/properties/properties/revenue",  "description": "", "type": ["number"] },
          "currency": { "id": "/properties/properties/properties/currency", "description": "", "type": ["string"], "enum": ["USD", "EUR"] },
          "coupon":   { "id": "/properties/properties/properties/coupon",   "description": "", "type": ["string", "null"] },
          "products": {
            "id": "/properties/properties/properties/products",
            "type": ["array"],
            "items": {
              "id": "/properties/properties/properties/products/items",
              "type": "object",
              "properties": {
                "sku":   { "id": "/properties/properties/properties/products/items/properties/sku", "type": "string" },
                "price": { "id": "/properties/properties/properties/products/items/properties/price", "type": "number" }
              },
              "required": ["sku"]
            }
          }
        },
        "required": ["order_id", "revenue"]
      }
    }
  },
  "createdAt": "2022-07-22T21:47:01.000Z",
  "updatedAt": "2022-07-22T21:47:01.000Z",
  "deprecatedAt": "0001-01-01T00:00:00.000Z"
}
"""  # noqa: E501 (verbatim)
)

# The COMMON rule of a real export (segment-api-more.md §1.4), bot pattern shortened.
COMMON_RULE = {
    "type": "COMMON",
    "key": None,
    "version": 1,
    "jsonSchema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "context": {
                "type": "object",
                "properties": {
                    "userAgent": {"type": "string", "not": {"pattern": "(bot|crawl|spider)"}}
                },
                "required": ["userAgent"],
            },
            "properties": {},
            "traits": {},
        },
        "required": ["context"],
    },
    "deprecatedAt": "0001-01-01T00:00:00.000Z",
}


def wrapped(fields_key: str, properties: dict, required: list[str] | None = None, **extra):
    """A rule's jsonSchema the way Segment nests it: the whole payload, with the planned
    names under properties.<fields_key>."""
    inner: dict = {"type": "object", "properties": properties, **extra}
    if required:
        inner["required"] = required
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"context": {}, "traits": {}, "properties": {}, fields_key: inner},
    }


def track_rule(key: str, properties: dict, required=None, version: int = 1, **extra) -> dict:
    return {
        "type": "TRACK",
        "key": key,
        "version": version,
        "jsonSchema": wrapped("properties", properties, required, **extra),
        "deprecatedAt": "0001-01-01T00:00:00.000Z",
    }


def traits_rule(rule_type: str, traits: dict, required=None, **extra) -> dict:
    return {
        "type": rule_type,
        "key": None,
        "version": 1,
        "jsonSchema": wrapped("traits", traits, required, **extra),
    }


def shop_plan(*rules: dict) -> Plan:
    return Plan.from_api({"id": "tp_shop", "name": "Shop plan"}, list(rules))


def track(event: str = "Order Completed", properties: dict | None = None, **kwargs) -> dict:
    return build_message("track", user_id="u1", event=event, properties=properties, **kwargs)


def conforming_order(**overrides) -> dict:
    properties = {
        "order_id": "o-1",
        "revenue": 42.5,
        "currency": "EUR",
        "coupon": None,
        "products": [{"sku": "SKU-1", "price": 21.25}],
        **overrides,
    }
    return track("Order Completed", properties, context={"userAgent": "Mozilla/5.0"})


def messages_of(findings, code: str | None = None) -> list[str]:
    return [f.message for f in findings if code is None or f.code == code]


def by_path(findings) -> dict[str, str]:
    return {f.path: f.message for f in findings}


# --- Plans and rules from the Public API ----------------------------------------------------


def test_a_rule_from_the_public_api_keeps_its_type_key_version_and_schema():
    rule = Rule.from_api(REALISTIC_RULE)
    assert rule.type is RuleType.TRACK
    assert rule.key == "Order Completed"
    assert rule.version == 1
    assert rule.json_schema == REALISTIC_RULE["jsonSchema"]


def test_segments_zero_time_means_the_rule_is_not_deprecated():
    assert Rule.from_api(REALISTIC_RULE).deprecated_at is None
    deprecated = {**REALISTIC_RULE, "deprecatedAt": "2024-03-01T10:00:00.000Z"}
    assert Rule.from_api(deprecated).deprecated_at == "2024-03-01T10:00:00.000Z"


def test_the_common_rule_has_no_key():
    rule = Rule.from_api(COMMON_RULE)
    assert rule.type is RuleType.COMMON
    assert rule.key is None


def test_a_version_sent_as_a_float_is_a_whole_number():
    assert Rule.from_api({**REALISTIC_RULE, "version": 2.0}).version == 2


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"type": "ALIAS"}, "has the type 'ALIAS'; expected one of TRACK"),
        ({"version": 1.5}, "has the version 1.5; expected a whole number from 1"),
        ({"version": 0}, "has the version 0"),
        ({"key": 12}, "has a key that is not text"),
    ],
)
def test_a_rule_that_is_not_a_rule_is_refused_with_a_sentence(change, words):
    with pytest.raises(PlanDataInvalid, match=words.replace("(", r"\(").replace(")", r"\)")):
        Rule.from_api({**REALISTIC_RULE, **change})


def test_a_plan_from_the_public_api_takes_its_name_id_and_rules():
    plan = Plan.from_api(
        {"id": "tp_1zTHJW9aw5QHKgwrjY5lDb40Y7A", "name": "Typewriter Tracking Plan"},
        [REALISTIC_RULE, COMMON_RULE],
    )
    assert plan.name == "Typewriter Tracking Plan"
    assert plan.id == "tp_1zTHJW9aw5QHKgwrjY5lDb40Y7A"
    assert [rule.type for rule in plan.rules] == [RuleType.TRACK, RuleType.COMMON]


# --- Finding the rule -----------------------------------------------------------------------


@pytest.mark.parametrize("event", ["Order Complete", "order completed", "Order Completed "])
def test_an_event_name_matches_only_exactly_as_segment_matches(event):
    plan = shop_plan(REALISTIC_RULE)
    assert find_rule(plan, "track", track(event)) is None
    found = check(plan, "track", track(event))
    assert [f.code for f in found] == [PLAN_UNPLANNED_EVENT]
    assert found[0].path == "event"
    assert found[0].severity == ERROR


def test_an_unplanned_event_names_the_plan_and_the_event_it_looks_like():
    (found,) = check(shop_plan(REALISTIC_RULE), "track", track("Order Complete"))
    assert found.message == (
        "“Order Complete” is not an event in the tracking plan “Shop plan” "
        "(did you mean “Order Completed”?)"
    )
    (found,) = check(shop_plan(REALISTIC_RULE), "track", track("Signed Up"))
    assert found.message == "“Signed Up” is not an event in the tracking plan “Shop plan”"


def test_every_track_event_is_unplanned_in_a_plan_without_track_rules():
    found = check(shop_plan(COMMON_RULE), "track", track("Anything", context={"userAgent": "x"}))
    assert [f.code for f in found] == [PLAN_UNPLANNED_EVENT]


VERSIONED = (
    track_rule("Order Completed", {"order_id": {"type": "string"}}, ["order_id"], version=2)
    | {"jsonSchema": wrapped("properties", {"order_id": {}, "subtotal": {}}, ["subtotal"])},
    track_rule("Order Completed", {"order_id": {"type": "string"}}, ["order_id"], version=1),
)


def test_event_version_2_picks_version_2_of_the_rule():
    plan = shop_plan(*VERSIONED)
    message = track(properties={"order_id": "o-1"}, context={"protocols": {"event_version": 2}})
    assert find_rule(plan, "track", message).version == 2
    assert by_path(check(plan, "track", message)) == {
        "properties.subtotal": "subtotal is required by the tracking plan “Shop plan”"
    }


def test_without_an_event_version_segment_checks_the_oldest_version():
    plan = shop_plan(*VERSIONED)
    message = track(properties={"order_id": "o-1"})
    assert find_rule(plan, "track", message).version == 1
    assert check(plan, "track", message) == []


@pytest.mark.parametrize(
    ("asked", "words"),
    [
        (3, "Version 3 of “Order Completed” is not in the tracking plan “Shop plan”"),
        (3.2, "context.protocols.event_version must be a whole number, not 3.2"),
        ("2", "context.protocols.event_version must be a whole number, not 2"),
    ],
)
def test_an_event_version_segment_cannot_use_falls_back_to_the_oldest_with_a_warning(asked, words):
    plan = shop_plan(*VERSIONED)
    message = track(properties={"order_id": "o-1"}, context={"protocols": {"event_version": asked}})
    assert find_rule(plan, "track", message).version == 1
    (found,) = check(plan, "track", message)
    assert found.code == PLAN_UNKNOWN_VERSION
    assert found.severity == WARNING
    assert found.path == "context.protocols.event_version"
    assert found.message == f"{words}; Segment checks it against version 1"


def test_a_deprecated_rule_still_checks_and_says_it_is_deprecated():
    rule = {**REALISTIC_RULE, "deprecatedAt": "2024-03-01T10:00:00.000Z"}
    found = check(shop_plan(rule), "track", conforming_order())
    assert [(f.code, f.severity, f.path) for f in found] == [
        (PLAN_DEPRECATED_EVENT, WARNING, "event")
    ]
    assert found[0].message == (
        "“Order Completed” (version 1) is deprecated in the tracking plan “Shop plan” "
        "since 2024-03-01"
    )


def test_identify_and_group_match_their_rule_by_type():
    identify = traits_rule("IDENTIFY", {"email": {"type": "string"}})
    group = traits_rule("GROUP", {"plan": {"type": "string"}})
    plan = shop_plan(REALISTIC_RULE, identify, group, COMMON_RULE)
    message = build_message("identify", user_id="u1", traits={"email": "a@example.com"})
    assert find_rule(plan, "identify", message).type is RuleType.IDENTIFY
    message = build_message("group", user_id="u1", group_id="g1", traits={"plan": "pro"})
    assert find_rule(plan, "group", message).type is RuleType.GROUP


def test_a_page_matches_the_rule_named_like_it_and_else_a_rule_without_a_name():
    named = {
        "type": "PAGE",
        "key": "Pricing",
        "version": 1,
        "jsonSchema": wrapped("properties", {"plan": {"type": "string"}}),
    }
    keyless = {**named, "key": None, "jsonSchema": wrapped("properties", {})}
    plan = shop_plan(named, keyless)
    pricing = build_message("page", user_id="u1", name="Pricing")
    other = build_message("page", user_id="u1", name="Home")
    assert find_rule(plan, "page", pricing).key == "Pricing"
    assert find_rule(plan, "page", other).key is None
    assert find_rule(shop_plan(named), "page", other) is None
    assert check(shop_plan(named), "page", build_message("page", user_id="u1", name="Home")) == []


def test_a_track_call_without_an_event_name_is_left_to_the_rules_module():
    message = track("Order Completed")
    del message["event"]
    assert find_rule(shop_plan(REALISTIC_RULE), "track", message) is None
    assert check(shop_plan(REALISTIC_RULE), "track", message) == []


def test_alias_and_unknown_calls_match_no_rule():
    plan = shop_plan(REALISTIC_RULE, COMMON_RULE)
    assert find_rule(plan, "alias", build_message("alias", user_id="u1", previous_id="a")) is None
    assert check(plan, "batch", {"type": "batch"}) == []


def test_the_common_rule_is_never_the_matching_rule():
    plan = shop_plan(COMMON_RULE)
    assert find_rule(plan, "identify", build_message("identify", user_id="u1")) is None


# --- JSON Schema features, in words --------------------------------------------------------


def test_a_message_that_follows_the_realistic_rule_has_no_findings():
    assert check(shop_plan(REALISTIC_RULE, COMMON_RULE), "track", conforming_order()) == []


def test_the_realistic_rule_names_every_violation_at_its_field():
    message = conforming_order(
        revenue="12", currency="GBP", coupon=7, products=[{"price": 1}, {"sku": 5}]
    )
    del message["properties"]["order_id"]
    found = check(shop_plan(REALISTIC_RULE), "track", message)
    assert {f.code for f in found} == {PLAN_VIOLATION}
    assert by_path(found) == {
        "properties.order_id": "order_id is required by the tracking plan “Shop plan”",
        "properties.revenue": "revenue must be a number",
        "properties.currency": "currency must be one of: USD, EUR",
        "properties.coupon": "coupon must be text or empty",
        "properties.products[0].sku": (
            "products[0].sku is required by the tracking plan “Shop plan”"
        ),
        "properties.products[1].sku": "products[1].sku must be text",
    }
    order_id = next(f for f in found if f.path == "properties.order_id")
    assert (order_id.plan_name, order_id.rule_key, order_id.rule_version) == (
        "Shop plan",
        "Order Completed",
        1,
    )
    assert order_id.severity == ERROR
    assert order_id.keyword == "required"


def test_null_passes_where_the_plan_allows_null_and_nowhere_else():
    plan = shop_plan(REALISTIC_RULE)
    assert check(plan, "track", conforming_order(coupon=None)) == []
    assert by_path(check(plan, "track", conforming_order(order_id=None))) == {
        "properties.order_id": "order_id must be text"
    }


@pytest.mark.parametrize(
    ("schema", "value", "words"),
    [
        ({"type": "string", "pattern": "^[A-Z]{3}-\\d+$"}, "abc-1", "must match the pattern "),
        ({"type": "integer", "minimum": 1}, 0, "must be at least 1"),
        ({"type": "integer", "maximum": 10}, 11, "must be at most 10"),
        ({"type": "number", "exclusiveMinimum": 0}, 0, "must be more than 0"),
        ({"type": "integer"}, 1.5, "must be a whole number"),
        ({"type": "boolean"}, "yes", "must be true or false"),
        ({"type": ["number", "string"]}, [], "must be a number or text"),
        ({"type": "array", "minItems": 1}, [], "must have at least 1 item"),
        ({"type": "string", "minLength": 3}, "ab", "must be at least 3 characters long"),
        ({"type": "string", "maxLength": 2}, "abc", "must be at most 2 characters long"),
        ({"const": "web"}, "ios", "must be web"),
        (False, 1, "is not allowed by the tracking plan “Shop plan”"),
    ],
)
def test_each_keyword_says_what_the_value_must_be(schema, value, words):
    rule = track_rule("Item Added", {"field": schema})
    (found,) = check(shop_plan(rule), "track", track("Item Added", {"field": value}))
    assert found.code == PLAN_VIOLATION
    assert found.path == "properties.field"
    assert found.message.startswith(f"field {words}")


def test_a_pattern_is_named_in_its_sentence():
    rule = track_rule("Item Added", {"sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d+$"}})
    (found,) = check(shop_plan(rule), "track", track("Item Added", {"sku": "abc"}))
    assert found.message == "sku must match the pattern ^[A-Z]{3}-\\d+$"
    assert check(shop_plan(rule), "track", track("Item Added", {"sku": "ABC-12"})) == []


def test_an_enum_of_traits_lists_the_allowed_values():
    plan = shop_plan(traits_rule("IDENTIFY", {"plan": {"type": "string", "enum": ["free", "pro"]}}))
    message = build_message("identify", user_id="u1", traits={"plan": "gold"})
    assert by_path(check(plan, "identify", message)) == {
        "traits.plan": "plan must be one of: free, pro"
    }


def test_nested_objects_are_checked_at_every_level():
    rule = track_rule(
        "Order Shipped",
        {
            "shipping": {
                "type": "object",
                "properties": {
                    "address": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                        "required": ["city"],
                    }
                },
                "required": ["address"],
            }
        },
    )
    plan = shop_plan(rule)
    missing = track("Order Shipped", {"shipping": {"address": {"zip": 75001}}})
    assert by_path(check(plan, "track", missing)) == {
        "properties.shipping.address.city": (
            "shipping.address.city is required by the tracking plan “Shop plan”"
        ),
        "properties.shipping.address.zip": "shipping.address.zip must be text",
    }
    assert by_path(check(plan, "track", track("Order Shipped", {"shipping": "Paris"}))) == {
        "properties.shipping": "shipping must be an object"
    }


def test_additional_properties_false_refuses_each_extra_name_once():
    rule = track_rule("Item Added", {"sku": {"type": "string"}}, additionalProperties=False)
    found = check(shop_plan(rule), "track", track("Item Added", {"sku": "A", "extra": 1, "x": 2}))
    assert [(f.code, f.path, f.message) for f in found] == [
        (
            PLAN_VIOLATION,
            "properties.extra",
            "extra is not allowed by the tracking plan “Shop plan”",
        ),
        (PLAN_VIOLATION, "properties.x", "x is not allowed by the tracking plan “Shop plan”"),
    ]


def test_additional_properties_false_in_a_nested_object_names_the_nested_field():
    rule = track_rule(
        "Item Added",
        {
            "item": {
                "type": "object",
                "properties": {"sku": {"type": "string"}},
                "additionalProperties": False,
            }
        },
    )
    found = check(
        shop_plan(rule), "track", track("Item Added", {"item": {"sku": "A", "colour": 1}})
    )
    assert by_path(found) == {
        "properties.item.colour": "item.colour is not allowed by the tracking plan “Shop plan”"
    }


@pytest.mark.parametrize(
    "value",
    ["2024-05-01T09:30:00Z", "2024-05-01T09:30:00.123+02:00", "2024-02-29t23:59:59z"],
)
def test_a_date_time_with_a_time_zone_passes(value):
    rule = track_rule("Trial Started", {"ends_at": {"type": "string", "format": "date-time"}})
    assert check(shop_plan(rule), "track", track("Trial Started", {"ends_at": value})) == []


@pytest.mark.parametrize(
    "value",
    ["2024-05-01T09:30:00", "2024-05-01", "2024-05-01T09:30Z", "2023-02-29T10:00:00Z", "soon"],
)
def test_a_date_time_without_a_zone_or_off_the_calendar_is_a_violation(value):
    rule = track_rule("Trial Started", {"ends_at": {"type": "string", "format": "date-time"}})
    (found,) = check(shop_plan(rule), "track", track("Trial Started", {"ends_at": value}))
    assert found.message == (
        "ends_at must be a date and time with a time zone, like 2024-05-01T09:30:00Z"
    )


# --- Unplanned properties and traits --------------------------------------------------------


def test_a_property_the_rule_does_not_plan_is_an_unplanned_property_warning():
    found = check(shop_plan(REALISTIC_RULE), "track", conforming_order(gift_wrap=True))
    assert [(f.code, f.severity, f.path) for f in found] == [
        (PLAN_UNPLANNED_PROPERTY, WARNING, "properties.gift_wrap")
    ]
    assert found[0].message == (
        "gift_wrap is not a planned property of “Order Completed” in the tracking plan “Shop plan”"
    )


def test_a_trait_the_identify_rule_does_not_plan_is_an_unplanned_trait():
    plan = shop_plan(traits_rule("IDENTIFY", {"email": {"type": "string"}}))
    message = build_message("identify", user_id="u1", traits={"email": "a@b.c", "age": 30})
    (found,) = check(plan, "identify", message)
    assert (found.code, found.path) == (PLAN_UNPLANNED_PROPERTY, "traits.age")
    assert found.message == (
        "age is not a planned trait for Identify in the tracking plan “Shop plan”"
    )


def test_without_an_identify_rule_every_trait_is_unplanned_as_in_segment():
    message = build_message("identify", user_id="u1", traits={"email": "a@b.c"})
    found = check(shop_plan(REALISTIC_RULE), "identify", message)
    assert [(f.code, f.path) for f in found] == [(PLAN_UNPLANNED_PROPERTY, "traits.email")]


def test_pattern_properties_count_as_planned_names():
    rule = track_rule("Item Added", {}, patternProperties={"^utm_": {"type": "string"}})
    message = track("Item Added", {"utm_source": "news", "other": 1})
    assert [f.path for f in check(shop_plan(rule), "track", message)] == ["properties.other"]


# --- The common schema ------------------------------------------------------------------------


def test_the_common_schema_checks_the_whole_payload_of_every_call():
    plan = shop_plan(REALISTIC_RULE, COMMON_RULE)
    bot = conforming_order()
    bot["context"]["userAgent"] = "Googlebot/2.1"
    found = check(plan, "track", bot)
    assert [(f.code, f.path, f.message) for f in found] == [
        (
            PLAN_COMMON_VIOLATION,
            "context.userAgent",
            "context.userAgent must not match the pattern (bot|crawl|spider)",
        )
    ]
    assert (found[0].rule_type, found[0].rule_key) == (RuleType.COMMON, None)
    identify = build_message("identify", user_id="u1")
    del identify["context"]
    found = check(plan, "identify", identify)
    assert by_path(found) == {"context": "context is required by the tracking plan “Shop plan”"}


def test_the_common_schema_sees_traits_under_their_own_names():
    common = {
        "type": "COMMON",
        "key": None,
        "version": 1,
        "jsonSchema": wrapped("traits", {"email": {"type": "string"}}, ["email"]),
    }
    plan = shop_plan(traits_rule("IDENTIFY", {"email": {}}), common)
    found = check(plan, "identify", build_message("identify", user_id="u1", traits={}))
    assert [(f.code, f.path, f.message) for f in found] == [
        (
            PLAN_COMMON_VIOLATION,
            "traits.email",
            "email is required by the tracking plan “Shop plan”",
        )
    ]


def test_the_common_schema_does_not_judge_alias_calls():
    plan = shop_plan(COMMON_RULE)
    message = build_message("alias", user_id="u1", previous_id="a1")
    del message["context"]
    assert check(plan, "alias", message) == []


# --- Schemas as Segment writes them, and broken ones -----------------------------------------


def test_draft_04_id_keys_are_neither_validated_nor_base_uris():
    schema = wrapped(
        "properties",
        {"size": {"id": "/properties/properties/properties/size", "$ref": "#/definitions/size"}},
    )
    schema["id"] = "http://example.com/schemas/elsewhere.json"
    schema["definitions"] = {"size": {"type": "string", "enum": ["S", "M", "L"]}}
    rule = {"type": "TRACK", "key": "Item Added", "version": 1, "jsonSchema": schema}
    plan = shop_plan(rule)
    assert check(plan, "track", track("Item Added", {"size": "M"})) == []
    assert by_path(check(plan, "track", track("Item Added", {"size": "XL"}))) == {
        "properties.size": "size must be one of: S, M, L"
    }


def test_a_draft_04_schema_header_still_gets_draft_07_semantics():
    rule = track_rule("Item Added", {"qty": {"type": "number", "exclusiveMinimum": 0}})
    rule["jsonSchema"]["$schema"] = "http://json-schema.org/draft-04/schema#"
    rule["jsonSchema"]["id"] = "http://example.com/root.json"
    (found,) = check(shop_plan(rule), "track", track("Item Added", {"qty": 0}))
    assert found.message == "qty must be more than 0"


def test_a_rule_without_schema_header_is_checked_the_same():
    rule = track_rule("Item Added", {"qty": {"type": "integer"}}, ["qty"])
    del rule["jsonSchema"]["$schema"]
    assert by_path(check(shop_plan(rule), "track", track("Item Added", {}))) == {
        "properties.qty": "qty is required by the tracking plan “Shop plan”"
    }


def test_a_rule_with_a_null_schema_checks_nothing_but_plans_no_names():
    rule = {"type": "TRACK", "key": "Item Added", "version": 1, "jsonSchema": None}
    found = check(shop_plan(rule), "track", track("Item Added", {"qty": 1}))
    assert [(f.code, f.path) for f in found] == [(PLAN_UNPLANNED_PROPERTY, "properties.qty")]


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        (wrapped("properties", {"at": {"type": "date"}}), "cannot be read: 'date' is not valid"),
        (wrapped("properties", {"sku": {"pattern": "(unclosed"}}), "cannot be read: '(unclosed'"),
        ("not a schema", "cannot be read: 'not a schema' is not of type"),
        ({"$ref": "http://example.com/remote.json"}, "cannot be used: a $ref cannot be resolved"),
        ({"$ref": "#"}, "cannot be used: it loops"),
    ],
)
def test_a_malformed_schema_is_one_clear_warning_and_never_an_exception(schema, reason):
    rule = {"type": "TRACK", "key": "Item Added", "version": 1, "jsonSchema": schema}
    plan = shop_plan(rule, COMMON_RULE)
    message = track("Item Added", {}, context={"userAgent": "Mozilla/5.0"})
    found = [f for f in check(plan, "track", message) if f.code != PLAN_UNPLANNED_PROPERTY]
    assert [(f.code, f.severity, f.path) for f in found] == [(PLAN_SCHEMA_INVALID, WARNING, "")]
    assert found[0].message.startswith(
        "The tracking plan “Shop plan” has a schema for “Item Added” (version 1) that "
    )
    assert reason in found[0].message
    assert found[0].message.endswith("The message was not checked against it.")


def test_a_huge_malformed_schema_is_quoted_short():
    rule = {"type": "TRACK", "key": "Item Added", "version": 1, "jsonSchema": ["x" * 50] * 100}
    (found,) = check(shop_plan(rule), "track", track("Item Added"))
    assert found.code == PLAN_SCHEMA_INVALID
    assert len(found.message) < 400


def test_a_rule_is_compiled_once_even_when_the_plan_is_built_again(monkeypatch):
    compiled = []
    real = plans.Draft7Validator.check_schema

    def counting(schema, *args, **kwargs):
        compiled.append(schema)
        return real(schema, *args, **kwargs)

    plans._compile.cache_clear()
    monkeypatch.setattr(plans.Draft7Validator, "check_schema", counting)
    rule = copy.deepcopy(REALISTIC_RULE)
    rule["jsonSchema"]["description"] = "compiled once"  # not shared with other tests
    for _ in range(3):
        plan = shop_plan(rule)
        for _ in range(3):
            check(plan, "track", conforming_order())
    assert len(compiled) == 1


def test_a_finding_has_the_shape_of_the_rules_modules_problems():
    (found,) = check(shop_plan(REALISTIC_RULE), "track", conforming_order(revenue="1"))
    assert (found.code, found.path, found.field, found.severity, found.is_error) == (
        PLAN_VIOLATION,
        "properties.revenue",
        "properties.revenue",
        ERROR,
        True,
    )
    assert str(found) == "revenue must be a number"


def test_an_unreadable_name_pattern_is_reported_once_and_plans_no_names():
    rule = track_rule("Item Added", {}, patternProperties={"(utm": {"type": "string"}})
    found = check(shop_plan(rule), "track", track("Item Added", {"utm_source": "news"}))
    assert [(f.code, f.path) for f in found] == [
        (PLAN_SCHEMA_INVALID, ""),
        (PLAN_UNPLANNED_PROPERTY, "properties.utm_source"),
    ]
