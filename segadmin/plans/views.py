"""Tracking plans: read by everyone who sends (``accounts.view_tracking_plans``), imported and
refreshed by Admins (``accounts.manage_credentials``).

The pages read what the last import stored; only a POST asks Segment, through the sending
layer's import (sending/plans.py), which records every request and the import itself.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from segadmin.audit.log import Actor
from segadmin.credentials.models import TrackingPlan, TrackingPlanRule, Workspace
from segadmin.credentials.plans import ImportReport, rule_label
from segadmin.plans.imports import latest_import_of
from segadmin.plans.schema import FieldRow, description_of, planned_fields
from segadmin.sending.plans import import_tracking_plans

READ = "accounts.view_tracking_plans"
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


def _report_messages(request: HttpRequest, report: ImportReport) -> None:
    """The import's outcome as messages: what changed in each plan, and what failed."""
    if report.error:
        messages.error(request, f"Tracking plans could not be imported. {report.error}")
    fetched = [plan for plan in report.plans if not plan.error]
    if fetched:
        names = ", ".join(f"“{plan.name}”" for plan in fetched)
        messages.success(
            request,
            f"Imported {len(fetched)} tracking plan{'s' if len(fetched) != 1 else ''}: {names}.",
        )
    for plan in fetched:
        details = plan.as_details()
        if plan.created:
            messages.info(request, f"“{plan.name}” is new: {plan.rules} rules.")
        elif plan.changes:
            messages.info(
                request,
                f"“{plan.name}” changed (revision {plan.revision}): {_changes_sentence(details)}.",
            )
        else:
            messages.info(request, f"“{plan.name}” has not changed since the last import.")
    if not report.error:
        for plan in report.failed:
            messages.warning(
                request,
                f"“{plan.name}” could not be fetched: {plan.error} "
                "Sending goes on with its last imported rules.",
            )


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
    return render(
        request,
        "plans/list.html",
        {
            "groups": list(by_workspace.items()),
            "workspaces": workspaces,
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


@permission_required(MANAGE, raise_exception=True)
@require_POST
def workspace_import(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = get_object_or_404(Workspace, pk=pk)
    report = import_tracking_plans(workspace, actor=Actor.from_request(request))
    _report_messages(request, report)
    return redirect("plans:list")


@permission_required(MANAGE, raise_exception=True)
@require_POST
def plan_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """Import the plan's workspace again (one listing serves all its plans), then show the
    plan with what changed."""
    plan = get_object_or_404(TrackingPlan.objects.select_related("workspace"), pk=pk)
    report = import_tracking_plans(plan.workspace, actor=Actor.from_request(request))
    _report_messages(request, report)
    if TrackingPlan.objects.filter(pk=pk).exists():
        return redirect("plans:detail", pk=pk)
    return redirect("plans:list")
