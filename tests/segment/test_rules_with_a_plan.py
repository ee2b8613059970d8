"""The rules module with a source's tracking plan handed in: one problem type, severities by
the source's enforcement (no Django here: the plan is built from Public API data)."""

from __future__ import annotations

import pytest

from segadmin.segment import plans, rules
from segadmin.segment.errors import Problem

PLAN = plans.Plan.from_api(
    {"id": "tp_1", "name": "Shop plan"},
    [
        {
            "type": "TRACK",
            "key": "Order Completed",
            "version": 1,
            "jsonSchema": {
                "properties": {
                    "properties": {
                        "type": "object",
                        "properties": {"total": {"type": "number"}},
                        "required": ["total"],
                    }
                }
            },
        }
    ],
)


def message(event: str, **properties: object) -> dict:
    return {"type": "track", "userId": "u", "event": event, "properties": properties}


def severities(check: rules.PlanCheck, msg: dict) -> dict[str, str]:
    return {p.code: p.severity for p in rules.check("track", msg, check)}


def test_a_plan_finding_is_a_rules_problem_with_its_field_and_plan() -> None:
    (found,) = rules.check("track", message("Order Completed"), rules.PlanCheck(PLAN))
    assert isinstance(found, Problem)
    assert (found.field, found.code, found.severity) == (
        "properties.total",
        "plan_violation",
        "error",
    )
    assert found.message == "total is required by the tracking plan “Shop plan”"
    assert (found.plan_name, found.rule_key, found.rule_version) == (
        "Shop plan",
        "Order Completed",
        1,
    )


def test_warn_makes_violations_warnings_and_block_errors() -> None:
    msg = message("Order Completed", total="12")
    assert severities(rules.PlanCheck(PLAN, enforcement="block"), msg) == {
        "plan_violation": "error"
    }
    assert severities(rules.PlanCheck(PLAN, enforcement="warn"), msg) == {
        "plan_violation": "warning"
    }


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("block", {"plan_unplanned_event": "error"}),
        ("warn", {"plan_unplanned_event": "warning"}),
        ("allow", {}),
    ],
)
def test_unplanned_events_follow_their_own_setting(setting: str, expected: dict) -> None:
    check = rules.PlanCheck(PLAN, enforcement="block", unplanned_events=setting)
    assert severities(check, message("Order Complete")) == expected


def test_without_a_plan_the_rules_are_unchanged() -> None:
    msg = message("Anything", total="x")
    assert rules.check("track", msg) == rules.check("track", msg, None) == []


def test_a_batch_keeps_each_plan_problem_with_its_index() -> None:
    from segadmin.segment.messages import validate_batch

    warned = validate_batch(
        [message("Order Completed", total=1), message("Order Completed")],
        rules.PlanCheck(PLAN, enforcement="warn"),
    )
    assert [(p.index, p.code, p.plan_name) for p in warned] == [(1, "plan_violation", "Shop plan")]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("block", [("event", "plan_unplanned_event", "error")]),
        ("warn", [("event", "plan_unplanned_event", "warning")]),
        ("allow", []),
    ],
)
def test_an_unplanned_event_with_properties_is_one_finding_not_one_per_property(
    setting: str, expected: list
) -> None:
    check = rules.PlanCheck(PLAN, unplanned_events=setting)
    found = rules.check("track", message("Order Complete", total=1, coupon="X", gift=True), check)
    assert [(p.field, p.code, p.severity) for p in found] == expected


BLOCKING = {"track": {"allowUnplannedEvents": False, "allowEventOnViolations": False}}


@pytest.mark.parametrize("setting", ["block", "warn", "allow"])
def test_what_segment_would_do_follows_the_plan_not_segadmins_enforcement(setting: str) -> None:
    # segadmin may allow an unplanned event without a word; the source's Protocols settings
    # still drop it at Segment, and the preview and result say so.
    check = rules.PlanCheck(PLAN, enforcement="warn", unplanned_events=setting, settings=BLOCKING)
    assert check.segment_would("track", message("Order Complete", total=1)) == (
        "Segment would drop this event"
    )
    assert check.segment_would("track", message("Order Completed", total="1")) == (
        "Segment would drop this event"
    )
    assert check.segment_would("track", message("Order Completed", total=1)) == (
        "Segment would deliver it"
    )
    lenient = rules.PlanCheck(PLAN, unplanned_events=setting)
    assert lenient.segment_would("track", message("Order Completed", total="1")) == (
        "Segment would deliver it with 1 violation"
    )
    assert lenient.segment_would("track", message("Order Complete", total=1)) == (
        "Segment would deliver it"
    )
