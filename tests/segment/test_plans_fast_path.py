"""The tracking-plan check's fast path (segment/plans.py): each rule's schema is also compiled
with fastjsonschema as a yes/no check, and only a message it does not pass goes through
jsonschema for the findings in words. So it must say "conforms" exactly when jsonschema finds
no violation: property-tested over generated messages against the demo plan of the local fake,
the rules of tests/tracking_plans.py and a rule with every keyword those leave out."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segadmin.segment import plans
from segadmin.segment.fake.plans import demo_rules
from tests.tracking_plans import ORDER_V1, ORDER_V2

# Everything else a plan uses: patterns with "$", formats, nested objects, arrays of objects,
# integers, nullable, enums, additionalProperties false, string and array lengths, a false
# schema, patternProperties, dependencies, if/then, not.
WIDE = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["properties"],
    "properties": {
        "context": {
            "type": "object",
            "properties": {"userAgent": {"type": "string", "not": {"pattern": "(bot|crawl)"}}},
        },
        "properties": {
            "type": "object",
            "required": ["sku", "amount"],
            "additionalProperties": False,
            "patternProperties": {"^x_": {"type": ["string", "integer"]}},
            "dependencies": {"coupon": ["plan"]},
            "properties": {
                "sku": {"id": "/p/sku", "type": ["string"], "pattern": "^[A-Z]{3}-\\d{1,6}$"},
                "amount": {"type": ["number"], "minimum": 0, "exclusiveMaximum": 1000},
                "qty": {"type": "integer", "maximum": 99},
                "plan": {"type": ["string"], "enum": ["free", "pro", "team"]},
                "coupon": {"type": ["string", "null"], "minLength": 2, "maxLength": 8},
                "at": {"type": ["string"], "format": "date-time"},
                "day": {"type": "string", "format": "date"},
                "email": {"type": "string", "format": "email"},
                "site": {"type": "string", "format": "hostname"},
                "flag": {"type": "boolean", "const": True},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "never": False,
                "items": {
                    "type": ["array"],
                    "items": {
                        "type": "object",
                        "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                        "required": ["sku"],
                    },
                },
                "shipping": {
                    "type": ["object"],
                    "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                    "if": {"properties": {"city": {"const": "Paris"}}},
                    "then": {"required": ["zip"]},
                },
            },
        },
    },
}

SCHEMAS = [rule["jsonSchema"] for rule in demo_rules()] + [ORDER_V1, ORDER_V2, WIDE]
COMPILED = [plans._compile_schema(schema) for schema in SCHEMAS]
FAST = [compiled.fast_check(now=True) for compiled in COMPILED]

TEXTS = [
    "",
    "USD",
    "EUR",
    "free",
    "pro",
    "team",
    "ABC-12",
    "ABC-12\n",
    "ABC-1234567",
    "abc-12",
    "Paris",
    "2024-05-01T09:30:00Z",
    "2024-05-01T09:30:00.5+02:00",
    "2024-02-30T09:30:00Z",
    "2024-05-01T09:30:00",
    "2024-05-01",
    "2024-13-01",
    "a@b.co",
    "not an email",
    "example.com",
    "-bad-.host",
    "Mozilla/5.0",
    "Googlebot/2.1",
]
scalars = st.one_of(
    st.sampled_from(TEXTS),
    st.text(max_size=12),
    st.integers(min_value=-5, max_value=1200),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=2000),
    st.sampled_from([0, 1, 1.0, 2.5, -0.0, True, False, None, 10**20]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["sku", "qty", "city", "zip", "x"]), inner, max_size=3),
    ),
    max_leaves=8,
)
NAMES = [
    "order_id", "total", "currency", "coupon", "products", "sku", "name", "price", "plan",
    "email", "age", "amount", "qty", "at", "day", "site", "flag", "tags", "never", "items",
    "shipping", "x_one", "other",
]  # fmt: skip
fields = st.dictionaries(st.sampled_from(NAMES), values, max_size=7)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify"])},
    optional={
        "event": st.sampled_from(["Order Completed", "Signed Up"]),
        "properties": st.one_of(fields, values),
        "traits": st.one_of(fields, values),
        "context": st.one_of(
            st.fixed_dictionaries({}, optional={"app": values, "userAgent": values}), values
        ),
    },
)


def jsonschema_finds_nothing(compiled: plans._Compiled, message: Any) -> bool:
    assert compiled.validator is not None
    return next(compiled.validator.iter_errors(message), None) is None


def test_every_rule_of_these_plans_has_a_fast_path():
    assert all(conforms is not None for conforms in FAST)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(min_value=0, max_value=len(SCHEMAS) - 1), message=messages)
def test_the_fast_path_says_conforms_exactly_when_jsonschema_finds_no_violation(index, message):
    conforms = FAST[index]
    assert conforms is not None
    assert conforms(message) is jsonschema_finds_nothing(COMPILED[index], message)


@pytest.mark.parametrize(
    "value",
    ["ABC-12", "ABC-12\n", "ABC-12\n\n", "abc-12", "ABC-12 "],
)
def test_a_pattern_ending_in_dollar_means_what_it_means_to_jsonschema(value):
    compiled = plans._compile_schema(
        {"properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{1,6}$"}}}
    )
    conforms = compiled.fast_check(now=True)
    assert conforms is not None
    assert conforms({"sku": value}) is jsonschema_finds_nothing(compiled, {"sku": value})


@pytest.mark.parametrize(
    "schema",
    [
        {"properties": {"n": {"multipleOf": 0.1}}},
        {"properties": {"n": {"$ref": "https://example.com/schema.json"}}},
        {"properties": {"n": {"type": "string", "pattern": "^a[$]"}}},
    ],
)
def test_a_schema_the_two_could_judge_differently_is_left_to_jsonschema(schema):
    compiled = plans._compile_schema(schema)
    assert compiled.validator is not None
    assert compiled.fast_check(now=True) is None


def test_a_rule_gets_its_fast_check_once_it_has_been_checked_a_few_times():
    plan = plans.Plan.from_api({"name": "Shop plan"}, demo_rules())
    message = {"event": "Signed Up", "properties": {"plan": "pro"}}
    rule = plans.find_rule(plan, "track", message)
    assert rule is not None
    plans._compile.cache_clear()
    for _ in range(plans.FAST_AFTER - 1):
        assert plans.check(plan, "track", message) == []
    assert plan.compiled(rule).conforms is None
    assert plans.check(plan, "track", message) == []
    assert plan.compiled(rule).conforms is not None


def test_0_3_is_still_not_a_multiple_of_0_1():
    plan = plans.Plan.from_api(
        {"name": "P"},
        [
            {
                "type": "IDENTIFY",
                "version": 1,
                "jsonSchema": {
                    "properties": {"traits": {"properties": {"n": {"multipleOf": 0.1}}}}
                },
            }
        ],
    )
    [finding] = plans.check(plan, "identify", {"traits": {"n": 0.3}})
    assert finding.message == "n must be a multiple of 0.1"


def without_fast_path(plan: plans.Plan) -> plans.Plan:
    """The same plan, every rule checked by jsonschema alone (as before the fast path)."""
    slow = plans.Plan(name=plan.name, rules=plan.rules, id=plan.id)
    for rule in slow.rules:
        slot = (rule.type, rule.key, rule.version)
        slow._compiled[slot] = dataclasses.replace(
            plan.compiled(rule), fast_schema=None, conforms=None
        )
    return slow


DEMO = plans.Plan.from_api({"name": "Shop plan"}, demo_rules())
DEMO_SLOW = without_fast_path(DEMO)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=messages, call_type=st.sampled_from(["track", "identify", "page"]))
def test_every_message_gets_the_same_findings_with_the_fast_path_as_without(message, call_type):
    assert plans.check(DEMO, call_type, message) == plans.check(DEMO_SLOW, call_type, message)
