"""The message index: every message inside a recorded request, findable on its own.

A request entry keeps the IDs of its first message in its own (chained) columns; a batch of
500 rows from a bulk import holds 499 more people. ``AuditMessage`` rows (one per message:
user ID, anonymous ID, message ID, event name, call type, the person's email from its traits,
and for an import its row) point back at the entry, so the audit filters and User lookup find
a message wherever it is.

This module turns a request body into those rows' values. It is pure (no database), so the
recorder, the bulk worker (which hands over what it already knows instead of having the bytes
parsed again) and the back-fill migration all derive the same index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# The same width as the entry's searchable columns (models.SEARCH_KEY_LENGTH).
KEY_LENGTH = 255
CALL_TYPE_LENGTH = 64
TRACKING_CALLS = ("identify", "track", "page", "screen", "group", "alias")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# (index field, message key)
_ID_KEYS = (
    ("user_id", "userId"),
    ("anonymous_id", "anonymousId"),
    ("message_id", "messageId"),
    ("event", "event"),
)


@dataclass(frozen=True, slots=True)
class IndexedMessage:
    """One message of a request, as the index stores it (secrets already masked)."""

    position: int  # its place in the body: 0 for a single call, the item's index in a batch
    call_type: str
    user_id: str = ""
    anonymous_id: str = ""
    message_id: str = ""
    event: str = ""
    row: int | None = None  # the file's row, for a message of a bulk import
    email: str = ""  # the person's traits.email, as email_key() keeps it ("" for none)


def key(value: Any) -> str:
    """An ID as its index column holds it: text, no control characters, at most 255 chars;
    "" for what Segment would not take as an ID (objects, lists, booleans, null)."""
    if type(value) is str and len(value) <= KEY_LENGTH and value.isprintable():
        return value  # the usual case, without the regular expression (bulk: 4 per row)
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return _CONTROL.sub("\ufffd", str(value))[:KEY_LENGTH]


def email_key(value: Any) -> str:
    """An email as the index keeps it and a search looks for it: trimmed and lower-cased;
    "" for what is not text with an ``@`` or is longer than the column."""
    if type(value) is not str or "@" not in value:
        return ""
    text = value.strip().lower()
    if not text or len(text) > KEY_LENGTH or not text.isprintable():
        return ""
    return text


def email_of(message: dict[str, Any], call_type: str) -> str:
    """The person's email a message carries: an Identify's ``traits.email``, else (any call)
    ``context.traits.email``. A Group's ``traits`` are the group's, not the person's."""
    if call_type == "identify":
        traits = message.get("traits")
        if isinstance(traits, dict) and "email" in traits:
            return email_key(traits["email"])
    context = message.get("context")
    if isinstance(context, dict):
        traits = context.get("traits")
        if isinstance(traits, dict) and "email" in traits:
            return email_key(traits["email"])
    return ""


def _call_type(message: dict[str, Any], fallback: str) -> str:
    kind = message.get("type")
    if isinstance(kind, str) and kind:
        return _CONTROL.sub("\ufffd", kind)[:CALL_TYPE_LENGTH]
    return fallback


def index_message(
    message: dict[str, Any],
    *,
    position: int,
    call_type: str,
    row: int | None = None,
    scrub: Callable[[str], str] | None = None,
) -> IndexedMessage:
    """The index values of one message; ``scrub`` masks any secret an ID could carry."""
    values = {}
    for name, field in _ID_KEYS:
        text = key(message.get(field))
        values[name] = scrub(text) if scrub is not None and text else text
    kind = _call_type(message, call_type)
    email = email_of(message, kind)
    values["email"] = scrub(email) if scrub is not None and email else email
    return IndexedMessage(position=position, call_type=kind, row=row, **values)


def index_batch(
    messages: Sequence[dict[str, Any]],
    *,
    rows: Sequence[int] | None = None,
    scrub: Callable[[str], str] | None = None,
) -> list[IndexedMessage]:
    """The index of a batch the caller built itself (the bulk worker): no bytes parsed again.
    ``rows[i]`` is the file row of ``messages[i]``."""
    if scrub is not None:
        return [
            index_message(
                message,
                position=position,
                call_type="",
                row=rows[position] if rows is not None else None,
                scrub=scrub,
            )
            for position, message in enumerate(messages)
            if isinstance(message, dict)
        ]
    # The bulk worker's path (thousands of messages a batch): index_message, unrolled.
    found = []
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        get = message.get
        kind = _call_type(message, "")
        found.append(
            IndexedMessage(
                position,
                kind,
                key(get("userId")),
                key(get("anonymousId")),
                key(get("messageId")),
                key(get("event")),
                rows[position] if rows is not None else None,
                email_of(message, kind),
            )
        )
    return found


def index_body(
    body: Any,
    *,
    call_type: str,
    path: str = "",
    scrub: Callable[[str], str] | None = None,
    rows: Sequence[int] | None = None,
) -> list[IndexedMessage]:
    """The index of a Tracking API request body: the items of ``{"batch": [...]}`` (the
    ``/v1/batch`` and ``/v1/import`` shape), else the body itself as one message.

    ``call_type`` is the entry's ("identify", "batch", "raw"...); a message's own ``type``
    wins, and a raw call's path (``/v1/identify``) names the type when the body does not.
    ``rows``: a bulk batch's file row of each item (``unpack_rows`` of what was kept).
    """
    if not isinstance(body, dict):
        return []
    batch = body.get("batch")
    if isinstance(batch, list):
        if rows is not None and len(rows) != len(batch):
            rows = None  # not this body's rows: the messages are indexed without them
        return index_batch(batch, rows=rows, scrub=scrub)
    fallback = call_type
    last = path.rstrip("/").rsplit("/", 1)[-1] if path else ""
    if last in TRACKING_CALLS:
        fallback = last
    return [index_message(body, position=0, call_type=fallback, scrub=scrub)]


def pack_rows(rows: Sequence[int | None]) -> str:
    """A batch's file rows as runs of consecutive rows, "2-1701,1703-1800" (a bulk batch's
    rows are mostly consecutive: a few bytes instead of thousands of numbers); "" when a
    message has no row."""
    if not rows or any(row is None for row in rows):
        return ""
    runs = []
    start = previous = rows[0]
    for row in rows[1:]:
        if row != previous + 1:  # type: ignore[operator]
            runs.append(f"{start}-{previous}" if previous != start else str(start))
            start = row
        previous = row
    runs.append(f"{start}-{previous}" if previous != start else str(start))
    return ",".join(runs)


def unpack_rows(text: str) -> list[int] | None:
    """The rows ``pack_rows`` kept (None for "")."""
    if not text:
        return None
    rows: list[int] = []
    for run in text.split(","):
        first, _, last = run.partition("-")
        rows.extend(range(int(first), int(last or first) + 1))
    return rows


def path_of(url: str) -> str:
    """The path of a request URL, without its query."""
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:].split("?", 1)[0] if slash >= 0 else ""
