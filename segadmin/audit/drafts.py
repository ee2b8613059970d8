"""Drafts: a call screen opened already filled in ("Edit and send", "Fix traits").

The audit entry page (or the user lookup) stores the values in the person's session under a
random token and redirects to e.g. ``/calls/identify/?draft=<token>``. The call screen reads
them as its form's initial values and carries the token in a hidden field, so the send it
makes is recorded linked to the original entry. Values live in the session (the database),
never in the URL: a URL with traits in it would end up in logs and browser history.
"""

from __future__ import annotations

import secrets
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils import timezone

from segadmin.audit.models import AuditEntry
from segadmin.segment import datetimes

SESSION_KEY = "segadmin.call_drafts"
MAX_DRAFTS = 20
EDIT_AND_SEND = "edit and send"
SEND_AGAIN = "send again"

# Message keys -> the call forms' field names.
MESSAGE_FIELDS = {
    "userId": "user_id",
    "anonymousId": "anonymous_id",
    "timestamp": "timestamp",
    "context": "context",
    "integrations": "integrations",
    "traits": "traits",
    "properties": "properties",
    "event": "event",
    "name": "name",
    "category": "category",
    "groupId": "group_id",
    "previousId": "previous_id",
}


def initial_from_message(message: dict[str, Any], *, source_id: int | None) -> dict[str, Any]:
    """A call form's initial values from a message as it was sent, without its message ID
    (a new one is generated) or the ``context.library`` segadmin adds by itself."""
    initial: dict[str, Any] = {}
    if source_id is not None:
        initial["source"] = source_id
    for key, field in MESSAGE_FIELDS.items():
        if key not in message or message[key] is None:
            continue
        value = message[key]
        if key == "context" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "library"}
        if key in ("userId", "anonymousId", "groupId", "previousId"):
            value = str(value)
        initial[field] = value
    return initial


def store(
    request: HttpRequest,
    *,
    call_type: str,
    initial: dict[str, Any],
    related_to: AuditEntry | None = None,
    relation: str = "",
) -> str:
    """Keep a draft in the session and return its token."""
    token = secrets.token_urlsafe(12)
    drafts: dict[str, Any] = dict(request.session.get(SESSION_KEY) or {})
    drafts[token] = {
        "call_type": call_type,
        "initial": initial,
        "related_to": related_to.pk if related_to is not None else None,
        "relation": relation if related_to is not None else "",
        "created": timezone.now().isoformat(),
    }
    # Oldest first (dicts keep insertion order): forget the oldest beyond the limit.
    while len(drafts) > MAX_DRAFTS:
        drafts.pop(next(iter(drafts)))
    request.session[SESSION_KEY] = drafts
    return token


def _draft(request: HttpRequest, token: str, call_type: str) -> dict[str, Any] | None:
    if not token:
        return None
    draft = (request.session.get(SESSION_KEY) or {}).get(token)
    if not isinstance(draft, dict) or draft.get("call_type") != call_type:
        return None
    return draft


def initial_for(request: HttpRequest, call_type: str) -> tuple[str, dict[str, Any]]:
    """``(token, initial)`` for the draft named by ``?draft=`` on this call screen, or
    ``("", {})``. Timestamps come back as aware datetimes in UTC."""
    token = request.GET.get("draft", "")
    draft = _draft(request, token, call_type)
    if draft is None:
        return "", {}
    initial = dict(draft["initial"])
    stamp = initial.get("timestamp")
    if isinstance(stamp, str):
        try:
            parsed = datetimes.parse_instant(stamp)
        except datetimes.DateTimeInvalid:
            initial.pop("timestamp")  # the form never guesses a time zone: leave it empty
        else:
            # zoneinfo's UTC, not datetime.UTC: the timestamp widget shows the zone's key.
            initial["timestamp"] = parsed.astimezone(ZoneInfo("UTC"))
    return token, initial


def link_for(request: HttpRequest, call_type: str) -> dict[str, Any]:
    """The ``related_to``/``relation`` arguments for ``sending.send_message`` when the posted
    form came from a draft of an audit entry (hidden field ``draft``), else ``{}``."""
    draft = _draft(request, request.POST.get("draft", ""), call_type)
    if draft is None or not draft.get("related_to"):
        return {}
    entry = AuditEntry.objects.filter(pk=draft["related_to"]).first()
    if entry is None:
        return {}
    return {"related_to": entry, "relation": draft.get("relation") or EDIT_AND_SEND}


def token_for(request: HttpRequest, call_type: str) -> str:
    """The draft token to carry in the form's hidden field (from ``?draft=`` or the POST)."""
    token = request.POST.get("draft", "") or request.GET.get("draft", "")
    return token if _draft(request, token, call_type) is not None else ""
