"""Writing realistic audit entries for the audit screens' tests, through the audit log's own
functions (record_request / record_outcome), as the send service would."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import User
from django.http import StreamingHttpResponse

from segadmin.accounts.roles import role_of
from segadmin.audit.log import Actor, record_event, record_outcome, record_request
from segadmin.audit.models import AuditEntry, AuditMessage
from segadmin.credentials.models import Source
from segadmin.segment import client
from segadmin.segment.messages import build_message
from tests import factories

WRITE_KEY = "wk_AUDITviewsSecretKey0123456789"
# A message-index row's own columns, as index_rows reads them by default.
INDEXED = (
    "position",
    "call_type",
    "user_id",
    "anonymous_id",
    "message_id",
    "event",
    "row",
    "email",
)


def actor_for(user: User | None, username: str = "system") -> Actor:
    if user is None:
        return Actor(user=None, username=username, role="system", ip=None, user_agent="")
    return Actor(
        user=user,
        username=user.get_username(),
        role=role_of(user) or "",
        ip="10.0.0.7",
        user_agent="pytest",
    )


def make_events(n: int) -> list[AuditEntry]:
    """``n`` credential events by the system (sources 1000, 1001, ...), for chain tests."""
    actor = Actor.system("tests")
    return [
        record_event(
            actor=actor,
            action="credential.changed",
            target_type="source",
            target_id=1000 + i,
            target_name=f"Source {i}",
            details={"changed": ["name"]},
        )
        for i in range(n)
    ]


def make_source(name: str = "Web", write_key: str = WRITE_KEY, **extra: Any) -> Source:
    """A source named “Web” holding WRITE_KEY unless told otherwise."""
    return factories.make_source(name, write_key, **extra)


def add_call(
    *,
    user: User | None = None,
    source: Source | None = None,
    call_type: str = "track",
    status: int | None = 200,
    error: str = "connection refused",
    answered: bool = True,
    related_to: AuditEntry | None = None,
    relation: str = "",
    response: bytes = b'{"success":true}',
    attempts: int = 1,
    **message: Any,
) -> AuditEntry:
    """One request entry (and its outcome row unless ``answered`` is False).

    ``message`` takes build_message's keywords (user_id=, event=, traits=...); ``status``
    None records a network failure with ``error``.
    """
    if call_type == "track":
        message.setdefault("event", "Order Completed")
    if "user_id" not in message and "anonymous_id" not in message:
        message["user_id"] = "u-1"
    built = build_message(call_type, **message)
    write_key = source.write_key() if source is not None else WRITE_KEY
    request = client.tracking_request(built, write_key=write_key, region="us")
    entry = record_request(
        actor=actor_for(user),
        request=request,
        source=source,
        related_to=related_to,
        relation=relation,
    )
    if answered:
        result = client.SendResult(
            status=status,
            headers={"Content-Type": "application/json"} if status else {},
            body=response if status else b"",
            attempts=attempts,
            duration_ms=42.0,
            error=None if status else error,
        )
        record_outcome(entry, result, request=request)
    return entry


def index_rows(entry: AuditEntry, fields: tuple[str, ...] = INDEXED) -> list[tuple[Any, ...]]:
    """The message-index rows of ``entry`` in their order, each the tuple of ``fields``."""
    return list(AuditMessage.objects.filter(entry=entry).order_by("position").values_list(*fields))


def exported_lines(response: StreamingHttpResponse) -> list[dict[str, Any]]:
    """The records of a JSON Lines audit export, read back from its streamed answer."""
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
