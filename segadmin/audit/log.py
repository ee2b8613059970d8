"""Writing the audit log: who did what, every request to Segment and what came back.

``record_request`` and ``record_outcome`` are for the send service (segadmin/calls/services.py)
only; ``record_event`` is for credential, role and user changes. Nothing written here ever holds a
secret: every stored field goes through ``segadmin.segment.redaction`` (the same functions the
screens use), which masks Authorization, every ``writeKey`` / ``writeKeys`` value, anything in
an answer named like a secret (the Public API lists write keys), and every form of every
secret the request carried.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from axes.helpers import get_client_ip_address
from django.db import connection, transaction

from segadmin.accounts.roles import role_of
from segadmin.audit import chain
from segadmin.audit.models import SEARCH_KEY_LENGTH, AuditEntry, Kind, Outcome, pack_body
from segadmin.segment import redaction

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

    from segadmin.credentials.models import Source, Workspace
    from segadmin.segment.client import SegmentRequest, SendResult

EVENT_ACTIONS = (
    "credential.created",
    "credential.changed",
    "credential.deleted",
    "credential.rotated",
    "credential.imported",
    "role.changed",
    "user.created",
    "user.deleted",
    "user.password_changed",
    "user.activated",
    "user.deactivated",
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
            # As log-in throttling sees it: the connection's address, or the client's as the
            # trusted proxies report it (TRUSTED_PROXY_COUNT), never what a client claims.
            ip=_clean_ip(get_client_ip_address(request)),
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
    """Append a credential, role or user change. May run inside the caller's transaction, so the
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
    entry.details = _json(redaction.redact_json(details)) if details else ""
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
    plan: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append the request entry and COMMIT it, before the request is sent.

    ``plan`` is the source's tracking plan at send time (name, id, revision, enforcement and
    the findings, from the send service): kept under ``details["tracking_plan"]``, which the
    chain hashes, and its count of violations in ``plan_violations`` for the list's filter.

    Refuses (TransactionOpen) inside a transaction: an entry that could still roll back is
    not durable, and the send would hold the transaction open across HTTP.
    """
    ensure_no_transaction()
    secrets = request.known_secrets()
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
    summary = request.summary()
    entry.user_id = _search_key(summary.get("user_id"))
    entry.anonymous_id = _search_key(summary.get("anonymous_id"))
    entry.event = _search_key(summary.get("event"))
    entry.message_id = _search_key(summary.get("message_id"))
    entry.related_to = related_to
    entry.relation = _text(relation, 32)
    entry.bulk_job_id = _text(bulk_job_id, 100) if bulk_job_id else None
    if plan:
        entry.details = _json({"tracking_plan": redaction.redact_json(plan)})
        entry.plan_violations = int(plan.get("violations") or 0)
    with transaction.atomic(durable=True):
        chain.append([entry])
    return entry


def record_outcome(entry: AuditEntry, result: SendResult, *, request: SegmentRequest) -> AuditEntry:
    """Append the outcome row for ``entry`` and copy the outcome onto it, in one transaction.

    Outcome: 2xx is "sent", any other status "rejected by Segment", no answer "failed: <reason>".
    Returns the outcome row; ``entry`` gets the copied values in memory too.
    """
    ensure_no_transaction()
    # The same redacted answer the result panels show (segadmin/calls/present.py).
    answer = result.redacted(request.known_secrets())
    if result.status is None:
        outcome, error = Outcome.FAILED, _text(answer.error or "no answer from Segment", 500)
    elif 200 <= result.status < 300:
        outcome, error = Outcome.SENT, ""
    else:
        outcome, error = Outcome.REJECTED, ""
    row = AuditEntry(kind=Kind.OUTCOME, request_entry=entry)
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


def _built_by_the_client(request: SegmentRequest) -> bool:
    """A tracking message or batch built by ``client.tracking_request``/``batch_request``,
    which name the write key they carry (not a raw call, whose body the person typed)."""
    return request.api == "tracking" and request.call_type != "raw" and bool(request.secrets)


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
