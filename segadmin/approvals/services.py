"""Asking for an approval and deciding one, each with its audit entry in the same transaction.

The decision is one conditional UPDATE (``WHERE state = 'waiting'``): two Admins pressing
Approve at once make one decision, the other is told it was decided already; the action
approved is carried out by the view, once, by whoever's UPDATE won.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from segadmin.accounts import limits
from segadmin.approvals.models import Approval
from segadmin.approvals.registry import handler_for
from segadmin.audit.log import Actor, record_event

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from segadmin.audit.index import IndexedMessage

APPROVE = "accounts.approve"
OWN_REQUEST = (
    "You asked for this yourself: another Admin must approve or reject it (the four-eyes rule "
    "holds for superusers too)."
)
NOT_AN_APPROVER = "Only an Admin other than the person who asked may approve or reject this."


class Refused(Exception):
    """The person may not decide this approval; the message says why."""


def _index(approval: Approval) -> list[IndexedMessage] | None:
    handler = handler_for(approval.kind)
    return handler.index(approval) if handler is not None and handler.index else None


def _details(approval: Approval, **extra: Any) -> dict[str, Any]:
    return {
        "approval": approval.pk,
        "kind": approval.kind,
        "what": approval.summary,
        "amount": approval.amount,
        "reason": approval.reason,
        "asked_by": approval.requested_by_name,
        **extra,
    }


def request_approval(
    *,
    actor: Actor,
    kind: str,
    summary: str,
    reason: str,
    amount: int = 0,
    target_id: str = "",
    payload: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    index: list[IndexedMessage] | None = None,
) -> Approval:
    """A new approval, waiting; recorded. Runs in the caller's transaction when there is one,
    so the thing asked for, its approval and their audit entry commit together."""
    with transaction.atomic():
        approval = Approval.objects.create(
            kind=kind,
            target_id=target_id,
            summary=summary[:500],
            amount=amount,
            reason=reason,
            payload=payload or {},
            requested_by=actor.user,
            requested_by_name=actor.username,
        )
        record_event(
            actor=actor,
            action="approval.requested",
            target_type=kind,
            target_id=target_id or approval.pk,
            target_name=approval.summary[:255],
            details=_details(approval, **(details or {})),
            index=index,
        )
    return approval


def may_decide(user: User | AnonymousUser, approval: Approval) -> str | None:
    """None when ``user`` may approve or reject ``approval``, else why not."""
    if not user.has_perm(APPROVE):
        return NOT_AN_APPROVER
    if approval.requested_by_id is not None and approval.requested_by_id == user.pk:
        return OWN_REQUEST
    if user.pk in (approval.payload or {}).get("not_by", []):
        # E.g. a bulk import's uploader, when someone else asked for its approval.
        return str(approval.payload.get("not_by_reason") or OWN_REQUEST)
    if limits.is_limited(user):
        handler = handler_for(approval.kind)
        if handler is not None and handler.outside_limits is not None:
            return handler.outside_limits(approval, user) or None
    return None


def decide(*, approval_id: int, actor: Actor, approve: bool, comment: str) -> Approval:
    """Approve or reject a waiting approval, recorded with the comment.

    Refused when the person may not (not an Admin; their own request, superuser or not) or
    when it was decided already, also a moment ago by someone else.
    """
    user = actor.user
    if user is None:
        raise Refused(NOT_AN_APPROVER)
    with transaction.atomic():
        approval = Approval.objects.filter(pk=approval_id).first()
        if approval is None:
            raise Refused("There is no such approval.")
        why_not = may_decide(user, approval)
        if why_not:
            raise Refused(why_not)
        state = Approval.State.APPROVED if approve else Approval.State.REJECTED
        now = timezone.now()
        won = Approval.objects.filter(pk=approval_id, state=Approval.State.WAITING).update(
            state=state,
            decided_by=user,
            decided_by_name=actor.username,
            decided_at=now,
            comment=comment,
        )
        if won != 1:
            approval.refresh_from_db()
            raise Refused(
                f"This was {approval.get_state_display().lower()} already by "
                f"{approval.decided_by_name or 'someone else'}: it does not change again."
            )
        approval.refresh_from_db()
        handler = handler_for(approval.kind)
        if not approve and handler is not None:
            handler.rejected(approval, actor)  # with the decision: both or neither
        record_event(
            actor=actor,
            action="approval.approved" if approve else "approval.rejected",
            target_type=approval.kind,
            target_id=approval.target_id or approval.pk,
            target_name=approval.summary[:255],
            details=_details(approval, comment=comment),
            index=_index(approval),
        )
    return approval


def waiting() -> Any:
    """Everything waiting for a decision, oldest first."""
    return Approval.objects.filter(state=Approval.State.WAITING).order_by("requested_at", "pk")
