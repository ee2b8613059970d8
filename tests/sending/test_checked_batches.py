"""``send_batch(..., checked=Checked(plan, warnings))``: a caller that has just checked every
message (the bulk worker) hands its verdict over, so no message is validated twice; the
verdict stands only while the source's tracking plan is the one it was reached against."""

from __future__ import annotations

import json

import pytest
import responses

from segadmin import sending
from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Source, TrackingPlan
from segadmin.segment import rules
from segadmin.segment.errors import MessageInvalid
from segadmin.segment.messages import build_message
from tests.factories import make_source
from tests.tracking_plans import PLAN_NAME, connect

pytestmark = pytest.mark.django_db

BATCH_URL = "https://api.segment.io/v1/batch"
MISSING = f"order_id is required by the tracking plan “{PLAN_NAME}”"


@pytest.fixture
def source() -> Source:
    return make_source("Shop site", "wk_live_checkedBatches0123456789")


@pytest.fixture
def actor() -> Actor:
    return Actor(user=None, username="maria", role="Marketer", ip="10.1.2.3", user_agent="pytest")


def order(user: str, **properties) -> dict:
    return build_message("track", user_id=user, event="Order Completed", properties=properties)


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """Every time the rules module asks the plan about a message (cached or not), by the
    message's user."""
    seen: list[str] = []
    real = rules.plan_problems

    def plan_problems(plan, call_type, message, **kwargs):
        seen.append(str(message.get("userId")))
        return real(plan, call_type, message, **kwargs)

    monkeypatch.setattr(rules, "plan_problems", plan_problems)
    return seen


@responses.activate
def test_a_checked_batch_is_not_checked_again_and_its_warnings_are_recorded(actor, source, counted):
    responses.post(BATCH_URL, json={"success": True})
    connect(source, enforcement="warn")
    plan = source.plan_check()
    messages = [order("u1", order_id="o-1", total=3), order("u2", total=4)]
    warnings = rules.in_batch(rules.warnings(rules.plan_problems(plan, "track", messages[1])), 1)
    counted.clear()

    sent = sending.send_batch(
        actor=actor,
        source=source,
        messages=messages,
        checked=sending.Checked(plan, tuple(warnings)),
    )

    assert counted == []
    assert [p.message for p in sent.plan_violations] == [MISSING]
    entry = AuditEntry.objects.get(kind=Kind.REQUEST)
    assert entry.plan_violations == 1
    record = json.loads(entry.details)["tracking_plan"]
    assert [(f["index"], f["message"]) for f in record["findings"]] == [(1, MISSING)]


@responses.activate
def test_a_verdict_against_another_revision_of_the_plan_is_checked_again(actor, source, counted):
    responses.post(BATCH_URL, json={"success": True})
    connect(source, enforcement="warn")
    stale = source.plan_check()
    # An import of the plan, and an Admin switching the source to Block, since the check.
    TrackingPlan.objects.filter(pk=source.tracking_plan_id).update(revision=4)
    Source.objects.filter(pk=source.pk).update(plan_enforcement="block")
    source.refresh_from_db()

    with pytest.raises(MessageInvalid) as caught:
        sending.send_batch(
            actor=actor,
            source=source,
            messages=[order("u1", order_id="o-1", total=3), order("u2", total=4)],
            checked=sending.Checked(stale, ()),
        )

    assert counted == ["u1", "u2"]
    assert [str(p) for p in caught.value.problems] == [f"Message 2: {MISSING}"]
    assert not AuditEntry.objects.exists() and len(responses.calls) == 0


@responses.activate
def test_a_verdict_reached_without_a_plan_is_checked_again_once_the_source_has_one(
    actor, source, counted
):
    responses.post(BATCH_URL, json={"success": True})
    connect(source, enforcement="block")
    with pytest.raises(MessageInvalid):
        sending.send_batch(
            actor=actor,
            source=source,
            messages=[order("u2", total=4)],
            checked=sending.Checked(None),
        )
    assert counted == ["u2"]
    assert len(responses.calls) == 0


def test_same_plan_compares_the_plan_revision_and_enforcement(source):
    connect(source, enforcement="warn")
    plan = source.plan_check()
    assert sending.service.same_plan(plan, source.plan_check())
    assert sending.service.same_plan(None, None)
    assert not sending.service.same_plan(plan, None)
    assert not sending.service.same_plan(None, plan)
    Source.objects.filter(pk=source.pk).update(unplanned_events="allow")
    source.refresh_from_db()
    assert not sending.service.same_plan(plan, source.plan_check())
