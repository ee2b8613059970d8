"""What Segment's own Protocols settings for a source would do with a message
(plans.segment_would), in Segment's order: standard controls first, then the common schema."""

from __future__ import annotations

import pytest

from segadmin.segment.messages import build_message
from segadmin.segment.plans import check, segment_would
from tests.segment.test_plans import (
    COMMON_RULE,
    REALISTIC_RULE,
    conforming_order,
    shop_plan,
    track,
    track_rule,
    traits_rule,
    wrapped,
)

# Segment's own fixture for GET /sources/{id}/settings (segment-api-more.md §1.6), verbatim.
SEGMENT_FIXTURE = {
    "data": {
        "sourceId": "my-source-id",
        "settings": {
            "track": {
                "allowUnplannedEvents": True,
                "allowUnplannedEventProperties": True,
                "allowEventOnViolations": True,
                "allowPropertiesOnViolations": True,
                "commonEventOnViolations": "OMIT_PROPERTIES",
            },
            "group": {
                "allowTraitsOnViolations": True,
                "allowUnplannedTraits": True,
                "commonEventOnViolations": "ALLOW",
            },
            "identify": {
                "allowTraitsOnViolations": True,
                "allowUnplannedTraits": True,
                "commonEventOnViolations": "BLOCK",
            },
            "forwardingBlockedEventsTo": "my-other-source-id",
            "forwardingViolationsTo": "my-other-source-id",
        },
    }
}

ALLOW_ALL = {
    "track": {
        "allowUnplannedEvents": True,
        "allowUnplannedEventProperties": True,
        "allowEventOnViolations": True,
        "allowPropertiesOnViolations": True,
        "commonEventOnViolations": "ALLOW",
    },
    "identify": {
        "allowUnplannedTraits": True,
        "allowTraitsOnViolations": True,
        "commonEventOnViolations": "ALLOW",
    },
}


def settings(call: str = "track", **changes) -> dict:
    return {**ALLOW_ALL, call: {**ALLOW_ALL[call], **changes}}


PLAN = shop_plan(REALISTIC_RULE, COMMON_RULE)


def would(source_settings: dict, message: dict, call: str = "track") -> str:
    return segment_would(source_settings, call, check(PLAN, call, message))


def two_violations() -> dict:
    return conforming_order(revenue="12", currency="GBP")


def test_a_conforming_event_is_delivered():
    assert would(ALLOW_ALL, conforming_order()) == "Segment would deliver it"


def test_when_everything_is_allowed_violations_are_delivered_and_counted():
    assert would(ALLOW_ALL, two_violations()) == "Segment would deliver it with 2 violations"
    one = conforming_order(revenue="12")
    assert would(ALLOW_ALL, one) == "Segment would deliver it with 1 violation"


def test_settings_that_say_nothing_allow_as_segments_defaults_do():
    assert would({}, two_violations()) == "Segment would deliver it with 2 violations"


@pytest.mark.parametrize(
    ("allowed", "words"),
    [(False, "Segment would drop this event"), (True, "Segment would deliver it")],
)
def test_an_unplanned_event_is_dropped_only_when_unplanned_events_are_blocked(allowed, words):
    message = track("Order Complete", context={"userAgent": "Mozilla/5.0"})
    assert would(settings(allowUnplannedEvents=allowed), message) == words


def test_the_properties_of_an_unplanned_event_are_all_unplanned():
    message = track("Order Complete", {"order_id": "o-1"}, context={"userAgent": "Mozilla/5.0"})
    source = settings(allowUnplannedEventProperties=False)
    assert would(source, message) == "Segment would omit order_id"


def test_unplanned_properties_are_omitted_when_the_source_omits_them():
    message = conforming_order(coupon_code="X", gift=True)
    assert would(ALLOW_ALL, message) == "Segment would deliver it"
    source = settings(allowUnplannedEventProperties=False)
    assert would(source, message) == "Segment would omit coupon_code and gift"


def test_a_violation_drops_the_event_when_the_source_blocks_events_on_violations():
    assert (
        would(settings(allowEventOnViolations=False), two_violations())
        == "Segment would drop this event"
    )


def test_a_violation_omits_the_property_when_the_source_omits_properties_on_violations():
    source = settings(allowPropertiesOnViolations=False)
    assert would(source, two_violations()) == "Segment would omit currency and revenue"
    message = conforming_order(coupon=5)
    assert would(source, message) == "Segment would omit coupon"


def test_a_missing_required_property_cannot_be_omitted_and_stays_a_violation():
    message = conforming_order(coupon=5)
    del message["properties"]["order_id"]
    source = settings(allowPropertiesOnViolations=False)
    assert would(source, message) == "Segment would omit coupon and deliver it with 1 violation"


def test_a_nested_violation_omits_the_whole_property_that_holds_it():
    message = conforming_order(products=[{"price": 2}])
    source = settings(allowPropertiesOnViolations=False)
    assert would(source, message) == "Segment would omit products"


def bot(message: dict) -> dict:
    message["context"]["userAgent"] = "Googlebot/2.1"
    return message


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("ALLOW", "Segment would deliver it with 1 violation"),
        ("BLOCK", "Segment would drop this event"),
        # context.userAgent is no property: nothing to omit, the violation is delivered.
        ("OMIT_PROPERTIES", "Segment would deliver it with 1 violation"),
    ],
)
def test_a_common_schema_violation_follows_the_common_setting(action, words):
    source = settings(commonEventOnViolations=action)
    assert would(source, bot(conforming_order())) == words


def test_a_common_schema_violation_on_a_property_is_omitted_under_omit_properties():
    common = {
        "type": "COMMON",
        "key": None,
        "version": 1,
        "jsonSchema": wrapped("properties", {"order_id": {"type": "string", "minLength": 3}}),
    }
    plan = shop_plan(REALISTIC_RULE, common)
    findings = check(plan, "track", conforming_order(order_id="o"))
    source = settings(commonEventOnViolations="OMIT_PROPERTIES")
    assert segment_would(source, "track", findings) == "Segment would omit order_id"


def test_the_standard_controls_come_first_so_an_omitted_property_breaks_no_common_rule():
    common = {
        "type": "COMMON",
        "key": None,
        "version": 1,
        "jsonSchema": wrapped("properties", {"debug": {"type": "boolean"}}),
    }
    plan = shop_plan(REALISTIC_RULE, common)
    findings = check(plan, "track", conforming_order(debug="yes"))
    blocking = settings(commonEventOnViolations="BLOCK")
    assert segment_would(blocking, "track", findings) == "Segment would drop this event"
    omitting = settings(commonEventOnViolations="BLOCK", allowUnplannedEventProperties=False)
    assert segment_would(omitting, "track", findings) == "Segment would omit debug"


def test_the_standard_controls_come_first_so_a_blocked_event_never_reaches_the_common_rule():
    source = settings(allowEventOnViolations=False, commonEventOnViolations="ALLOW")
    assert would(source, bot(two_violations())) == "Segment would drop this event"


def test_an_extra_name_refused_by_additional_properties_is_unplanned_and_omitted_first():
    rule = track_rule("Item Added", {"sku": {"type": "string"}}, additionalProperties=False)
    findings = check(shop_plan(rule), "track", track("Item Added", {"sku": "A", "extra": 1}))
    blocking = settings(allowEventOnViolations=False)
    assert segment_would(blocking, "track", findings) == "Segment would drop this event"
    omitting = settings(allowEventOnViolations=False, allowUnplannedEventProperties=False)
    assert segment_would(omitting, "track", findings) == "Segment would omit extra"


IDENTIFY_PLAN = shop_plan(
    traits_rule("IDENTIFY", {"plan": {"type": "string", "enum": ["free", "pro"]}}), COMMON_RULE
)


def identify(**traits) -> dict:
    return build_message("identify", user_id="u1", traits=traits, context={"userAgent": "M"})


def would_identify(source: dict, message: dict) -> str:
    return segment_would(source, "identify", check(IDENTIFY_PLAN, "identify", message))


def test_identify_unplanned_traits_are_omitted_when_the_source_omits_them():
    message = identify(plan="pro", age=30)
    assert would_identify(ALLOW_ALL, message) == "Segment would deliver it"
    source = settings("identify", allowUnplannedTraits=False)
    assert would_identify(source, message) == "Segment would omit age"


def test_identify_traits_that_break_the_rule_are_omitted_when_the_source_says_so():
    message = identify(plan="gold")
    assert would_identify(ALLOW_ALL, message) == "Segment would deliver it with 1 violation"
    source = settings("identify", allowTraitsOnViolations=False)
    assert would_identify(source, message) == "Segment would omit plan"


def test_identify_follows_its_own_common_setting():
    message = identify(plan="pro")
    del message["context"]
    assert would_identify(settings("identify", commonEventOnViolations="BLOCK"), message) == (
        "Segment would drop this event"
    )
    assert would_identify(settings("track", commonEventOnViolations="BLOCK"), message) == (
        "Segment would deliver it with 1 violation"
    )


def test_segments_own_settings_answer_is_read_as_it_comes():
    message = bot(conforming_order())
    assert would(SEGMENT_FIXTURE, message) == "Segment would deliver it with 1 violation"
    assert would_identify(SEGMENT_FIXTURE, {**identify(plan="pro"), "context": {}}) == (
        "Segment would drop this event"
    )


def test_page_calls_have_no_protocols_controls_and_are_delivered_with_their_violations():
    page_rule = {
        "type": "PAGE",
        "key": "Pricing",
        "version": 1,
        "jsonSchema": wrapped("properties", {"plan": {"type": "string"}}, ["plan"]),
    }
    plan = shop_plan(page_rule)
    message = build_message("page", user_id="u1", name="Pricing", properties={})
    strict = {"track": {"allowEventOnViolations": False, "commonEventOnViolations": "BLOCK"}}
    assert segment_would(strict, "page", check(plan, "page", message)) == (
        "Segment would deliver it with 1 violation"
    )
