"""Carrying out an approved privacy request and following it: the half that talks to Segment,
through the sending layer (``sending.privacy``), outside any transaction.

Each chunk is claimed for sending by one conditional UPDATE (``pending``/``failed`` ->
``sending``), committed before its request leaves: two Retries at once, or a Retry racing the
approval, never send a chunk twice, and a chunk whose process died while sending stays
``sending`` (its audit entry says "no answer recorded") rather than being sent again unseen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from segadmin.accounts import limits
from segadmin.approvals.models import Approval
from segadmin.approvals.registry import Handler
from segadmin.audit.index import IndexedMessage
from segadmin.audit.log import Actor
from segadmin.credentials import crypto
from segadmin.lib.forget import forget
from segadmin.privacy.models import STUCK_AFTER, Chunk, PrivacyRequest, StatusChange
from segadmin.privacy.services import details_of, index_of, record_privacy_event
from segadmin.segment.client import ApiError
from segadmin.segment.client.regulations import Created
from segadmin.sending import privacy as sending_privacy

RETRYABLE = (Chunk.State.PENDING, Chunk.State.FAILED)


def _request_of(approval: Approval) -> PrivacyRequest:
    return PrivacyRequest.objects.select_related("workspace", "source").get(
        pk=int(approval.target_id)
    )


def send_pending(request: PrivacyRequest, *, actor: Actor) -> PrivacyRequest:
    """Send every chunk not sent yet, in order, stopping at the first refusal; then set the
    request's state: sent, or "Approved — not sent" with the reason (Retry sends the rest)."""
    error = ""
    for chunk in request.chunks.filter(state__in=RETRYABLE).order_by("number"):
        claimed = Chunk.objects.filter(pk=chunk.pk, state__in=RETRYABLE).update(
            state=Chunk.State.SENDING,
            attempts=F("attempts") + 1,
            error="",
            sending_since=timezone.now(),
        )
        if claimed != 1:
            continue  # someone else is sending it
        error = _send_chunk(request, chunk, actor=actor)
        if error:
            break
    chunks = list(request.chunks.values_list("state", flat=True))
    if all(state == Chunk.State.SENT for state in chunks):
        PrivacyRequest.objects.filter(pk=request.pk).update(
            state=PrivacyRequest.State.SENT, not_sent_reason=""
        )
    else:
        _not_sent(
            request,
            error or "Some calls have no answer recorded: see their audit entries.",
            actor=actor,
        )
    request.refresh_from_db()
    return request


def _not_sent(request: PrivacyRequest, reason: str, *, actor: Actor) -> None:
    with transaction.atomic():
        PrivacyRequest.objects.filter(pk=request.pk).update(
            state=PrivacyRequest.State.NOT_SENT, not_sent_reason=reason
        )
        record_privacy_event(
            request,
            "privacy.not_sent",
            details={"privacy_request": request.pk, "reason": reason},
            actor=actor,
        )


def stopped(request: PrivacyRequest, *, actor: Actor) -> None:
    """The background send met an unexpected error: the request is "Approved — not sent"
    (Retry sends the calls not sent; a call left ``sending`` waits to be released)."""
    _not_sent(
        request,
        "An unexpected error stopped the sending; the server log has the details.",
        actor=actor,
    )


def queue_send(request: PrivacyRequest, *, actor: Actor) -> None:
    """Queue the background send of a request just claimed (``sending``)."""
    from segadmin.privacy.tasks import actor_data, send_privacy_request

    send_privacy_request.enqueue(request.pk, actor_data(actor))


def _send_chunk(request: PrivacyRequest, chunk: Chunk, *, actor: Actor) -> str:
    ids = [line for line in chunk.ids.split("\n") if line]
    try:
        sent = sending_privacy.send_regulation(
            actor=actor,
            workspace=request.workspace,
            source_id=request.source_segment_id or None,
            regulation_type=request.action,
            subject_type=request.subject_type,
            subject_ids=ids,
        )
    except (crypto.SecretUnreadable, crypto.EncryptionNotConfigured) as exc:
        Chunk.objects.filter(pk=chunk.pk).update(state=Chunk.State.FAILED, error=str(exc))
        return str(exc)
    answer = sent.answer
    quota = answer.quota
    if isinstance(answer, Created):
        now = timezone.now()
        with transaction.atomic():
            Chunk.objects.filter(pk=chunk.pk).update(
                state=Chunk.State.SENT,
                audit_entry_id=sent.entry.pk,
                regulate_id=answer.regulate_id,
                status="INITIALIZED",
                status_changed_at=now,
                quota_remaining=quota.remaining,
                quota_reset=quota.reset,
            )
            StatusChange.objects.create(chunk=chunk, status="INITIALIZED", seen_at=now)
        return ""
    message = f"Call {chunk.number}: {answer.error.message}"
    Chunk.objects.filter(pk=chunk.pk).update(
        state=Chunk.State.FAILED,
        error=message,
        audit_entry_id=sent.entry.pk,
        quota_remaining=quota.remaining,
        quota_reset=quota.reset,
    )
    return message


def retry(request: PrivacyRequest, *, actor: Actor) -> PrivacyRequest | None:
    """Queue sending again what was not sent of an "Approved — not sent" request (None: not
    in that state, e.g. someone pressed Retry a moment before). Returns the request as it is
    once queued (sent already when the tasks run at once)."""
    claimed = PrivacyRequest.objects.filter(
        pk=request.pk, state=PrivacyRequest.State.NOT_SENT
    ).update(state=PrivacyRequest.State.SENDING, not_sent_reason="")
    if claimed != 1:
        return None
    queue_send(request, actor=actor)
    request.refresh_from_db()
    return request


def release(request: PrivacyRequest, number: int, *, actor: Actor) -> str:
    """Release call ``number``, stuck in ``sending`` for STUCK_AFTER (its process died between
    claiming it and recording Segment's answer): it becomes "not sent", so Retry sends it
    again, although Segment may have received it. Audited (``privacy.call_released``). Returns
    the problem, or "" when released."""
    chunk = request.chunks.filter(number=number).first()
    if chunk is None:
        return "There is no such call."
    cutoff = timezone.now() - STUCK_AFTER
    minutes = int(STUCK_AFTER.total_seconds() // 60)
    warning = (
        f"Released by {actor.username} after no answer for at least {minutes} minutes: "
        "Segment may have received this call. Retry sends it again."
    )
    with transaction.atomic():
        released = (
            Chunk.objects.filter(pk=chunk.pk, state=Chunk.State.SENDING)
            .filter(Q(sending_since__lte=cutoff) | Q(sending_since=None))
            .update(state=Chunk.State.FAILED, error=warning)
        )
        if released != 1:
            return (
                f"Call {number} is not stuck: only a call sending with no answer for "
                f"{minutes} minutes may be released."
            )
        if not request.chunks.filter(state=Chunk.State.SENDING).exists():
            PrivacyRequest.objects.filter(
                pk=request.pk,
                state__in=(PrivacyRequest.State.SENDING, PrivacyRequest.State.NOT_SENT),
            ).update(
                state=PrivacyRequest.State.NOT_SENT,
                not_sent_reason=f"Call {number} was released without an answer recorded: "
                "Segment may have received it. Retry sends it again.",
            )
        record_privacy_event(
            request,
            "privacy.call_released",
            details={
                "privacy_request": request.pk,
                "call": number,
                "audit_entry": chunk.audit_entry_id,
                "sending_since": chunk.sending_since.isoformat() if chunk.sending_since else None,
                "warning": "Segment may have received this call; Retry sends it again.",
            },
            actor=actor,
            ids=[line for line in chunk.ids.split("\n") if line],
        )
    return ""


def refresh(request: PrivacyRequest, *, actor: Actor) -> list[str]:
    """Ask Segment about each regulation of the request not yet ended; record each change.
    Returns the problems met (empty when every answer was read)."""
    problems: list[str] = []
    chunks = request.chunks.filter(state=Chunk.State.SENT).exclude(regulate_id="")
    for chunk in chunks:
        if chunk.ended:
            continue
        try:
            answer = sending_privacy.get_regulation(
                actor=actor, workspace=request.workspace, regulate_id=chunk.regulate_id
            )
        except (crypto.SecretUnreadable, crypto.EncryptionNotConfigured) as exc:
            return [str(exc)]
        now = timezone.now()
        if isinstance(answer, ApiError):
            problems.append(f"Call {chunk.number}: {answer.message}")
            Chunk.objects.filter(pk=chunk.pk).update(checked_at=now)
            continue
        if answer.status == chunk.status:
            Chunk.objects.filter(pk=chunk.pk).update(checked_at=now)
            continue
        _record_change(request, chunk, answer.status, now, actor=actor)
    return problems


def _record_change(
    request: PrivacyRequest, chunk: Chunk, status: str, now: datetime, *, actor: Actor
) -> None:
    ids = [line for line in chunk.ids.split("\n") if line]
    with transaction.atomic():
        Chunk.objects.filter(pk=chunk.pk).update(
            status=status, status_changed_at=now, checked_at=now
        )
        StatusChange.objects.create(chunk=chunk, status=status, seen_at=now)
        record_privacy_event(
            request,
            "privacy.status_changed",
            details={
                "privacy_request": request.pk,
                "call": chunk.number,
                "regulation_id": chunk.regulate_id,
                "from": chunk.status,
                "to": status,
            },
            actor=actor,
            ids=ids,
        )


def sync_all() -> int:
    """The periodic job: refresh every request with a regulation not yet ended. Returns how
    many requests were asked about."""
    actor = Actor.system("privacy.sync")
    pending = (
        PrivacyRequest.objects.filter(
            chunks__state=Chunk.State.SENT,
            chunks__status__in=("INITIALIZED", "RUNNING", ""),
        )
        .exclude(chunks__regulate_id="")
        .select_related("workspace", "source")
        .distinct()
    )
    count = 0
    for request in pending:
        refresh(request, actor=actor)
        count += 1
    return count


# --- The approval ---------------------------------------------------------------------------


def on_approved(approval: Approval, actor: Actor) -> str:
    request = _request_of(approval)
    claimed = PrivacyRequest.objects.filter(
        pk=request.pk, state=PrivacyRequest.State.WAITING
    ).update(state=PrivacyRequest.State.SENDING)
    if claimed != 1:
        return "The privacy request was not waiting any more: nothing was sent."
    purged = purge_kept_files(request, actor=actor) if request.purge_kept_files else ""
    queue_send(request, actor=actor)
    request.refresh_from_db()
    calls = request.chunks.count()
    plural = "s" if calls != 1 else ""
    if request.state == PrivacyRequest.State.SENT:
        return f"Approved and sent to Segment in {calls} call{plural}.{purged}"
    if request.state == PrivacyRequest.State.SENDING:
        return (
            f"Approved. Sending to Segment in {calls} call{plural} in the background: the "
            f"request's page shows when it is sent.{purged}"
        )
    return (
        f"Approved, but not sent: {request.not_sent_reason} Retry is on the request's page.{purged}"
    )


def purge_kept_files(request: PrivacyRequest, *, actor: Actor) -> str:
    """Remove the named users from what segadmin keeps besides the audit log (lib.forget),
    recorded as ``privacy.files_purged``; a sentence for the approver."""
    removed = forget(request.subject_type, set(request.id_list))
    imports = removed.get("bulk imports", {}).get("imports", {})
    rows = sum(item["rows_removed"] + item["failed_rows_cleared"] for item in imports.values())
    record_privacy_event(
        request,
        "privacy.files_purged",
        details={"privacy_request": request.pk, "removed": removed},
        actor=actor,
    )
    return f" Their rows were removed from {len(imports)} kept import file(s) ({rows} rows)."


def on_rejected(approval: Approval, actor: Actor) -> None:
    PrivacyRequest.objects.filter(
        pk=int(approval.target_id), state=PrivacyRequest.State.WAITING
    ).update(state=PrivacyRequest.State.REJECTED)


def _link(approval: Approval) -> str:
    return reverse("privacy:detail", args=[int(approval.target_id)])


def _index(approval: Approval) -> list[IndexedMessage]:
    return index_of(_request_of(approval))


def _outside_limits(approval: Approval, user: Any) -> str:
    filed = PrivacyRequest.objects.select_related("workspace").filter(pk=approval.target_id)
    request = filed.first() if approval.target_id.isdigit() else None
    if request is None or limits.may_use_workspace(user, request.workspace):
        return ""
    return (
        f"This request reaches the workspace “{request.workspace.name}”, and an Admin "
        "limited you to other workspaces or sources: another Admin must decide."
    )


HANDLER = Handler(
    kind=Approval.Kind.PRIVACY,
    approved=on_approved,
    rejected=on_rejected,
    link=_link,
    index=_index,
    outside_limits=_outside_limits,
)

__all__ = [
    "HANDLER",
    "details_of",
    "queue_send",
    "refresh",
    "release",
    "retry",
    "send_pending",
    "stopped",
    "sync_all",
]
