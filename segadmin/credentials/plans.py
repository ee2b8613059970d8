"""Import a workspace's tracking plans from Segment: plans, rules, connected sources and
those sources' Protocols settings (issue 13).

Everything is fetched first, through the send service's audited workspace transport (one audit
entry per request), with no transaction open; then each plan is written in one short
transaction. A plan that cannot be fetched keeps its last imported rules and gets
``last_error``; sending goes on with what was imported (shown stale after 24 hours). The
import as a whole is one audit event, ``tracking_plans.imported``, whose details summarize
every plan and what changed; the plan page shows its plan's part of the latest one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from segadmin import sending as services
from segadmin.audit.log import Actor, record_event
from segadmin.audit.models import AuditEntry
from segadmin.credentials import crypto
from segadmin.credentials.models import Source, TrackingPlan, TrackingPlanRule, Workspace
from segadmin.segment import datetimes, public_plans
from segadmin.segment.client import BACKGROUND, ApiError, RetryProfile
from segadmin.segment.plans import ZERO_TIME, PlanDataInvalid, Rule

ACTION = "tracking_plans.imported"
# Reading rules is limited to 200 requests a minute: a 429 is waited out by its Retry-After
# (up to a minute), a few times, rather than failing the import at once.
IMPORT_PROFILE = dataclasses.replace(
    BACKGROUND, name="plan-import", max_retries=3, retry_after_cap=60.0, give_up_over_cap=True
)
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
class _Fetched:
    info: public_plans.TrackingPlanInfo
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


def _explain(error: ApiError) -> str:
    if error.kind == "rate_limited":
        return (
            f"{error.message} Segment allows 200 requests a minute for a plan's rules; "
            "the last imported rules are still used."
        )
    return error.message


def _fetch_plan(
    info: public_plans.TrackingPlanInfo,
    *,
    token: str,
    region: str,
    transport: Any,
    ours: set[str],
) -> _Fetched:
    fetched = _Fetched(info=info)
    rules = public_plans.list_rules(
        token=token, region=region, plan_id=info.id, transport=transport
    )
    if isinstance(rules, ApiError):
        fetched.error = _explain(rules)
        return fetched
    try:
        fetched.rules = [
            (Rule.from_api(data), _instant(data.get("deprecatedAt"))) for data in rules
        ]
    except PlanDataInvalid as exc:
        fetched.error = f"Segment sent a rule segadmin cannot read: {exc}"
        return fetched
    source_ids = public_plans.list_plan_source_ids(
        token=token, region=region, plan_id=info.id, transport=transport
    )
    if isinstance(source_ids, ApiError):
        fetched.error = _explain(source_ids)
        return fetched
    fetched.source_ids = source_ids
    for source_id in source_ids:
        if source_id not in ours:
            continue  # only the sources segadmin knows get the plan and its settings
        settings = public_plans.get_source_settings(
            token=token, region=region, source_id=source_id, transport=transport
        )
        if isinstance(settings, ApiError):
            fetched.error = _explain(settings)
            return fetched
        fetched.settings[source_id] = settings
    return fetched


def _fail(plan: TrackingPlan, message: str, now: datetime) -> None:
    plan.last_error = message
    plan.last_error_at = now
    plan.save(update_fields=["last_error", "last_error_at"])


def _store(workspace: Workspace, fetched: _Fetched, now: datetime) -> PlanOutcome:
    """Write one fetched plan (its rules, sources and settings) in one transaction."""
    info = fetched.info
    with transaction.atomic():
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


def import_tracking_plans(
    workspace: Workspace, *, actor: Actor, profile: RetryProfile = IMPORT_PROFILE
) -> ImportReport:
    """Fetch and store every tracking plan of ``workspace``; one audit event sums it up."""
    report = ImportReport()
    try:
        token = workspace.public_api_token()
    except (crypto.SecretUnreadable, crypto.EncryptionNotConfigured) as exc:
        report.error = str(exc)
        return report
    transport = services.workspace_transport(actor=actor, workspace=workspace, profile=profile)
    region = workspace.region
    listed = public_plans.list_tracking_plans(token=token, region=region, transport=transport)
    now = timezone.now()
    if isinstance(listed, ApiError):
        report.error = _explain(listed)
        # Every plan already imported keeps its rules and says why it was not refreshed.
        for plan in TrackingPlan.objects.filter(workspace=workspace):
            _fail(plan, report.error, now)
            report.plans.append(
                PlanOutcome(plan.plan_id, plan.name, error=report.error, revision=plan.revision)
            )
    else:
        ours = set(
            Source.objects.exclude(segment_source_id="").values_list("segment_source_id", flat=True)
        )
        fetched = [
            _fetch_plan(info, token=token, region=region, transport=transport, ours=ours)
            for info in listed
        ]
        now = timezone.now()
        report.plans = [_store(workspace, one, now) for one in fetched]
        listed_ids = {info.id for info in listed}
        for plan in TrackingPlan.objects.filter(workspace=workspace).exclude(
            plan_id__in=listed_ids
        ):
            _fail(plan, GONE, now)
            report.plans.append(
                PlanOutcome(plan.plan_id, plan.name, error=GONE, revision=plan.revision)
            )
    record_event(
        actor=actor,
        action=ACTION,
        target_type="workspace",
        target_id=workspace.pk,
        target_name=workspace.name,
        details={
            "error": report.error,
            "imported": len([p for p in report.plans if not p.error]),
            "failed": len(report.failed),
            "plans": [plan.as_details() for plan in report.plans],
        },
    )
    return report


def latest_import_of(plan: TrackingPlan) -> dict[str, Any] | None:
    """This plan's part of the latest import event that changed or created it, with ``at``."""
    entries = AuditEntry.objects.filter(
        action=ACTION, target_type="workspace", target_id=str(plan.workspace_id)
    ).order_by("-seq")[:50]
    for entry in entries:
        details = entry.details_data or {}
        for item in details.get("plans") or []:
            if item.get("plan_id") != plan.plan_id or item.get("error"):
                continue
            if item.get("created") or any(
                item.get(key) for key in ("added", "removed", "new_versions", "changed")
            ):
                return {**item, "at": entry.created_at}
    return None
