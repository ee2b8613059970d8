"""Storing an import of a workspace's tracking plans (issue 13): plans, rules, connected
sources and those sources' Protocols settings, and what changed since the last import.

The fetching lives above, in the sending layer (``segadmin.sending.plans``): it asks Segment
through the audited workspace transport, with no transaction open, and hands the answers over
as ``FetchedPlan``s. ``store_import`` then writes every plan and the import's one audit event,
``tracking_plans.imported`` (whose details summarize every plan and what changed), in one
short transaction: if the event cannot be written nothing is stored. Credentials sit below the
audit log, so the event goes through the writer the audit app hands to
``credentials.services`` at start-up, like every other credentials change.

A plan that cannot be fetched keeps its last imported rules and gets ``last_error``; sending
goes on with what was imported (shown stale after 24 hours).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from segadmin.credentials import services
from segadmin.credentials.models import Source, TrackingPlan, TrackingPlanRule, Workspace
from segadmin.segment import datetimes
from segadmin.segment.client.tracking_plans import TrackingPlanInfo
from segadmin.segment.plans import ZERO_TIME, Rule

if TYPE_CHECKING:
    from segadmin.accounts.actors import Actor

ACTION = "tracking_plans.imported"
GONE = "Segment no longer lists this tracking plan; its last imported rules are kept."


@dataclass
class PlanChanges:
    """What an import changed in a plan's rules, as rule labels ("Order Completed")."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)  # "Order Completed v2"
    changed: list[str] = field(default_factory=list)  # same version, other schema

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.new_versions or self.changed)


@dataclass
class PlanOutcome:
    plan_id: str
    name: str
    created: bool = False
    error: str = ""
    rules: int = 0
    revision: int = 1
    changes: PlanChanges = field(default_factory=PlanChanges)
    sources: list[str] = field(default_factory=list)  # names of our sources connected

    def as_details(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "name": self.name,
            "created": self.created,
            "error": self.error,
            "rules": self.rules,
            "revision": self.revision,
            "sources": self.sources,
            **dataclasses.asdict(self.changes),
        }


@dataclass
class ImportReport:
    error: str = ""  # the listing itself failed: no plan was fetched
    plans: list[PlanOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[PlanOutcome]:
        return [plan for plan in self.plans if plan.error]


def rule_label(rule_type: str, key: str | None) -> str:
    if key:
        return key if rule_type == "TRACK" else f"{rule_type.title()} “{key}”"
    return {
        "IDENTIFY": "Identify traits",
        "GROUP": "Group traits",
        "COMMON": "Common schema",
    }.get(rule_type, f"{rule_type.title()} (any name)")


def _signature(schema: Any, deprecated: str | None) -> tuple[str, str]:
    return json.dumps(schema, sort_keys=True), deprecated or ""


def diff_rules(old: list[TrackingPlanRule], new: list[tuple[Rule, datetime | None]]) -> PlanChanges:
    """Events (and trait and common schemas) added, removed, given a new version, changed."""
    before = {
        (r.rule_type, r.key or None, r.version): _signature(
            r.json_schema, r.deprecated_at.isoformat() if r.deprecated_at else None
        )
        for r in old
    }
    after = {
        (rule.type.value, rule.key or None, rule.version): _signature(
            rule.json_schema, deprecated.isoformat() if deprecated else None
        )
        for rule, deprecated in new
    }
    names_before = {(kind, key) for kind, key, _ in before}
    names_after = {(kind, key) for kind, key, _ in after}
    changes = PlanChanges(
        added=sorted(rule_label(*name) for name in names_after - names_before),
        removed=sorted(rule_label(*name) for name in names_before - names_after),
    )
    for slot in sorted(after, key=lambda s: (s[0], s[1] or "", s[2])):
        kind, key, version = slot
        if (kind, key) not in names_before:
            continue
        if slot not in before:
            changes.new_versions.append(f"{rule_label(kind, key)} v{version}")
        elif before[slot] != after[slot]:
            changes.changed.append(f"{rule_label(kind, key)} v{version}")
    return changes


@dataclass
class FetchedPlan:
    """One plan as the sending layer fetched it: its rules (read by ``read_rules``), the Segment
    ids of its connected sources, the Protocols settings of those segadmin has, or ``error``
    (why it could not be fetched; its last imported rules are kept)."""

    info: TrackingPlanInfo
    rules: list[tuple[Rule, datetime | None]] = field(default_factory=list)
    source_ids: list[str] = field(default_factory=list)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text or text == ZERO_TIME:
        return None
    try:
        return datetimes.parse_instant(text)
    except datetimes.DateTimeInvalid:
        return None


def read_rules(items: list[dict[str, Any]]) -> list[tuple[Rule, datetime | None]]:
    """Segment's ``RuleV1`` dicts as the rules to store, each with when it was deprecated.
    PlanDataInvalid for a rule segadmin cannot read."""
    return [(Rule.from_api(data), _instant(data.get("deprecatedAt"))) for data in items]


def known_source_ids() -> set[str]:
    """The Segment ids of segadmin's sources: only they get a plan and its settings."""
    return set(
        Source.objects.exclude(segment_source_id="").values_list("segment_source_id", flat=True)
    )


def _fail(plan: TrackingPlan, message: str, now: datetime) -> None:
    plan.last_error = message
    plan.last_error_at = now
    plan.save(update_fields=["last_error", "last_error_at"])


def _store(workspace: Workspace, fetched: FetchedPlan, now: datetime) -> PlanOutcome:
    """Write one fetched plan (its rules, sources and settings); the caller holds the
    transaction."""
    info = fetched.info
    plan, created = TrackingPlan.objects.select_for_update().get_or_create(
        workspace=workspace, plan_id=info.id, defaults={"name": info.name}
    )
    outcome = PlanOutcome(plan_id=info.id, name=info.name, created=created)
    plan.name, plan.slug, plan.description = info.name, info.slug, info.description
    plan.plan_type = info.type
    plan.segment_updated_at = _instant(info.updated_at)
    if fetched.error:
        plan.save()
        _fail(plan, fetched.error, now)
        outcome.error = fetched.error
        outcome.rules = plan.rules.count()
        outcome.revision = plan.revision
        return outcome
    old = list(plan.rules.all())
    changes = diff_rules(old, fetched.rules)
    first = plan.imported_at is None and not old  # nothing to compare with yet
    outcome.created = first
    if changes and not first:
        plan.revision += 1
        outcome.changes = changes
    if changes or first:
        plan.rules.all().delete()
        TrackingPlanRule.objects.bulk_create(
            TrackingPlanRule(
                plan=plan,
                rule_type=rule.type.value,
                key=rule.key,
                version=rule.version,
                json_schema=rule.json_schema,
                deprecated_at=deprecated,
            )
            for rule, deprecated in fetched.rules
        )
    plan.imported_at = now
    plan.last_error, plan.last_error_at = "", None
    plan.save()
    # Sources: connected by Segment source id, only the ones segadmin has.
    Source.objects.filter(tracking_plan=plan).exclude(
        segment_source_id__in=fetched.source_ids
    ).update(tracking_plan=None)
    for source in Source.objects.select_for_update().filter(
        segment_source_id__in=fetched.source_ids
    ):
        source.tracking_plan = plan
        source.protocols_settings = fetched.settings.get(source.segment_source_id)
        source.save(update_fields=["tracking_plan", "protocols_settings", "updated_at"])
        outcome.sources.append(source.name)
    outcome.rules = len(fetched.rules)
    outcome.revision = plan.revision
    return outcome


def store_import(
    workspace: Workspace, *, actor: Actor, fetched: list[FetchedPlan], error: str = ""
) -> ImportReport:
    """Store what the sending layer fetched of ``workspace``'s plans, with the import's one
    audit event, in one transaction.

    ``error`` says why Segment's list of plans could not be read (``fetched`` is then empty):
    every plan already imported keeps its rules and says why it was not refreshed. A plan
    segadmin has that Segment no longer lists is kept with a note (GONE).
    """
    report = ImportReport(error=error)
    now = timezone.now()
    with transaction.atomic():
        if error:
            for plan in TrackingPlan.objects.filter(workspace=workspace):
                _fail(plan, error, now)
                report.plans.append(
                    PlanOutcome(plan.plan_id, plan.name, error=error, revision=plan.revision)
                )
        else:
            report.plans = [_store(workspace, one, now) for one in fetched]
            listed_ids = {one.info.id for one in fetched}
            for plan in TrackingPlan.objects.filter(workspace=workspace).exclude(
                plan_id__in=listed_ids
            ):
                _fail(plan, GONE, now)
                report.plans.append(
                    PlanOutcome(plan.plan_id, plan.name, error=GONE, revision=plan.revision)
                )
        services.record(
            actor=actor,
            action=ACTION,
            obj=workspace,
            details={
                "error": report.error,
                "imported": len([p for p in report.plans if not p.error]),
                "failed": len(report.failed),
                "plans": [plan.as_details() for plan in report.plans],
            },
        )
    return report
