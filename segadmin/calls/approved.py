"""Make an API call's four-eyes rule (issue 15): a Public API call with a method other than GET
changes the workspace, so (unless SEGADMIN_APPROVE_PUBLIC_API_CALLS is off) it is saved as an
approval instead of being sent, and sent, exactly as asked, when an Admin other than the one who
asked approves it (the approver is the audit entry's actor; the entry's details do not say who
asked, the approval's entries do)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from segadmin import sending
from segadmin.accounts import limits
from segadmin.approvals.models import Approval
from segadmin.approvals.registry import Handler
from segadmin.approvals.services import request_approval
from segadmin.audit import limits as limit_events
from segadmin.audit.log import Actor
from segadmin.calls.forms import PUBLIC
from segadmin.credentials.crypto import EncryptionNotConfigured, SecretUnreadable
from segadmin.credentials.models import Workspace
from segadmin.segment.errors import UnsafeRequest


def needs_approval(form: Any) -> bool:
    data = form.cleaned_data
    return bool(
        settings.SEGADMIN_APPROVE_PUBLIC_API_CALLS
        and data.get("api") == PUBLIC
        and str(data.get("method", "")).upper() not in ("GET", "HEAD", "OPTIONS")
    )


def ask(actor: Actor, data: dict[str, Any], reason: str) -> Approval:
    workspace = data["workspace"]
    return request_approval(
        actor=actor,
        kind=Approval.Kind.API_CALL,
        summary=f"{data['method']} {data['url']} on the Public API of “{workspace.name}”",
        reason=reason,
        amount=1,
        payload={
            "workspace": workspace.pk,
            "method": data["method"],
            "path": data["url"],
            "headers": data["headers"],
            "query": data["query"],
            "body": data["body"] or None,
        },
    )


def _approved(approval: Approval, actor: Actor) -> str:
    call = approval.payload
    workspace = Workspace.objects.filter(pk=call.get("workspace")).first()
    if workspace is None:
        return "Approved, but not sent: the workspace was deleted meanwhile."
    asker = approval.requested_by
    if asker is not None and not limits.read_limits(asker).allows_workspace(workspace):
        # The asker's limits changed since they asked: the call is no longer theirs to make.
        limit_events.refused(actor=actor, entrance="approval", workspace=workspace)
        return (
            f"Approved, but not sent: {approval.requested_by_name}, who asked, may no longer "
            f"act on the workspace “{workspace.name}” (an Admin changed their source limits)."
        )
    try:
        sent = sending.send_raw(
            actor=actor,
            api="public",
            workspace=workspace,
            method=call["method"],
            path=call["path"],
            headers=call.get("headers") or {},
            query=call.get("query"),
            body=call.get("body"),
            reason=approval.reason,  # the asker's Reason, kept on the entry of the send
        )
    except (SecretUnreadable, EncryptionNotConfigured, sending.NotAllowed) as exc:
        return f"Approved, but not sent: {exc}"
    except UnsafeRequest as exc:
        return f"Approved, but not sent: {exc.message}"
    outcome = f"HTTP {sent.result.status}" if sent.result.status else sent.entry.outcome_label
    return f"Approved and sent: Segment answered {outcome} (audit entry #{sent.entry.seq})."


def _rejected(approval: Approval, actor: Actor) -> None:
    """Nothing was sent; nothing to undo."""


def _link(approval: Approval) -> str:
    return reverse("calls:api")


def _outside_limits(approval: Approval, user: Any) -> str:
    workspace_id = (approval.payload or {}).get("workspace")
    workspace = Workspace.objects.filter(pk=workspace_id).first() if workspace_id else None
    if workspace is None or limits.may_use_workspace(user, workspace):
        return ""
    return (
        f"This call acts on the workspace “{workspace.name}”, and an Admin limited you to "
        "other workspaces or sources: another Admin must decide."
    )


HANDLER = Handler(
    kind=Approval.Kind.API_CALL,
    approved=_approved,
    rejected=_rejected,
    link=_link,
    outside_limits=_outside_limits,
)
