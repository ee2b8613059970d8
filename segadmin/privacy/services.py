"""Filing a privacy request: saved as waiting for approval, with its chunks and its audit
entry (the IDs themselves in it), nothing sent. Sending is ``privacy.flow`` (it uses the
sending layer, which services may not)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from segadmin.approvals.models import Approval
from segadmin.approvals.services import request_approval
from segadmin.audit.index import IndexedMessage, key
from segadmin.audit.log import Actor, record_event
from segadmin.credentials.models import Source, Workspace
from segadmin.privacy.models import Chunk, PrivacyRequest, scope_problems
from segadmin.segment.client.regulations import MAX_IDS_PER_CALL

MAX_IDS = 100_000


def index_of(request: PrivacyRequest, ids: list[str] | None = None) -> list[IndexedMessage]:
    """Message-index rows for the people a request names: their User lookup finds each step.
    Object IDs name no person: none."""
    if request.subject_type == "OBJECT_ID":
        return []
    anonymous = request.subject_type == "ANONYMOUS_ID"
    return [
        IndexedMessage(
            position=position,
            call_type="privacy",
            user_id="" if anonymous else key(value),
            anonymous_id=key(value) if anonymous else "",
        )
        for position, value in enumerate(request.id_list if ids is None else ids)
    ]


def record_privacy_event(
    request: PrivacyRequest,
    action: str,
    *,
    details: dict[str, Any],
    actor: Actor,
    ids: list[str] | None = None,
) -> None:
    """Record ``action`` on ``request`` in the audit log, indexed under the people it names
    (``ids``: only these, e.g. one call's; default: all of the request's)."""
    record_event(
        actor=actor,
        action=action,
        target_type="privacy_request",
        target_id=request.pk,
        target_name=request.summary()[:255],
        details=details,
        index=index_of(request, ids),
    )


def details_of(request: PrivacyRequest) -> dict[str, object]:
    return {
        "privacy_request": request.pk,
        "workspace": request.workspace.name,
        "scope": request.scope_label,
        "action": request.get_action_display(),
        "regulation_type": request.action,
        "subject_type": request.subject_type,
        "id_count": request.id_count,
        "ids": request.id_list,
        "reason": request.reason,
        "purge_kept_files": request.purge_kept_files,
    }


def file_request(
    *,
    actor: Actor,
    workspace: Workspace,
    source: Source | None,
    action: str,
    subject_type: str,
    ids: list[str],
    reason: str,
    purge_kept_files: bool = False,
) -> PrivacyRequest:
    """Save a request as waiting for approval, split into chunks of at most 5,000 IDs, with
    its approval and audit entries; nothing is sent."""
    if not ids or len(ids) > MAX_IDS:
        raise ValueError(f"A privacy request names 1 to {MAX_IDS} IDs")
    problems = scope_problems(source=source is not None, action=action, subject_type=subject_type)
    if problems:
        raise ValueError(" ".join(problems.values()))
    if subject_type == "OBJECT_ID" and purge_kept_files:
        raise ValueError("Object IDs name no users: segadmin keeps nothing by them.")
    with transaction.atomic():
        request = PrivacyRequest.objects.create(
            workspace=workspace,
            source=source,
            source_segment_id=source.segment_source_id if source else "",
            action=action,
            subject_type=subject_type,
            ids="\n".join(ids),
            id_count=len(ids),
            reason=reason,
            purge_kept_files=purge_kept_files,
            requested_by=actor.user,
            requested_by_name=actor.username,
        )
        Chunk.objects.bulk_create(
            Chunk(
                request=request,
                number=number,
                ids="\n".join(ids[start : start + MAX_IDS_PER_CALL]),
                id_count=len(ids[start : start + MAX_IDS_PER_CALL]),
            )
            for number, start in enumerate(range(0, len(ids), MAX_IDS_PER_CALL), start=1)
        )
        record_privacy_event(
            request, "privacy.requested", details=details_of(request), actor=actor, ids=ids
        )
        request.approval = request_approval(
            actor=actor,
            kind=Approval.Kind.PRIVACY,
            summary=request.summary(),
            reason=reason,
            amount=len(ids),
            target_id=str(request.pk),
            # Not indexed again: privacy.requested, just above, names each ID on the
            # lookup pages (a second 100,000 index rows doubled the filing's time).
            details={"privacy_request": request.pk},
        )
        request.save(update_fields=["approval"])
    return request
