"""Approvals (issue 15): Admins see everything waiting, oldest first, and approve or reject it
with a comment, never what they asked for themselves (superusers neither). What an approval
does is its kind's handler (registry.py), carried out once, by the decision that won."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from segadmin.accounts.reauth import recent_authentication_required
from segadmin.approvals.models import Approval
from segadmin.approvals.registry import handler_for
from segadmin.approvals.services import APPROVE, Refused, decide, may_decide, waiting
from segadmin.audit.log import Actor
from segadmin.segment import redaction

RECENT = 50


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(label="Comment", required=False, max_length=2000)


def _call_shown(approval: Approval) -> str:
    """A Public API call waiting for approval, as the approver must see it (what is named
    like a secret masked, as the audit log would store it)."""
    if approval.kind != Approval.Kind.API_CALL:
        return ""
    call = redaction.redact_json({k: v for k, v in approval.payload.items() if k != "workspace"})
    return json.dumps(call, indent=2, ensure_ascii=False, sort_keys=True)


def _row(approval: Approval, user: Any) -> dict[str, Any]:
    handler = handler_for(approval.kind)
    return {
        "approval": approval,
        "link": handler.link(approval) if handler else "",
        "why_not": may_decide(user, approval),
        "call": _call_shown(approval),
    }


@permission_required(APPROVE, raise_exception=True)
def approval_list(request: HttpRequest) -> HttpResponse:
    pending = [_row(a, request.user) for a in waiting()]
    decided = [
        _row(a, request.user)
        for a in Approval.objects.exclude(state=Approval.State.WAITING).order_by(
            "-decided_at", "-pk"
        )[:RECENT]
    ]
    return render(request, "approvals/list.html", {"pending": pending, "decided": decided})


def _back_to_the_list(request: HttpRequest) -> str:
    return str(reverse("approvals:list"))


@require_POST
@permission_required(APPROVE, raise_exception=True)
@recent_authentication_required(back=_back_to_the_list)
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    approval = get_object_or_404(Approval, pk=pk)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose Approve or Reject.")
        return redirect(back or "approvals:list")
    actor = Actor.from_request(request)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        approval = decide(
            approval_id=approval.pk,
            actor=actor,
            approve=approve,
            comment=form.cleaned_data["comment"],
        )
    except Refused as exc:
        messages.error(request, str(exc))
        return redirect(back or "approvals:list")
    handler = handler_for(approval.kind)
    if approve and handler is not None:
        messages.success(request, handler.approved(approval, actor))
    elif approve:
        messages.success(request, "Approved.")
    else:
        messages.info(request, f"Rejected: “{approval.summary}” will not be carried out.")
    return redirect(back or "approvals:list")
