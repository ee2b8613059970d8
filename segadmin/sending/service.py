"""The send service: the one way segadmin sends anything to Segment.

Every sender (the call forms, bulk jobs, "Send again", "Make an API call", the Public API and
Profile API pages) goes through here, and every function does the same five steps:

1. refuse to run inside a database transaction (TransactionOpen): the audit entry must be
   committed before the request leaves, and no transaction may wait on Segment;
2. refuse a disabled source (SourceDisabled, read from the database at the moment of sending,
   so a source disabled during a bulk job stops it) and validate (tracking messages) —
   MessageInvalid is raised before anything is recorded; a source connected to a tracking plan
   has its messages checked against the plan here too, as its enforcement says (Block:
   violations refuse; Warn: they are sent, listed on the result and kept in the audit entry
   with the plan's name, id and revision), so no entrance skips it (a bulk job's worker has
   checked each row with the same rules and plan and hands the verdict over, ``Checked``);
3. decrypt the secret — SecretUnreadable is raised as it is (its message names the source or
   workspace and says how to fix it) and nothing is recorded, since no request was made;
4. record the request in the audit log (committed), then send through the client;
5. record the outcome: 2xx "sent", any other status "rejected by Segment", no answer
   "failed: <reason>". A process killed during step 4 leaves the entry with no outcome,
   shown as "no answer recorded".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connections

from segadmin.accounts.limits import read_limits, source_refusal, workspace_refusal
from segadmin.audit import limits as limit_events
from segadmin.audit import log
from segadmin.audit.index import IndexedMessage, index_batch
from segadmin.audit.log import Actor, ensure_no_transaction
from segadmin.audit.models import AuditEntry
from segadmin.credentials import production
from segadmin.credentials.models import Source
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
from segadmin.segment.redaction import RedactedAnswer
from segadmin.segment.rules import PlanCheck

if TYPE_CHECKING:
    from segadmin.credentials.models import Workspace

__all__ = [
    "Actor",
    "Checked",
    "NotAllowed",
    "ProductionNotConfirmed",
    "Sent",
    "SourceDisabled",
    "get_profile_traits",
    "get_workspace",
    "list_sources",
    "send_batch",
    "send_message",
    "send_raw",
    "workspace_transport",
]


class SourceDisabled(Exception):
    """The source was disabled (by an Admin, under Sources): nothing is sent to it."""

    def __init__(self, source: Source) -> None:
        self.source = source
        super().__init__(
            f"The source “{source.name}” is disabled, so nothing was sent to it. An Admin can "
            "enable it again under Sources."
        )


class NotAllowed(Exception):
    """The person acting may not use this source or workspace: an Admin limited them to other
    ones (segadmin/accounts/limits.py). Nothing is sent; the refusal is in the audit log."""

    def __init__(self, message: str, *, source: Source | None = None) -> None:
        self.source = source
        super().__init__(message)


class ProductionNotConfirmed(Exception):
    """The source is a Production one and the sender did not confirm sending to it by name
    (credentials.production): nothing is sent or recorded. The screen shows the message next
    to its confirmation control."""

    def __init__(self, source: Source, *, what: str = "Nothing was sent") -> None:
        self.source = source
        super().__init__(production.refusal(source, what=what))


@dataclass(frozen=True)
class Sent:
    entry: AuditEntry  # the request's audit entry, its outcome recorded
    result: SendResult
    request: SegmentRequest
    # The source's tracking plan's findings sent along (warnings: Warn violations, unplanned
    # names...), and what Segment's Protocols settings for the source would do ("" = no plan).
    plan_problems: tuple[Problem, ...] = ()
    segment_would: str = ""
    # Segment's answer redacted, as the audit log stored it: the result panel shows the same.
    answer: RedactedAnswer | None = None

    @property
    def plan_violations(self) -> list[Problem]:
        return rules.plan_violations(self.plan_problems)

    def redacted_answer(self) -> RedactedAnswer:
        """Segment's answer as the audit log stored it (secrets masked): the one the send
        made, or made again from the result for a Sent built without it."""
        if self.answer is not None:
            return self.answer
        return self.result.redacted(self.request.known_secrets())


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
    message: dict[str, Any],
    profile: RetryProfile = INTERACTIVE,
    related_to: AuditEntry | None = None,
    relation: str = "",
    reason: str = "",
    confirm_production: Any = None,
) -> Sent:
    """Validate, record and send one tracking message (identify, track, ...) to ``source``.

    ``related_to``/``relation`` link a resend to the entry it repeats ("send again");
    ``reason`` is why the person sends it, kept on the audit entry (secrets masked).
    Raises SourceDisabled, MessageInvalid, SecretUnreadable or TransactionOpen before anything
    is recorded. ``confirm_production``: what the sender posted to confirm a send to a
    Production source (its id or name); without it ProductionNotConfirmed is raised for one,
    before anything is recorded.
    """
    ensure_no_transaction()
    marked, limited = _source_now(source, actor)
    _refuse_not_allowed(actor, source=source, limited=limited)
    confirmed = _refuse_disabled(source, confirm_production, marked=marked)
    plan = source.plan_check()
    warnings = validate_message(message, plan)
    request = client.tracking_request(message, write_key=source.write_key(), region=source.region)
    would = plan.segment_would(str(message.get("type", "")), message) if plan else ""
    return _send(
        actor=actor,
        request=request,
        profile=profile,
        source=source,
        related_to=related_to,
        relation=relation,
        reason=reason,
        plan=plan_record(plan, warnings, would) if plan else None,
        plan_problems=tuple(p for p in warnings if p.code.startswith("plan_")),
        segment_would=would,
        production=confirmed,
    )


@dataclass(frozen=True)
class Checked:
    """A caller's verdict on a batch it has just asked the rules module about, message by
    message (the bulk worker's plan does, row by row, with the source's tracking plan):
    ``plan`` is the tracking plan and enforcement it checked against (None: none), and
    ``warnings`` the warnings it found, each with its message's place in the batch
    (``index``). ``send_batch`` takes them instead of checking every message again, as long
    as the source's plan is still that one."""

    plan: PlanCheck | None
    warnings: tuple[Problem, ...] = ()


def same_plan(a: PlanCheck | None, b: PlanCheck | None) -> bool:
    """Whether two checks judge alike: the same stored plan at the same revision under the
    same enforcement (the Protocols settings only change what Segment would do)."""
    if a is None or b is None:
        return a is b
    return (a.plan.id, a.plan.name, a.revision, a.enforcement, a.unplanned_events) == (
        b.plan.id,
        b.plan.name,
        b.revision,
        b.enforcement,
        b.unplanned_events,
    )


def send_batch(
    *,
    actor: Actor,
    source: Source,
    messages: list[dict[str, Any]],
    profile: RetryProfile = BACKGROUND,
    bulk_job_id: str | None = None,
    index: list[IndexedMessage] | None = None,
    checked: Checked | None = None,
    reason: str = "",
    encoded: Sequence[bytes] | None = None,
    index_later: Sequence[int | None] | None = None,
) -> Sent:
    """Validate, record and send one /v1/batch request (the caller splits with
    ``segment.messages.split_into_batches``). Entries of a bulk import carry ``bulk_job_id``;
    ``index`` is ``audit.index.index_batch(messages, rows=...)`` when the caller made it
    already (the bulk worker, with each message's file row), else it is made here.
    ``checked``: the caller's verdict on every message (``Checked``); taken when the source's
    tracking plan is still the one it checked against, else every message is checked here
    again. The batch's count and size are checked here either way. ``reason``: the import's
    Reason, kept on each batch's audit entry. ``encoded``: each message's
    ``segment.messages.encode(message)``, when the caller has it (the bulk worker's plan
    encoded each row to measure it): the body is joined from them and its size added up,
    rather than every message encoded twice more. ``index_later``: each message's file row,
    when the message index is to be written after the import (``audit.backlog``): ``index``
    then need only hold the first message.
    """
    ensure_no_transaction()
    _refuse_not_allowed(actor, source=source)
    marked = _refuse_disabled(source)  # a Production source's import was confirmed at Start
    plan = source.plan_check()
    if checked is not None and same_plan(checked.plan, plan):
        warnings = validate_batch(messages, plan, each=False, encoded=encoded)
        warnings += checked.warnings
    else:
        warnings = validate_batch(messages, plan, encoded=encoded)
    request = client.batch_request(
        messages, write_key=source.write_key(), region=source.region, encoded=encoded
    )
    return _send(
        actor=actor,
        request=request,
        profile=profile,
        source=source,
        bulk_job_id=bulk_job_id,
        # From the messages in hand: cheaper than parsing the 500 KB body again.
        index=index if index is not None else index_batch(messages),
        index_later=index_later,
        plan=plan_record(plan, warnings) if plan else None,
        plan_problems=tuple(p for p in warnings if p.code.startswith("plan_")),
        reason=reason,
        production=marked,
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
    reason: str = "",
    confirm_production: Any = None,
) -> Sent:
    """ "Make an API call": a raw request to the Tracking API (with ``source``'s write key) or
    the Public API (with ``workspace``'s token). The client's builders raise UnsafeRequest
    for anything that could leave the configured base; nothing is recorded then. A Tracking
    API call to a Production source needs ``confirm_production`` (as send_message).
    """
    ensure_no_transaction()
    confirmed = False
    if api == "tracking":
        if source is None:
            raise ValueError("A raw Tracking API call needs a source.")
        _refuse_not_allowed(actor, source=source)
        confirmed = _refuse_disabled(source, confirm_production)
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
        _refuse_not_allowed(actor, workspace=workspace)
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
    return _send(
        actor=actor,
        request=request,
        profile=profile,
        source=source,
        workspace=workspace,
        reason=reason,
        production=confirmed,
    )


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


def get_workspace(*, actor: Actor, workspace: Workspace) -> client.Workspace | client.ApiError:
    """Test connection: the Segment workspace ``workspace``'s Public API token opens, recorded.
    SecretUnreadable / EncryptionNotConfigured when the token cannot be read (nothing sent)."""
    ensure_no_transaction()
    return client.get_workspace(
        token=workspace.public_api_token(),
        region=workspace.region,
        transport=workspace_transport(actor=actor, workspace=workspace),
    )


def list_sources(*, actor: Actor, workspace: Workspace) -> list[client.Source] | client.ApiError:
    """Import sources: every source of ``workspace`` as Segment lists it, each page recorded."""
    ensure_no_transaction()
    return client.list_sources(
        token=workspace.public_api_token(),
        region=workspace.region,
        transport=workspace_transport(actor=actor, workspace=workspace),
    )


@dataclass(frozen=True)
class ProfileTraits:
    answer: dict[str, Any] | client.ApiError
    secrets: tuple[str, ...]  # what to mask in what is shown of the answer


def get_profile_traits(
    *, actor: Actor, workspace: Workspace, identifier_type: str, identifier: str
) -> ProfileTraits:
    """User lookup: one user's current traits from ``workspace``'s Profile API, recorded."""
    ensure_no_transaction()
    _refuse_not_allowed(actor, workspace=workspace)
    token = workspace.profiles_token() or ""
    answer = client.get_profile_traits(
        space_id=workspace.profiles_space_id,
        token=token,
        region=workspace.region,
        identifier_type=identifier_type,
        identifier=identifier,
        transport=workspace_transport(actor=actor, workspace=workspace),
    )
    return ProfileTraits(answer=answer, secrets=(token,) if token else ())


# A send's source and sender as the database has them now, in one SELECT: whether the source
# is marked Production (NULL: gone or disabled), and whether the sender has source limits.
_SOURCE_NOW = (
    'SELECT (SELECT "production" FROM "credentials_source" WHERE "id" = %s AND "enabled" = %s), '
    'EXISTS (SELECT 1 FROM "accounts_sourcelimit" WHERE "user_id" = %s)'
)


def _source_now(source: Source, actor: Actor) -> tuple[bool | None, bool | None]:
    """(``Source.production_if_enabled(source.pk)``, whether the actor has source limits;
    None for a system actor), read by one query instead of two: the checks below then read
    no more unless the person is limited."""
    if actor.user is None or actor.user.pk is None:
        return Source.production_if_enabled(source.pk), None
    with connections[Source.objects.db].cursor() as cursor:
        cursor.execute(_SOURCE_NOW, [source.pk, True, actor.user.pk])
        production, limited = cursor.fetchone()
    return (None if production is None else bool(production)), bool(limited)


def _refuse_not_allowed(
    actor: Actor,
    *,
    source: Source | None = None,
    workspace: Workspace | None = None,
    limited: bool | None = None,
) -> None:
    """The last line of the source limits: whatever screen, job or resend asks, a limited
    person's message to a source (or a call on a workspace) outside their limits is refused
    and the refusal recorded. Read from the database at the moment of sending, so a limit
    changed during a bulk job stops it. A system actor (no person) has no limits.
    ``limited``: False when the caller has just read that the person has no limits."""
    if actor.user is None or limited is False:
        return
    limits = read_limits(actor.user)
    if not limits.restricted:
        return
    if source is not None and not limits.allows_source(source):
        limit_events.refused(actor=actor, entrance="send", source=source)
        raise NotAllowed(source_refusal(source), source=source)
    if source is None and workspace is not None and not limits.allows_workspace(workspace):
        limit_events.refused(actor=actor, entrance="send", workspace=workspace)
        raise NotAllowed(workspace_refusal(workspace))


_UNASKED = object()


def _refuse_disabled(
    source: Source, confirmation: Any = _UNASKED, *, marked: Any = _UNASKED
) -> bool:
    """Refuse a disabled source and, unless ``confirmation`` is left out (a bulk job, confirmed
    when it was started), a Production source not confirmed by its id or name. Returns
    whether the source is a Production one (then confirmed). ``marked``: what
    ``Source.production_if_enabled`` answered just now, when the caller read it."""
    # From the database, not the caller's copy: a bulk job holds its source for a whole chunk,
    # and a source marked Production since the form was drawn asks for a confirmation too.
    if marked is _UNASKED:
        marked = Source.production_if_enabled(source.pk)
    if marked is None:
        raise SourceDisabled(source)
    if marked and confirmation is not _UNASKED and not production.names(source, confirmation):
        raise ProductionNotConfirmed(source)
    return bool(marked)


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
    index: list[IndexedMessage] | None = None,
    index_later: Sequence[int | None] | None = None,
    plan: dict[str, Any] | None = None,
    plan_problems: tuple[Problem, ...] = (),
    segment_would: str = "",
    reason: str = "",
    production: bool = False,
) -> Sent:
    entry = log.record_request(
        actor=actor,
        request=request,
        source=source,
        workspace=workspace,
        related_to=related_to,
        relation=relation,
        reason=reason,
        bulk_job_id=bulk_job_id,
        index=index,
        index_later=index_later,
        plan=plan,
        production=production,
    )
    try:
        result = client.send(request, profile=profile)
    except Exception as exc:
        # send() never raises for HTTP or network failures, so this is a bug: still say so
        # on the record rather than leave "no answer recorded".
        log.record_outcome(entry, _crashed(exc), request=request)
        raise
    answer = result.redacted(request.known_secrets())
    log.record_outcome(entry, result, request=request, answer=answer)
    return Sent(
        entry=entry,
        result=result,
        request=request,
        plan_problems=plan_problems,
        segment_would=segment_would,
        answer=answer,
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
