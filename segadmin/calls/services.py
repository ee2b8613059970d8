"""The send service: the one way segadmin sends anything to Segment.

Every sender (the call forms, bulk jobs, "Send again", "Make an API call", the Public API and
Profile API pages) goes through here, and every function does the same five steps:

1. refuse to run inside a database transaction (TransactionOpen): the audit entry must be
   committed before the request leaves, and no transaction may wait on Segment;
2. validate (tracking messages) — MessageInvalid is raised before anything is recorded; a
   source connected to a tracking plan has its messages checked against the plan here too, as
   its enforcement says (Block: violations refuse; Warn: they are sent, listed on the result
   and kept in the audit entry with the plan's name, id and revision), so no entrance skips it;
3. decrypt the secret — SecretUnreadable is raised as it is (its message names the source or
   workspace and says how to fix it) and nothing is recorded, since no request was made;
4. record the request in the audit log (committed), then send through the client;
5. record the outcome: 2xx "sent", any other status "rejected by Segment", no answer
   "failed: <reason>". A process killed during step 4 leaves the entry with no outcome,
   shown as "no answer recorded".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from segadmin.audit import log
from segadmin.audit.log import Actor, ensure_no_transaction
from segadmin.audit.models import AuditEntry
from segadmin.segment import client, rules
from segadmin.segment.client import (
    BACKGROUND,
    INTERACTIVE,
    RetryProfile,
    SegmentRequest,
    SendResult,
)
from segadmin.segment.errors import Problem
from segadmin.segment.messages import validate_batch, validate_message
from segadmin.segment.rules import PlanCheck

if TYPE_CHECKING:
    from segadmin.credentials.models import Source, Workspace

__all__ = [
    "Actor",
    "Sent",
    "send_batch",
    "send_message",
    "send_raw",
    "workspace_transport",
]


@dataclass(frozen=True)
class Sent:
    entry: AuditEntry  # the request's audit entry, its outcome recorded
    result: SendResult
    request: SegmentRequest
    # The source's tracking plan's findings sent along (warnings: Warn violations, unplanned
    # names...), and what Segment's Protocols settings for the source would do ("" = no plan).
    plan_problems: tuple[Problem, ...] = ()
    segment_would: str = ""

    @property
    def plan_violations(self) -> list[Problem]:
        return rules.plan_violations(self.plan_problems)


# At most this many findings are kept in one entry's details (a bulk batch can have thousands).
MAX_RECORDED_FINDINGS = 200


def plan_record(
    plan: PlanCheck, problems: list[Problem], segment_would: str = ""
) -> dict[str, Any]:
    """What the audit entry keeps of the plan a message was checked against."""
    found = [p for p in problems if p.code.startswith("plan_")]
    record: dict[str, Any] = {
        "name": plan.plan.name,
        "id": plan.plan.id,
        "revision": plan.revision,
        "enforcement": plan.enforcement,
        "unplanned_events": plan.unplanned_events,
        "violations": len(rules.plan_violations(found)),
        "findings": [
            {
                "field": p.field,
                "code": p.code,
                "severity": p.severity,
                "message": p.message,
                **({"index": p.index} if p.index is not None else {}),
            }
            for p in found[:MAX_RECORDED_FINDINGS]
        ],
    }
    if len(found) > MAX_RECORDED_FINDINGS:
        record["findings_left_out"] = len(found) - MAX_RECORDED_FINDINGS
    if segment_would:
        record["segment_would"] = segment_would
    return record


def send_message(
    *,
    actor: Actor,
    source: Source,
    message: dict,
    profile: RetryProfile = INTERACTIVE,
    related_to: AuditEntry | None = None,
    relation: str = "",
) -> Sent:
    """Validate, record and send one tracking message (identify, track, ...) to ``source``.

    ``related_to``/``relation`` link a resend to the entry it repeats ("send again").
    Raises MessageInvalid, SecretUnreadable or TransactionOpen before anything is recorded.
    """
    ensure_no_transaction()
    plan = source.plan_check()
    warnings = validate_message(message, plan)
    request = client.tracking_request(message, write_key=source.write_key(), region=source.region)
    would = plan.segment_would(str(message.get("type", "")), warnings) if plan else ""
    return _send(
        actor=actor,
        request=request,
        profile=profile,
        source=source,
        related_to=related_to,
        relation=relation,
        plan=plan_record(plan, warnings, would) if plan else None,
        plan_problems=tuple(p for p in warnings if p.code.startswith("plan_")),
        segment_would=would,
    )


def send_batch(
    *,
    actor: Actor,
    source: Source,
    messages: list[dict],
    profile: RetryProfile = BACKGROUND,
    bulk_job_id: str | None = None,
) -> Sent:
    """Validate, record and send one /v1/batch request (the caller splits with
    ``segment.messages.split_into_batches``). Entries of a bulk import carry ``bulk_job_id``.
    """
    ensure_no_transaction()
    plan = source.plan_check()
    warnings = validate_batch(messages, plan)
    request = client.batch_request(messages, write_key=source.write_key(), region=source.region)
    return _send(
        actor=actor,
        request=request,
        profile=profile,
        source=source,
        bulk_job_id=bulk_job_id,
        plan=plan_record(plan, warnings) if plan else None,
        plan_problems=tuple(p for p in warnings if p.code.startswith("plan_")),
    )


def send_raw(
    *,
    actor: Actor,
    api: str,
    source: Source | None = None,
    workspace: Workspace | None = None,
    method: str,
    path: str,
    headers: dict[str, str],
    query: Any,
    body: str | bytes | None,
    profile: RetryProfile = INTERACTIVE,
) -> Sent:
    """ "Make an API call": a raw request to the Tracking API (with ``source``'s write key) or
    the Public API (with ``workspace``'s token). The client's builders raise UnsafeRequest
    for anything that could leave the configured base; nothing is recorded then.
    """
    ensure_no_transaction()
    if api == "tracking":
        if source is None:
            raise ValueError("A raw Tracking API call needs a source.")
        request = client.raw_tracking_request(
            method=method,
            path=path,
            headers=headers,
            query=query,
            body=body,
            write_key=source.write_key(),
            region=source.region,
        )
    elif api == "public":
        if workspace is None:
            raise ValueError("A raw Public API call needs a workspace.")
        request = client.raw_public_request(
            method=method,
            path=path,
            headers=headers,
            query=query,
            body=body,
            token=workspace.public_api_token(),
            region=workspace.region,
        )
    else:
        raise ValueError(f"Raw calls go to the Tracking API or the Public API, not {api!r}.")
    return _send(actor=actor, request=request, profile=profile, source=source, workspace=workspace)


def workspace_transport(
    *, actor: Actor, workspace: Workspace, profile: RetryProfile = INTERACTIVE
) -> Callable[[SegmentRequest], SendResult]:
    """A client Transport that records each request and its outcome under ``workspace``.

    Pass it to client.get_workspace / list_sources / get_source / get_profile_traits, so every
    page of a listing is one audit entry.
    """

    def transport(request: SegmentRequest) -> SendResult:
        return _send(actor=actor, request=request, profile=profile, workspace=workspace).result

    return transport


def _send(
    *,
    actor: Actor,
    request: SegmentRequest,
    profile: RetryProfile,
    source: Source | None = None,
    workspace: Workspace | None = None,
    related_to: AuditEntry | None = None,
    relation: str = "",
    bulk_job_id: str | None = None,
    plan: dict[str, Any] | None = None,
    plan_problems: tuple[Problem, ...] = (),
    segment_would: str = "",
) -> Sent:
    entry = log.record_request(
        actor=actor,
        request=request,
        source=source,
        workspace=workspace,
        related_to=related_to,
        relation=relation,
        bulk_job_id=bulk_job_id,
        plan=plan,
    )
    try:
        result = client.send(request, profile=profile)
    except Exception as exc:
        # send() never raises for HTTP or network failures, so this is a bug: still say so
        # on the record rather than leave "no answer recorded".
        log.record_outcome(entry, _crashed(exc), request=request)
        raise
    log.record_outcome(entry, result, request=request)
    return Sent(
        entry=entry,
        result=result,
        request=request,
        plan_problems=plan_problems,
        segment_would=segment_would,
    )


def _crashed(exc: Exception) -> SendResult:
    return SendResult(
        status=None,
        headers={},
        body=b"",
        attempts=1,
        duration_ms=0.0,
        error=f"internal error in segadmin ({type(exc).__name__}), nothing known about delivery",
    )
