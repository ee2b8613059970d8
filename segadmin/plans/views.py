"""Tracking plans: read by everyone who sends (``accounts.view_tracking_plans``), imported and
refreshed by Admins (``accounts.manage_credentials``).

The pages read what the last import stored; only a POST asks Segment, through the sending
layer's import (sending/plans.py), which records every request and the import itself.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from segadmin.audit.log import Actor
from segadmin.credentials.models import (
    TrackingPlan,
    TrackingPlanImport,
    TrackingPlanRule,
    Workspace,
)
from segadmin.credentials.plans import rule_label
from segadmin.plans.imports import latest_import_of
from segadmin.plans.schema import FieldRow, description_of, planned_fields
from segadmin.plans.tasks import import_tracking_plans_task

READ = "accounts.view_tracking_plans"
# An import queued or running for longer than this no longer stops another of its workspace.
UNDER_WAY_FOR = timedelta(minutes=30)
MANAGE = "accounts.manage_credentials"


def _changes_sentence(changes: dict[str, Any]) -> str:
    parts = []
    for key, words in (
        ("added", "added"),
        ("removed", "removed"),
        ("new_versions", "new versions"),
        ("changed", "changed"),
    ):
        if changes.get(key):
            parts.append(f"{words}: {', '.join(changes[key])}")
    return "; ".join(parts)


def report_lines(report: dict[str, Any]) -> list[tuple[str, str]]:
    """An import's outcome (its stored report) as (level, sentence): what changed in each plan,
    and what failed."""
    lines: list[tuple[str, str]] = []
    error = report.get("error") or ""
    plans = [p for p in report.get("plans") or [] if isinstance(p, dict)]
    if error:
        lines.append(("danger", f"Tracking plans could not be imported. {error}"))
    fetched = [plan for plan in plans if not plan.get("error")]
    if fetched:
        names = ", ".join(f"“{plan.get('name')}”" for plan in fetched)
        count = len(fetched)
        lines.append(
            ("success", f"Imported {count} tracking plan{'s' if count != 1 else ''}: {names}.")
        )
    elif not error:
        lines.append(("info", "Segment lists no tracking plan for this workspace."))
    for plan in fetched:
        name = plan.get("name")
        if plan.get("created"):
            lines.append(("info", f"“{name}” is new: {plan.get('rules')} rules."))
        elif changes := _changes_sentence(plan):
            revision = plan.get("revision")
            lines.append(("info", f"“{name}” changed (revision {revision}): {changes}."))
        else:
            lines.append(("info", f"“{name}” has not changed since the last import."))
    if not error:
        for plan in plans:
            if plan.get("error"):
                lines.append(
                    (
                        "warning",
                        f"“{plan.get('name')}” could not be fetched: {plan.get('error')} "
                        "Sending goes on with its last imported rules.",
                    )
                )
    return lines


@permission_required(READ, raise_exception=True)
def plan_list(request: HttpRequest) -> HttpResponse:
    plans = (
        TrackingPlan.objects.select_related("workspace")
        .annotate(
            rule_count=Count("rules", distinct=True), source_count=Count("sources", distinct=True)
        )
        .order_by("workspace__name", "name", "pk")
    )
    by_workspace: dict[Workspace, list[TrackingPlan]] = defaultdict(list)
    for plan in plans:
        by_workspace[plan.workspace].append(plan)
    workspaces = list(Workspace.objects.all()) if request.user.has_perm(MANAGE) else []
    # For Admins: each workspace's latest import, to follow one under way or read what the
    # last one changed.
    latest: dict[int, TrackingPlanImport] = {}
    if workspaces:
        for job in TrackingPlanImport.objects.filter(workspace__in=workspaces).order_by(
            "workspace_id", "-created_at"
        ):
            latest.setdefault(job.workspace_id, job)
    return render(
        request,
        "plans/list.html",
        {
            "groups": list(by_workspace.items()),
            "workspaces": [(workspace, latest.get(workspace.pk)) for workspace in workspaces],
            "can_manage": request.user.has_perm(MANAGE),
        },
    )


@dataclass(frozen=True)
class RuleView:
    rule: TrackingPlanRule
    description: str
    fields: list[FieldRow]

    @property
    def label(self) -> str:
        return rule_label(self.rule.rule_type, self.rule.key)


def _rule_views(rules: list[TrackingPlanRule]) -> list[RuleView]:
    return [
        RuleView(
            rule, description_of(rule.json_schema), planned_fields(rule.rule_type, rule.json_schema)
        )
        for rule in rules
    ]


@permission_required(READ, raise_exception=True)
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(TrackingPlan.objects.select_related("workspace"), pk=pk)
    rules = list(plan.rules.all())
    by_type: dict[str, list[TrackingPlanRule]] = defaultdict(list)
    for rule in rules:
        by_type[rule.rule_type].append(rule)
    last = latest_import_of(plan)
    return render(
        request,
        "plans/detail.html",
        {
            "plan": plan,
            "events": _rule_views(by_type["TRACK"]),
            "pages": _rule_views(by_type["PAGE"] + by_type["SCREEN"]),
            "identify": _rule_views(by_type["IDENTIFY"]),
            "group": _rule_views(by_type["GROUP"]),
            "common": _rule_views(by_type["COMMON"]),
            "sources": list(plan.sources.all()),
            "last_import": last,
            "last_changes": _changes_sentence(last) if last and not last.get("created") else "",
            "can_manage": request.user.has_perm(MANAGE),
        },
    )


def _start_import(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """Queue an import of ``workspace``'s plans for a worker and show its page; an import of
    the same workspace already queued or running is shown instead of starting another."""
    running = TrackingPlanImport.objects.filter(
        workspace=workspace,
        status__in=TrackingPlanImport.ACTIVE,
        # One whose worker died (or that no worker took) must not block the next for ever.
        created_at__gte=timezone.now() - UNDER_WAY_FOR,
    ).first()
    if running is not None:
        messages.info(request, "An import of this workspace's tracking plans is under way.")
        return redirect("plans:import_detail", pk=running.pk)
    actor = Actor.from_request(request)
    job = TrackingPlanImport.objects.create(
        workspace=workspace,
        requested_by=actor.user,
        actor={
            "username": actor.username,
            "role": actor.role,
            "ip": actor.ip,
            "user_agent": actor.user_agent,
        },
    )
    import_tracking_plans_task.enqueue(str(job.pk))
    return redirect("plans:import_detail", pk=job.pk)


@permission_required(MANAGE, raise_exception=True)
@require_POST
def workspace_import(request: HttpRequest, pk: int) -> HttpResponse:
    return _start_import(request, get_object_or_404(Workspace, pk=pk))


@permission_required(MANAGE, raise_exception=True)
@require_POST
def plan_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """Import the plan's workspace again (one listing serves all its plans); the import's page
    then shows what changed."""
    plan = get_object_or_404(TrackingPlan.objects.select_related("workspace"), pk=pk)
    return _start_import(request, plan.workspace)


@permission_required(MANAGE, raise_exception=True)
@require_safe
def import_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """An import's page: its progress while a worker runs it (the progress part polls itself
    by htmx), then what it changed, plan by plan."""
    job = get_object_or_404(TrackingPlanImport.objects.select_related("workspace"), pk=pk)
    plan_ids = [p.get("plan_id") for p in (job.report or {}).get("plans") or []]
    context = {
        "job": job,
        "lines": report_lines(job.report) if job.report is not None else [],
        "plans": list(
            TrackingPlan.objects.filter(workspace=job.workspace, plan_id__in=plan_ids).order_by(
                "name", "pk"
            )
        ),
    }
    template = "plans/import.html#progress" if request.GET.get("part") == "progress" else None
    return render(request, template or "plans/import.html", context)
