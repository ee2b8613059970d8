"""A source's tracking plan at the call screens, Send again and the send service (issue 13).

Block refuses a message that breaks the plan, with each reason next to its field; Warn sends
it and lists the violations on the result and in the audit entry; unplanned events follow
their own setting; beside it, what Segment's own Protocols settings would do.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from segadmin import sending as services
from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Source
from segadmin.segment.errors import MessageInvalid
from segadmin.segment.messages import build_message
from tests.calls.conftest import WRITE_KEY, errors_of, form_data
from tests.tracking_plans import PLAN_NAME, connect

pytestmark = pytest.mark.django_db

MISSING_ORDER_ID = f"order_id is required by the tracking plan “{PLAN_NAME}”"
TOTAL_NOT_A_NUMBER = "total must be a number"


def order(action: str, source: Source, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "user_id": "u-1",
        "event": "Order Completed",
        "properties": {"total": "12"},
        **extra,
    }
    return {**form_data(source, **fields), "action": action}


@pytest.fixture(autouse=True)
def _known_write_key(fake_segment: Any) -> None:
    fake_segment.add_write_key(WRITE_KEY)


def requests_of(entry_kind: str = Kind.REQUEST) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(kind=entry_kind))


@pytest.mark.parametrize("action", ["preview", "send"])
def test_under_block_a_plan_violation_is_refused_next_to_its_field_and_nothing_is_sent(
    action: str, marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    connect(source, enforcement="block")
    response = marketer_client.post("/calls/track/", order(action, source))
    assert response.status_code == 422
    errors = errors_of(response)["properties"]
    assert any(MISSING_ORDER_ID in e for e in errors), errors
    assert any(TOTAL_NOT_A_NUMBER in e for e in errors), errors
    assert fake_segment.requests == []
    assert not AuditEntry.objects.exists()


def test_under_warn_the_message_is_sent_with_its_violations_on_the_result_and_the_record(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    plan = connect(source, enforcement="warn")
    response = marketer_client.post("/calls/track/", order("send", source))
    assert response.status_code == 200, errors_of(response)
    page = response.content.decode()
    assert 'data-testid="plan-violations"' in page
    assert "Sent with 2 violations" in page
    assert MISSING_ORDER_ID in page and TOTAL_NOT_A_NUMBER in page
    assert len(fake_segment.messages("/v1/track")) == 1

    (entry,) = requests_of()
    assert entry.plan_violations == 2
    record = json.loads(entry.details)["tracking_plan"]
    assert (record["name"], record["id"], record["revision"]) == (PLAN_NAME, plan.plan_id, 3)
    assert record["enforcement"] == "warn"
    found = {(f["field"], f["code"]): f["message"] for f in record["findings"]}
    assert found[("properties.order_id", "plan_violation")] == MISSING_ORDER_ID
    assert found[("properties.total", "plan_violation")].startswith(TOTAL_NOT_A_NUMBER)
    assert record["segment_would"] == "Segment would deliver it with 2 violations"


def test_a_conforming_message_is_sent_and_recorded_with_its_plan_and_no_violation(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    connect(source, enforcement="block")
    data = order("send", source, properties={"order_id": "o-1", "total": 12})
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 200, errors_of(response)
    (entry,) = requests_of()
    assert entry.plan_violations == 0
    record = json.loads(entry.details)["tracking_plan"]
    assert (record["name"], record["violations"], record["findings"]) == (PLAN_NAME, 0, [])


UNPLANNED = f"“Order Complete” is not an event in the tracking plan “{PLAN_NAME}”"
DID_YOU_MEAN = "(did you mean “Order Completed”?)"


def test_an_unplanned_event_under_block_is_refused_case_sensitively_with_did_you_mean(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    connect(source, unplanned_events="block")
    data = order("send", source, event="Order Complete", properties={})
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 422
    assert errors_of(response)["event"] == [f"{UNPLANNED} {DID_YOU_MEAN}"]
    # The name in another case is no more planned than a typo.
    data = order("send", source, event="order completed", properties={})
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 422
    assert "(did you mean “Order Completed”?)" in errors_of(response)["event"][0]
    assert fake_segment.requests == []


def test_an_unplanned_event_under_warn_is_sent_and_listed(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    connect(source, unplanned_events="warn")
    data = order("send", source, event="Order Complete", properties={})
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 200, errors_of(response)
    assert UNPLANNED in response.content.decode()
    assert len(fake_segment.messages("/v1/track")) == 1
    (entry,) = requests_of()
    assert entry.plan_violations == 1


def test_an_unplanned_event_under_allow_is_sent_without_a_word(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    connect(source, unplanned_events="allow")
    data = order("send", source, event="Order Complete", properties={})
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 200, errors_of(response)
    assert "is not an event in the tracking plan" not in response.content.decode()
    assert len(fake_segment.messages("/v1/track")) == 1
    (entry,) = requests_of()
    assert entry.plan_violations == 0


def test_event_version_selects_the_rule_the_message_is_checked_against(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    connect(source, enforcement="block")
    properties = {"order_id": "o-1", "total": 12}
    # Without a version Segment checks against the oldest, which needs no currency.
    response = marketer_client.post(
        "/calls/track/", order("preview", source, properties=properties)
    )
    assert response.status_code == 200, errors_of(response)
    versioned = order(
        "preview", source, properties=properties, context={"protocols": {"event_version": 2}}
    )
    response = marketer_client.post("/calls/track/", versioned)
    assert response.status_code == 422
    assert f"currency is required by the tracking plan “{PLAN_NAME}”" in " ".join(
        errors_of(response)["properties"]
    )


def test_a_forged_post_skipping_the_form_is_refused_by_the_send_service(
    source: Source, fake_segment: Any
) -> None:
    connect(source, enforcement="block")
    message = build_message(
        "track", user_id="u-1", event="Order Completed", properties={"total": 12}
    )
    with pytest.raises(MessageInvalid) as refused:
        services.send_message(actor=Actor.system("forger"), source=source, message=message)
    assert [(p.field, p.code) for p in refused.value.problems] == [
        ("properties.order_id", "plan_violation")
    ]
    assert refused.value.problems[0].message == MISSING_ORDER_ID
    assert fake_segment.requests == []
    assert not AuditEntry.objects.exists()


def test_send_again_of_an_entry_that_now_breaks_the_plan_is_refused_with_the_reason(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    response = marketer_client.post("/calls/track/", order("send", source))
    assert response.status_code == 200, errors_of(response)
    (entry,) = requests_of()
    connect(source, enforcement="block")

    response = marketer_client.post(f"/audit/{entry.pk}/send-again/")
    assert response.status_code == 302
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(
        m.startswith("Not sent again: the stored message breaks the source's tracking plan")
        and MISSING_ORDER_ID in m
        for m in said
    ), said
    assert len(fake_segment.messages("/v1/track")) == 1
    assert len(requests_of()) == 1


def test_send_again_under_warn_sends_and_keeps_the_violations_on_the_record(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    response = marketer_client.post("/calls/track/", order("send", source))
    (first,) = requests_of()
    connect(source, enforcement="warn")
    response = marketer_client.post(f"/audit/{first.pk}/send-again/")
    assert response.status_code == 302
    again = AuditEntry.objects.get(kind=Kind.REQUEST, related_to=first)
    assert again.plan_violations == 2
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(MISSING_ORDER_ID in m for m in said), said


@pytest.mark.parametrize(
    ("protocols", "properties", "would"),
    [
        ({}, {"total": "12"}, "Segment would deliver it with 2 violations"),
        (
            {"track": {"allowEventOnViolations": False}},
            {"total": "12"},
            "Segment would drop this event",
        ),
        (
            {"track": {"allowUnplannedEventProperties": False}},
            {"order_id": "o-1", "total": 1, "coupon": "X"},
            "Segment would omit coupon",
        ),
    ],
)
def test_what_segment_would_do_is_shown_on_the_preview_and_the_result(
    protocols: dict[str, Any],
    properties: dict[str, Any],
    would: str,
    marketer_client: Client,
    source: Source,
    fake_segment: Any,
) -> None:
    connect(source, enforcement="warn", protocols_settings=protocols)
    for action in ("preview", "send"):
        response = marketer_client.post(
            "/calls/track/", order(action, source, properties=properties)
        )
        assert response.status_code == 200, errors_of(response)
        assert f"{would} (the source's Protocols settings)." in response.content.decode()


def test_a_source_without_a_plan_shows_no_plan_and_records_none(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    response = marketer_client.post("/calls/track/", order("send", source))
    assert response.status_code == 200, errors_of(response)
    assert 'data-testid="plan-panel"' not in response.content.decode()
    (entry,) = requests_of()
    assert (entry.details, entry.plan_violations) == ("", 0)


def test_the_audit_entry_page_shows_the_plan_and_the_violations_sent(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    connect(source, enforcement="warn")
    marketer_client.post("/calls/track/", order("send", source))
    (entry,) = requests_of()
    page = marketer_client.get(f"/audit/{entry.pk}/").content.decode()
    assert 'data-testid="entry-plan"' in page
    assert "revision 3" in page and "sent with 2 violations" in page
    assert MISSING_ORDER_ID in page


def test_a_preview_under_warn_says_send_will_send_the_violations_not_that_they_were_sent(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    connect(source, enforcement="warn")
    response = marketer_client.post("/calls/track/", order("preview", source))
    assert response.status_code == 200, errors_of(response)
    page = response.content.decode()
    assert "2 violations: Send sends it anyway (Warn)" in page
    assert "sent anyway" not in page
    assert fake_segment.requests == []
