"""Writing the audit log: who did what, every request to Segment and what came back.

``record_request`` and ``record_outcome`` are for the send service (segadmin/sending/service.py)
only; ``record_event`` is for credential, role and user changes. Nothing written here ever holds a
secret: every stored field goes through ``segadmin.segment.redaction`` (the same functions the
screens use), which masks Authorization, every ``writeKey`` / ``writeKeys`` value, anything in
an answer named like a secret (the Public API lists write keys), and every form of every
secret the request carried.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

# Actor is re-exported: callers have always imported it from here.
from segadmin.accounts.actors import Actor as Actor  # re-exported: callers record as an Actor
from segadmin.accounts.actors import clean_ip as _clean_ip
from segadmin.audit import chain, counts
from segadmin.audit.index import IndexedMessage, index_body, pack_rows, path_of
from segadmin.audit.models import (
    SEARCH_KEY_LENGTH,
    AuditEntry,
    Kind,
    Outcome,
    PendingIndex,
    fill_outcome_statement,
    pack_body,
)
from segadmin.audit.writes import ENTRY_ID, Statement
from segadmin.segment import redaction

if TYPE_CHECKING:
    from segadmin.credentials.models import Source, Workspace
    from segadmin.segment.client import SegmentRequest, SendResult
    from segadmin.segment.redaction import RedactedAnswer

EVENT_ACTIONS = (
    "credential.created",
    "credential.changed",
    "credential.deleted",
    "credential.rotated",
    "credential.imported",
    "tracking_plans.imported",
    "role.changed",
    "user.created",
    "user.deleted",
    "user.password_changed",
    "user.activated",
    "user.deactivated",
    "user.limits_changed",
    "user.second_factor_added",
    "user.second_factor_removed",
    "user.recovery_codes_regenerated",
    "user.second_factor_failed",
    "user.second_factor_reset",
    "access.refused",
    "user.logged_in",
    "user.login_failed",
    "user.reauthenticated",
    "user.password_failed",
    "approval.requested",
    "approval.approved",
    "approval.rejected",
    "privacy.requested",
    "privacy.not_sent",
    "privacy.status_changed",
    "privacy.files_purged",
    "privacy.call_released",
    "bulk.files_purged",
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TransactionOpen(RuntimeError):
    """The send service was called inside a database transaction."""

    def __init__(self) -> None:
        super().__init__(
            "Requests to Segment must not be sent inside a database transaction: the audit "
            "entry has to be committed before the request leaves, and no transaction may stay "
            "open while waiting for Segment. Call the send service outside transaction.atomic()."
        )


def record_event(
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | int,
    target_name: str,
    details: dict[str, Any] | None = None,
    index: Sequence[IndexedMessage] | None = None,
) -> AuditEntry:
    """Append a credential, role or user change. May run inside the caller's transaction, so the
    change and its entry commit (or roll back) together.

    A target_type of "source" or "workspace" also files the entry under that source or
    workspace. Values under secret-looking keys in ``details`` are masked. ``index``: message
    index rows for the people the event names (a privacy request's IDs), so each person's
    User lookup finds it.
    """
    if action not in EVENT_ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}; expected one of {EVENT_ACTIONS}")
    entry = _new_entry(Kind.EVENT, actor)
    entry.action = action
    entry.target_type = _text(target_type, 32)
    entry.target_id = _text(str(target_id), 64)
    entry.target_name = _text(target_name, 255)
    entry.details = _json(redaction.redact_json(details)) if details else ""
    if target_type in ("source", "workspace"):
        _file_under(entry, target_type, target_id, target_name)
    if index:
        with transaction.atomic():
            chain.append([entry])
            _record_index(entry, index)
        return entry
    chain.append([entry])
    return entry


def record_request(
    *,
    actor: Actor,
    request: SegmentRequest,
    source: Source | None = None,
    workspace: Workspace | None = None,
    related_to: AuditEntry | None = None,
    relation: str = "",
    bulk_job_id: str | None = None,
    index: Sequence[IndexedMessage] | None = None,
    index_later: Sequence[int | None] | None = None,
    plan: dict[str, Any] | None = None,
    reason: str = "",
    production: bool = False,
) -> AuditEntry:
    """Append the request entry, and one message-index row per message it carries, and
    COMMIT them, before the request is sent.

    ``index``: the messages' index values when the caller built the body itself and knows
    them (the bulk worker, with each message's file row); otherwise they are read from the
    body. Refuses (TransactionOpen) inside a transaction: an entry that could still roll back
    is not durable, and the send would hold the transaction open across HTTP.

    ``index_later``: the file row of each message of a bulk batch. Its index rows are then
    not written now but a ``PendingIndex`` row is (``segadmin.audit.backlog.catch_up`` writes
    them from the stored body after the import); ``index`` need only hold the first message
    (the entry's own ID columns).

    ``plan`` is the source's tracking plan at send time (name, id, revision, enforcement and
    the findings, from the send service): kept under ``details["tracking_plan"]``, which the
    chain hashes, and its count of violations in ``plan_violations`` for the list's filter.

    ``reason`` is why the person sent it, in their words (optional on the call screens,
    required by Fix traits): kept with the request's secrets and any named secret masked.

    ``production``: the source is a Production one and the sender confirmed it (issue 16):
    ``details["production"]`` says so, hashed with the rest.
    """
    ensure_no_transaction()
    secrets = request.known_secrets()
    entry = _new_entry(Kind.REQUEST, actor)
    if source is not None:
        entry.source = source
        entry.source_ref, entry.source_name = str(source.pk), _text(source.name, 255)
    if workspace is not None:
        entry.workspace = workspace
        entry.workspace_ref, entry.workspace_name = str(workspace.pk), _text(workspace.name, 255)
    entry.api = request.api
    entry.call_type = _text(request.call_type, 64)
    entry.method = _text(request.method, 16)
    if _built_by_the_client(request):
        # A message or batch the client encoded itself: its only secret is the write key it
        # was given, so masking every form of it in the bytes sent is enough, and costs a few
        # C-level replaces instead of a walk over every value of a 500 KB batch.
        entry.url = redaction.scrub_text(request.url, secrets)
        entry.request_headers = _json(redaction.redact_headers(request.headers, secrets))
        entry.request_body = pack_body(
            redaction.scrub_bytes(request.decoded_body() or b"", secrets)
        )
    else:
        redacted = request.redacted()
        entry.url = redacted["url"]
        entry.request_headers = _json(redacted["headers"])
        entry.request_body = pack_body(_json(redacted["body"]).encode())
    messages = _messages_of(request, index, secrets)
    # The entry's own ID columns are its first message's, as the index has them (for a bulk
    # batch this spares parsing its 500 KB body again).
    first = messages[0] if messages and messages[0].position == 0 else None
    if first is not None:
        entry.user_id, entry.anonymous_id = first.user_id, first.anonymous_id
        entry.event, entry.message_id = first.event, first.message_id
    entry.related_to = related_to
    entry.relation = _text(relation, 32)
    entry.reason = clean_reason(reason, secrets)
    entry.bulk_job_id = _text(bulk_job_id, 100) if bulk_job_id else None
    details: dict[str, Any] = {}
    if plan:
        details["tracking_plan"] = redaction.redact_json(plan)
        entry.plan_violations = int(plan.get("violations") or 0)
    if production:
        details["production"] = "confirmed"
    if details:
        entry.details = _json(details)
    with transaction.atomic(durable=True):
        if index_later is not None:
            chain.append([entry])
            PendingIndex.objects.create(
                entry=entry, seq=entry.seq, rows=pack_rows(index_later), messages=len(index_later)
            )
        elif len(messages) <= _INDEX_ROWS_PER_INSERT:  # the index's one INSERT goes with the row
            chain.append([entry], then=lambda e: _index_statements(messages, ENTRY_ID, e.seq))
        else:
            chain.append([entry])
            _record_index(entry, messages)
    return entry


def _messages_of(
    request: SegmentRequest, given: Sequence[IndexedMessage] | None, secrets: list[str]
) -> list[IndexedMessage]:
    """Every message of a Tracking API request (or the rows the caller gives, e.g. the IDs a
    privacy request names), with any secret in its IDs masked."""
    if given is None and request.api != "tracking":
        return []
    if given is None:
        given = index_body(
            request.body_object(), call_type=request.call_type, path=path_of(request.url)
        )
    forms = redaction.forms_of(secrets)  # once, not per value
    values = "\n".join(
        f"{item.user_id}\n{item.anonymous_id}\n{item.message_id}\n{item.event}\n{item.email}"
        for item in given
    )
    if not any(form in values for form in forms):
        return list(given)  # the usual case: one search over all the IDs at once

    def scrub(text: str) -> str:
        for form in forms:
            if form in text:
                text = text.replace(form, redaction.MASK)
        return text

    return [
        IndexedMessage(
            position=item.position,
            call_type=item.call_type,
            user_id=scrub(item.user_id),
            anonymous_id=scrub(item.anonymous_id),
            message_id=scrub(item.message_id),
            event=scrub(item.event),
            row=item.row,
            email=scrub(item.email),
        )
        for item in given
    ]


# The message index's columns, quoted for SQLite and PostgreSQL alike.
_INSERT_INDEX = (
    'INSERT INTO "audit_auditmessage" ("entry_id", "seq", "position", "call_type", "user_id", '
    '"anonymous_id", "message_id", "event", "row", "email") VALUES '
)
_INDEX_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
_COPY_INDEX = (
    'COPY "audit_auditmessage" ("entry_id", "seq", "position", "call_type", "user_id", '
    '"anonymous_id", "message_id", "event", "row", "email") FROM STDIN'
)
# Rows per INSERT: 5,000 parameters, within every supported database's limit.
_INDEX_ROWS_PER_INSERT = 500


def _record_index(entry: AuditEntry, messages: Sequence[IndexedMessage]) -> None:
    write_index(entry.pk, entry.seq, messages)


def write_index(pk: int, seq: int, messages: Sequence[IndexedMessage]) -> None:
    """Insert the index rows of entry ``pk`` (sequence number ``seq``), in the caller's
    transaction: on PostgreSQL in one ``COPY``, elsewhere 500 to a multi-row INSERT of plain
    values.

    Not ``bulk_create``: its per-field preparation took 0.37 s for a bulk batch of 1,700 rows
    (measured), ten times the insert itself. On PostgreSQL, not the 500-row INSERTs either:
    the 100,000 IDs of a privacy request took 200 of them, 16-24 s at load 7 (binding and
    parsing 5,000 parameters a statement), against 1.6-2.2 s for the COPY. On SQLite they
    stay: ``executemany`` of a one-row INSERT measured 20-60 % slower (bench/README.md).
    """
    if not messages:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(_COPY_INDEX) as copy:
                for item in messages:
                    copy.write_row(_index_row(pk, seq, item))
            return
        for statement in _index_statements(messages, pk, seq):
            cursor.execute(statement.sql, statement.params)


def _index_row(pk: Any, seq: int, item: IndexedMessage) -> tuple[Any, ...]:
    return (
        pk,
        seq,
        item.position,
        item.call_type,
        item.user_id or None,  # NULL: not in the column's partial index
        item.anonymous_id or None,
        item.message_id or None,
        item.event or None,
        item.row,
        item.email or None,
    )


def _index_statements(messages: Sequence[IndexedMessage], pk: Any, seq: int) -> list[Statement]:
    """The INSERTs of ``_record_index`` for entry ``pk`` (``ENTRY_ID``: the one
    ``chain.append`` inserts with them) at ``seq``."""
    statements = []
    for start in range(0, len(messages), _INDEX_ROWS_PER_INSERT):
        part = messages[start : start + _INDEX_ROWS_PER_INSERT]
        params: list[Any] = []
        for item in part:
            params += _index_row(pk, seq, item)
        sql = _INSERT_INDEX + ", ".join([_INDEX_ROW] * len(part))
        statements.append(Statement(sql, params))
    return statements


def record_outcome(
    entry: AuditEntry,
    result: SendResult,
    *,
    request: SegmentRequest,
    answer: RedactedAnswer | None = None,
) -> AuditEntry:
    """Append the outcome row for ``entry`` and copy the outcome onto it, in one transaction.

    Outcome: 2xx is "sent", any other status "rejected by Segment", no answer "failed: <reason>".
    Returns the outcome row; ``entry`` gets the copied values in memory too. ``answer``:
    ``result.redacted(request.known_secrets())`` when the caller has made it (the send service,
    which hands the same to the result panel).
    """
    ensure_no_transaction()
    # The same redacted answer the result panels show (segadmin/calls/present.py).
    if answer is None:
        answer = result.redacted(request.known_secrets())
    if result.status is None:
        outcome, error = Outcome.FAILED, _text(answer.error or "no answer from Segment", 500)
    elif 200 <= result.status < 300:
        outcome, error = Outcome.SENT, ""
    else:
        outcome, error = Outcome.REJECTED, ""
    row = _new_entry(Kind.OUTCOME)
    row.request_entry = entry
    row.outcome, row.error, row.response_status = outcome, error, result.status
    row.attempts, row.duration_ms = result.attempts, float(result.duration_ms)
    row.response_headers = _json(answer.headers)
    row.response_body = pack_body(answer.body)
    copy = {
        "outcome": outcome,
        "error": error,
        "response_status": result.status,
        "attempts": result.attempts,
        "duration_ms": row.duration_ms,
    }
    fill = fill_outcome_statement(entry.pk, copy)
    # The dashboard's kept counts move with it (undone with the rest if the copy was there).
    moved = counts.answered_statements(entry, outcome)
    with transaction.atomic(durable=True):
        chain.append([row], then=lambda _row: [fill, *moved])
        if fill.rowcount != 1:
            raise RuntimeError(f"Audit entry {entry.pk} already has an outcome")
    for name, value in copy.items():
        setattr(entry, name, value)
    return row


REASON_MAX = 500


def clean_reason(reason: str | None, secrets: Sequence[str] = ()) -> str:
    """A Reason as the audit log keeps it: one line of text, secrets masked, at most 500
    characters."""
    text = " ".join((reason or "").split())
    return _text(redaction.redact_note(text, secrets), REASON_MAX)


def ensure_no_transaction() -> None:
    """Raise TransactionOpen inside an atomic block (the test runner's own blocks excepted)."""
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise TransactionOpen


def _built_by_the_client(request: SegmentRequest) -> bool:
    """A tracking message or batch built by ``client.tracking_request``/``batch_request``,
    which name the write key they carry (not a raw call, whose body the person typed)."""
    return request.api == "tracking" and request.call_type != "raw" and bool(request.secrets)


# --- small helpers --------------------------------------------------------------------------


# Every column's default, in the model's column order: text, bytes, numbers and None, none
# of them mutable, so every new entry may share them.
_DEFAULTS = tuple(field.get_default() for field in AuditEntry._meta.concrete_fields)


def _new_entry(kind: str, actor: Actor | None = None) -> AuditEntry:
    """A new, unsaved entry of ``kind`` by ``actor`` (None: an outcome row, which names no
    one), every other column at its default.

    Built from the defaults as positional values, the way Django builds a row read from the
    database: ``AuditEntry(kind=..., username=...)`` looks each of the 46 columns up among the
    keywords (a KeyError for nearly all) before calling its default, which took 0.24 ms of
    each of a send's two entries in the call screens' benchmark.
    """
    entry = AuditEntry(*_DEFAULTS)  # type: ignore[misc]  # positional: django-stubs types keywords
    entry.kind = kind
    if actor is not None:
        entry.actor_user = actor.user
        entry.username = _text(actor.username, 150)
        entry.role = _text(actor.role, 32)
        entry.ip = _clean_ip(actor.ip) or ""
        entry.user_agent = _text(actor.user_agent, 500)
    return entry


def _file_under(entry: AuditEntry, kind: str, target_id: str | int, name: str) -> None:
    from segadmin.credentials.models import Source, Workspace

    model = Source if kind == "source" else Workspace
    pk = int(target_id) if str(target_id).isdigit() else None
    # The FK only when the row still exists (a deletion may be recorded after the fact).
    exists = pk is not None and model.objects.filter(pk=pk).exists()
    if kind == "source":
        entry.source_id = pk if exists else None
        entry.source_ref, entry.source_name = _text(str(target_id), 64), _text(name, 255)
    else:
        entry.workspace_id = pk if exists else None
        entry.workspace_ref, entry.workspace_name = _text(str(target_id), 64), _text(name, 255)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _text(value: Any, limit: int) -> str:
    """Text safe for any database column: no control characters, at most ``limit`` chars."""
    if value is None:
        return ""
    return _CONTROL.sub("\ufffd", str(value))[:limit]


def _search_key(value: Any) -> str:
    return _text(value, SEARCH_KEY_LENGTH) if value is not None else ""


def search_key(value: str) -> str:
    """What a searched user ID / anonymous ID / event / message ID looks like in its column."""
    return _search_key(value)
