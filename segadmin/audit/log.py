"""Writing the audit log: who did what, every request to Segment and what came back.

``record_request`` and ``record_outcome`` are for the send service (segadmin/calls/services.py)
only; ``record_event`` is for credential and role changes. Nothing written here ever holds a
secret: the request arrives redacted by the client, JSON bodies have every ``writeKey`` /
``writeKeys`` value masked (the Public API lists write keys), and every secret the request
carried is scrubbed from every stored field, also in its base64 forms.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

from segadmin.accounts.roles import role_of
from segadmin.audit import chain
from segadmin.audit.index import IndexedMessage, index_body, path_of
from segadmin.audit.models import (
    SEARCH_KEY_LENGTH,
    AuditEntry,
    Kind,
    Outcome,
    pack_body,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

    from segadmin.credentials.models import Source, Workspace
    from segadmin.segment.client import SegmentRequest, SendResult

MASK = "****"
EVENT_ACTIONS = (
    "credential.created",
    "credential.changed",
    "credential.deleted",
    "credential.rotated",
    "credential.imported",
    "role.changed",
)
# Keys whose values are masked in responses and event details (the Public API lists write
# keys); in request bodies only write keys are, so the traits people send stay readable.
_SECRET_KEY_NAMES = re.compile(
    r"^(write_?keys?|token|access_?token|secret|password|authorization|api_?key)$", re.I
)
_WRITE_KEY_NAMES = re.compile(r"^write_?keys?$", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TransactionOpen(RuntimeError):
    """The send service was called inside a database transaction."""

    def __init__(self) -> None:
        super().__init__(
            "Requests to Segment must not be sent inside a database transaction: the audit "
            "entry has to be committed before the request leaves, and no transaction may stay "
            "open while waiting for Segment. Call the send service outside transaction.atomic()."
        )


@dataclass(frozen=True)
class Actor:
    """Who did it, kept as text so it survives the user's deletion."""

    user: User | None
    username: str
    role: str
    ip: str | None
    user_agent: str

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = request.user if request.user.is_authenticated else None
        return cls(
            user=user,  # type: ignore[arg-type]
            username=user.get_username() if user else "",
            role=(role_of(user) or "") if user else "",
            # REMOTE_ADDR only: X-Forwarded-For is whatever the client says.
            ip=_clean_ip(request.META.get("REMOTE_ADDR")),
            user_agent=_text(request.headers.get("User-Agent", ""), 500),
        )

    @classmethod
    def system(cls, name: str) -> Actor:
        """A command or worker acting on its own, e.g. Actor.system("rotate_keys")."""
        return cls(user=None, username=name, role="system", ip=None, user_agent="")


def record_event(
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | int,
    target_name: str,
    details: dict | None = None,
) -> AuditEntry:
    """Append a credential or role change. May run inside the caller's transaction, so the
    change and its entry commit (or roll back) together.

    A target_type of "source" or "workspace" also files the entry under that source or
    workspace. Values under secret-looking keys in ``details`` are masked.
    """
    if action not in EVENT_ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}; expected one of {EVENT_ACTIONS}")
    entry = AuditEntry(kind=Kind.EVENT, action=action, **_who(actor))
    entry.target_type = _text(target_type, 32)
    entry.target_id = _text(str(target_id), 64)
    entry.target_name = _text(target_name, 255)
    entry.details = _json(_mask_secret_keys(details)) if details else ""
    if target_type in ("source", "workspace"):
        _file_under(entry, target_type, target_id, target_name)
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
) -> AuditEntry:
    """Append the request entry, and one message-index row per message it carries, and
    COMMIT them, before the request is sent.

    ``index``: the messages' index values when the caller built the body itself and knows
    them (the bulk worker, with each message's file row); otherwise they are read from the
    body. Refuses (TransactionOpen) inside a transaction: an entry that could still roll back
    is not durable, and the send would hold the transaction open across HTTP.
    """
    ensure_no_transaction()
    secrets = secrets_of(request)
    entry = AuditEntry(kind=Kind.REQUEST, **_who(actor))
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
        entry.url = _scrub_text(request.url, secrets)
        entry.request_headers = _scrub_text(_json(request.redacted_headers()), secrets)
        entry.request_body = pack_body(_scrub_bytes(request.decoded_body() or b"", secrets))
    else:
        redacted = request.redacted()
        entry.url = _scrub_text(redacted.get("url") or request.url, secrets)
        entry.request_headers = _scrub_text(_json(redacted.get("headers") or {}), secrets)
        body = _mask_secret_keys(redacted.get("body"), _WRITE_KEY_NAMES)
        entry.request_body = pack_body(_scrub_text(_json(body), secrets).encode())
    messages = _messages_of(request, index, secrets)
    # The entry's own ID columns are its first message's, as the index has them (for a bulk
    # batch this spares parsing its 500 KB body again).
    first = messages[0] if messages and messages[0].position == 0 else None
    if first is not None:
        entry.user_id, entry.anonymous_id = first.user_id, first.anonymous_id
        entry.event, entry.message_id = first.event, first.message_id
    entry.related_to = related_to
    entry.relation = _text(relation, 32)
    entry.bulk_job_id = _text(bulk_job_id, 100) if bulk_job_id else None
    with transaction.atomic(durable=True):
        chain.append([entry])
        _record_index(entry, messages)
    return entry


def _messages_of(
    request: SegmentRequest, given: Sequence[IndexedMessage] | None, secrets: list[str]
) -> list[IndexedMessage]:
    """Every message of a Tracking API request, with any secret in its IDs masked."""
    if request.api != "tracking":
        return []
    if given is None:
        given = index_body(
            request.body_object(), call_type=request.call_type, path=path_of(request.url)
        )
    forms = [form for secret in secrets for form in _forms(secret)]  # once, not per value
    values = "\n".join(
        f"{item.user_id}\n{item.anonymous_id}\n{item.message_id}\n{item.event}" for item in given
    )
    if not any(form in values for form in forms):
        return list(given)  # the usual case: one search over all the IDs at once

    def scrub(text: str) -> str:
        for form in forms:
            if form in text:
                text = text.replace(form, MASK)
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
        )
        for item in given
    ]


# The message index's columns, quoted for SQLite and PostgreSQL alike.
_INSERT_INDEX = (
    'INSERT INTO "audit_auditmessage" ("entry_id", "seq", "position", "call_type", "user_id", '
    '"anonymous_id", "message_id", "event", "row") VALUES '
)
_INDEX_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
# Rows per INSERT: 5,000 parameters, within every supported database's limit.
_INDEX_ROWS_PER_INSERT = 500


def _record_index(entry: AuditEntry, messages: Sequence[IndexedMessage]) -> None:
    """Insert the entry's index rows, 500 to a multi-row INSERT of plain values.

    Not ``bulk_create``: its per-field preparation took 0.37 s for a bulk batch of 1,700 rows
    (measured), ten times the insert itself, on the bulk worker's critical path.
    """
    pk, seq = entry.pk, entry.seq
    with connection.cursor() as cursor:
        for start in range(0, len(messages), _INDEX_ROWS_PER_INSERT):
            part = messages[start : start + _INDEX_ROWS_PER_INSERT]
            params: list[Any] = []
            for item in part:
                params += (
                    pk,
                    seq,
                    item.position,
                    item.call_type,
                    item.user_id or None,  # NULL: not in the column's partial index
                    item.anonymous_id or None,
                    item.message_id or None,
                    item.event or None,
                    item.row,
                )
            cursor.execute(_INSERT_INDEX + ", ".join([_INDEX_ROW] * len(part)), params)


def record_outcome(entry: AuditEntry, result: SendResult, *, request: SegmentRequest) -> AuditEntry:
    """Append the outcome row for ``entry`` and copy the outcome onto it, in one transaction.

    Outcome: 2xx is "sent", any other status "rejected by Segment", no answer "failed: <reason>".
    Returns the outcome row; ``entry`` gets the copied values in memory too.
    """
    ensure_no_transaction()
    secrets = secrets_of(request)
    if result.status is None:
        outcome, error = Outcome.FAILED, _text(result.error or "no answer from Segment", 500)
    elif 200 <= result.status < 300:
        outcome, error = Outcome.SENT, ""
    else:
        outcome, error = Outcome.REJECTED, ""
    error = _scrub_text(error, secrets)
    row = AuditEntry(kind=Kind.OUTCOME, request_entry=entry)
    row.outcome, row.error, row.response_status = outcome, error, result.status
    row.attempts, row.duration_ms = result.attempts, float(result.duration_ms)
    row.response_headers = _scrub_text(_json(dict(result.headers)), secrets)
    row.response_body = pack_body(_scrub_bytes(_redact_response_body(result.body), secrets))
    copy = {
        "outcome": outcome,
        "error": error,
        "response_status": result.status,
        "attempts": result.attempts,
        "duration_ms": row.duration_ms,
    }
    with transaction.atomic(durable=True):
        chain.append([row])
        filled = AuditEntry.objects.filter(pk=entry.pk)._fill_outcome_copy(**copy)
        if filled != 1:
            raise RuntimeError(f"Audit entry {entry.pk} already has an outcome")
    for name, value in copy.items():
        setattr(entry, name, value)
    return row


def ensure_no_transaction() -> None:
    """Raise TransactionOpen inside an atomic block (the test runner's own blocks excepted)."""
    if any(not block._from_testcase for block in connection.atomic_blocks):
        raise TransactionOpen


# --- secrets --------------------------------------------------------------------------------


def secrets_of(request: SegmentRequest) -> list[str]:
    """Every secret the request carries: the ones the client says it holds, the Authorization
    credential and body writeKeys."""
    found: set[str] = {s for s in getattr(request, "secrets", ()) if s}
    for name, value in request.headers.items():
        if name.lower() != "authorization":
            continue
        scheme, _, credential = value.partition(" ")
        credential = credential.strip()
        if not credential:
            continue
        found.add(credential)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode()
            except ValueError:
                continue
            user, _, password = decoded.partition(":")
            found.update(part for part in (decoded, user, password) if part)
    if request.body and not _built_by_the_client(request):
        found.update(_write_keys(request.body_object()))
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def _built_by_the_client(request: SegmentRequest) -> bool:
    """A tracking message or batch built by ``client.tracking_request``/``batch_request``,
    which name the write key they carry (not a raw call, whose body the person typed)."""
    return request.api == "tracking" and request.call_type != "raw" and bool(request.secrets)


def _write_keys(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "writeKey" and isinstance(item, str):
                yield item
            else:
                yield from _write_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _write_keys(item)


def _forms(secret: str) -> list[str]:
    """The secret and the encodings it could hide in."""
    raw = secret.encode()
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    for data in (raw, raw + b":"):
        forms.add(base64.b64encode(data).decode())
        forms.add(base64.b64encode(data).decode().rstrip("="))
        forms.add(base64.urlsafe_b64encode(data).decode().rstrip("="))
    return sorted(forms, key=len, reverse=True)


def _scrub_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        for form in _forms(secret):
            text = text.replace(form, MASK)
    return text


def _scrub_bytes(data: bytes, secrets: Iterable[str]) -> bytes:
    for secret in secrets:
        for form in _forms(secret):
            data = data.replace(form.encode(), MASK.encode())
    return data


def _mask_secret_keys(value: Any, names: re.Pattern[str] = _SECRET_KEY_NAMES) -> Any:
    """Mask every value under a secret-looking key (writeKey, writeKeys, token, ...)."""
    if isinstance(value, dict):
        return {
            key: (_masked(item) if names.match(str(key)) else _mask_secret_keys(item, names))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask_secret_keys(item, names) for item in value]
    return value


def _masked(value: Any) -> Any:
    if isinstance(value, list):
        return [MASK if item else item for item in value]
    return MASK if value not in (None, "") else value


def _redact_response_body(body: bytes) -> bytes:
    # The Public API answers with sources' write keys: mask them before the body is stored.
    if b"writeKey" not in body and b"token" not in body.lower():
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return json.dumps(_mask_secret_keys(parsed), ensure_ascii=False).encode()


# --- small helpers --------------------------------------------------------------------------


def _who(actor: Actor) -> dict[str, Any]:
    return {
        "actor_user": actor.user,
        "username": _text(actor.username, 150),
        "role": _text(actor.role, 32),
        "ip": _clean_ip(actor.ip) or "",
        "user_agent": _text(actor.user_agent, 500),
    }


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


def _clean_ip(value: Any) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None
