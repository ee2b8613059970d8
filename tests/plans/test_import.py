"""Import tracking plans: plans, every page of rules, connected sources and their settings;
a plan that cannot be fetched keeps its rules and says why; a second import shows the diff."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from segadmin.audit.log import Actor, TransactionOpen
from segadmin.audit.models import AuditEntry
from segadmin.credentials import plans as plan_store
from segadmin.credentials import services
from segadmin.credentials.models import Source, TrackingPlan, Workspace
from segadmin.plans.imports import latest_import_of
from segadmin.segment import client, plans
from segadmin.segment.fake.plans import demo_rules
from segadmin.sending import plans as plan_import
from tests.credentials.conftest import assert_no_secret, database_text
from tests.plans.conftest import PLAN_ID, TOKEN, Segment, track_rule

pytestmark = pytest.mark.django_db

SETTINGS = {"track": {"allowUnplannedEvents": False, "allowEventOnViolations": False}}


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry-After waits are recorded, not slept."""
    waits: list[float] = []
    monkeypatch.setattr(client.transport, "_sleep", waits.append)
    return waits


def _import(workspace: Workspace, actor: Actor) -> plan_store.ImportReport:
    return plan_import.import_tracking_plans(workspace, actor=actor)


def test_a_plan_with_more_than_200_rules_is_read_page_by_page(
    segment: Segment, workspace: Workspace, actor: Actor
) -> None:
    segment.add_plan([track_rule(f"Event {n:03d}") for n in range(450)])
    report = _import(workspace, actor)
    assert not report.error and not report.failed
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    assert plan.rules.count() == 450
    assert plan.name == "Shop plan" and plan.plan_type == "LIVE"
    assert plan.imported_at is not None and plan.last_error == ""
    rule_requests = [r for r in segment.fake.requests if r.path.endswith("/rules")]
    assert len(rule_requests) == 3
    assert all("pagination.count=200" in r.query for r in rule_requests)


def test_connected_sources_we_have_get_the_plan_and_their_protocols_settings(
    segment: Segment, workspace: Workspace, web: Source, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    segment.connect("src_web", SETTINGS)
    segment.connect("src_theirs", SETTINGS)  # not in segadmin: neither created nor asked
    report = _import(workspace, actor)
    web.refresh_from_db()
    assert web.tracking_plan == TrackingPlan.objects.get(plan_id=PLAN_ID)
    assert web.protocols_settings == SETTINGS
    assert report.plans[0].sources == ["Web"]
    assert Source.objects.count() == 1
    assert "/sources/src_theirs/settings" not in segment.paths()


def test_a_source_disconnected_in_segment_loses_the_plan_at_the_next_import(
    segment: Segment, workspace: Workspace, web: Source, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    segment.connect("src_web", SETTINGS)
    _import(workspace, actor)
    segment.add_plan([track_rule("Order Completed")])  # same plan, no sources now
    segment.fake.state.plans.plans[PLAN_ID].source_ids.clear()
    _import(workspace, actor)
    web.refresh_from_db()
    assert web.tracking_plan is None


def test_the_imported_rules_build_the_engines_plan(
    segment: Segment, workspace: Workspace, actor: Actor
) -> None:
    segment.add_plan(demo_rules())
    _import(workspace, actor)
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID).as_plan()
    findings = plans.check(plan, "track", {"event": "Order Completed", "properties": {}})
    assert [f.code for f in findings if f.is_error] == [plans.PLAN_VIOLATION]
    assert "order_id" in findings[0].message


def test_a_plan_changed_between_imports_shows_what_was_added_removed_and_versioned(
    segment: Segment, workspace: Workspace, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed"), track_rule("Cart Viewed")])
    first = _import(workspace, actor)
    assert first.plans[0].created
    segment.change(
        upsert=[track_rule("Order Completed", version=2), track_rule("Signed Up")],
        remove=[{"type": "TRACK", "key": "Cart Viewed", "version": 1}],
    )
    second = _import(workspace, actor).plans[0]
    assert not second.created
    assert second.changes.added == ["Signed Up"]
    assert second.changes.removed == ["Cart Viewed"]
    assert second.changes.new_versions == ["Order Completed v2"]
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    assert plan.revision == 2
    assert {(r.key, r.version) for r in plan.rules.all()} == {
        ("Order Completed", 1),
        ("Order Completed", 2),
        ("Signed Up", 1),
    }
    last = latest_import_of(plan)
    assert last is not None and last["removed"] == ["Cart Viewed"]


def test_an_unchanged_plan_keeps_its_revision(
    segment: Segment, workspace: Workspace, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    _import(workspace, actor)
    again = _import(workspace, actor).plans[0]
    assert not again.changes and not again.created
    assert TrackingPlan.objects.get(plan_id=PLAN_ID).revision == 1


def test_a_workspace_without_protocols_keeps_its_last_rules_and_says_why(
    segment: Segment, workspace: Workspace, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    _import(workspace, actor)
    segment.workspace.protocols = False
    report = _import(workspace, actor)
    assert "403" in report.error and "Protocols" in report.error
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    assert plan.rules.count() == 1
    assert "Protocols" in plan.last_error and plan.last_error_at is not None
    assert plan.imported_at is not None


def test_rules_over_the_rate_limit_fail_the_plan_after_waiting_retry_after(
    segment: Segment, workspace: Workspace, actor: Actor, no_waiting: list[float]
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    _import(workspace, actor)
    segment.workspace.rules_per_minute = 0  # every read of rules gets 429 Retry-After 60
    report = _import(workspace, actor)
    failed = report.plans[0]
    assert "limiting the request rate" in failed.error and "200 requests a minute" in failed.error
    assert no_waiting and all(wait == 60 for wait in no_waiting)
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    assert plan.rules.count() == 1 and plan.last_error == failed.error


def test_a_429_once_is_waited_out_and_the_import_succeeds(
    segment: Segment, workspace: Workspace, actor: Actor, no_waiting: list[float]
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    segment.fake.queue_faults([{"status": 429, "retry_after": 7}])
    report = _import(workspace, actor)
    assert not report.error and not report.failed
    assert no_waiting == [7]


def test_a_network_failure_is_said_in_plain_words(
    segment: Segment, workspace: Workspace, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    quick = dataclasses.replace(plan_import.IMPORT_PROFILE, max_retries=0)
    segment.fake.queue_faults(["drop"])
    report = plan_import.import_tracking_plans(workspace, actor=actor, profile=quick)
    assert report.error.startswith("Could not reach Segment")


def test_a_plan_gone_from_segment_is_kept_with_a_note(
    segment: Segment, workspace: Workspace, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    _import(workspace, actor)
    segment.fake.state.plans.plans.clear()
    _import(workspace, actor)
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    assert plan.last_error == plan_store.GONE and plan.rules.count() == 1


def test_a_plan_is_stale_24_hours_after_its_last_import(
    segment: Segment, workspace: Workspace, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    _import(workspace, actor)
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    assert not plan.is_stale
    plan.imported_at = timezone.now() - timedelta(hours=24, minutes=1)
    assert plan.is_stale
    plan.imported_at = timezone.now() - timedelta(hours=23, minutes=59)
    assert not plan.is_stale
    assert TrackingPlan(workspace=workspace, plan_id="tp_never").is_stale


def test_each_import_is_one_audit_event_and_every_request_is_on_the_record(
    segment: Segment, workspace: Workspace, web: Source, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    segment.connect("src_web", SETTINGS)
    _import(workspace, actor)
    events = AuditEntry.objects.filter(kind="event", action="tracking_plans.imported")
    assert events.count() == 1
    details = events.get().details_data
    assert details["imported"] == 1 and details["failed"] == 0
    assert details["plans"][0]["plan_id"] == PLAN_ID
    call_types = set(AuditEntry.objects.filter(kind="request").values_list("call_type", flat=True))
    assert call_types == {
        "public:list_tracking_plans",
        "public:list_tracking_plan_rules",
        "public:list_tracking_plan_sources",
        "public:get_source_settings",
    }
    assert_no_secret(database_text(), TOKEN)


class EventWriteFailed(Exception):
    pass


def _stored_plans() -> list[tuple[str, int, int, str]]:
    return [
        (plan.plan_id, plan.revision, plan.rules.count(), plan.last_error)
        for plan in TrackingPlan.objects.order_by("plan_id")
    ]


def test_when_the_import_event_cannot_be_written_no_plan_is_stored_or_changed(
    segment: Segment,
    workspace: Workspace,
    web: Source,
    actor: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    _import(workspace, actor)
    before = _stored_plans()
    segment.change(upsert=[track_rule("Signed Up")])
    segment.add_plan([track_rule("Cart Viewed")], id="tp_new", name="New plan")
    segment.connect("src_web", SETTINGS)

    def fail(**kwargs: object) -> None:
        raise EventWriteFailed(kwargs["action"])

    monkeypatch.setattr(services, "recorder", fail)
    with pytest.raises(EventWriteFailed, match=plan_store.ACTION):
        _import(workspace, actor)
    # The plans, their rules and the source's plan roll back with the event.
    assert _stored_plans() == before
    web.refresh_from_db()
    assert web.tracking_plan is None and web.protocols_settings is None
    # What was asked of Segment is on the record all the same (the send service's entries).
    asked = AuditEntry.objects.filter(kind="request", call_type="public:list_tracking_plans")
    assert asked.count() == 2


def test_without_an_audit_event_writer_the_import_stores_nothing_and_says_why(
    segment: Segment, workspace: Workspace, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    monkeypatch.setattr(services, "recorder", None)
    with pytest.raises(ImproperlyConfigured, match="Nothing was changed"):
        _import(workspace, actor)
    assert not TrackingPlan.objects.exists()
    assert not AuditEntry.objects.filter(kind="event").exists()


def test_the_import_refuses_to_run_inside_a_transaction_and_asks_segment_nothing(
    segment: Segment, workspace: Workspace, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    with transaction.atomic(), pytest.raises(TransactionOpen):
        _import(workspace, actor)
    assert segment.fake.requests == []
    assert not AuditEntry.objects.exists() and not TrackingPlan.objects.exists()


def test_a_token_no_key_can_read_is_the_imports_error_and_nothing_is_asked(
    segment: Segment, workspace: Workspace, actor: Actor
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
        report = _import(workspace, actor)
    assert "Acme" in report.error and not report.plans
    assert segment.fake.requests == []
    assert not AuditEntry.objects.exists() and not TrackingPlan.objects.exists()
