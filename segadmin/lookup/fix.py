"""Fix traits: one user's traits before -> after, and the Identify that sends only what changed.

The page is opened from User lookup with a starting point: Segment's current traits (read from
the Profile API when the workspace has a token) or ours (what segadmin has sent). The "before"
of each trait is kept in the session under a token, so previews and refusals do not ask
Segment again. The Identify is built by the one message builder, checked by the one rules
module (the same verdict and words as the Identify screen) and sent by the send service.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from segadmin.segment import values

SESSION_KEY = "segadmin.fix_traits"
MAX_SNAPSHOTS = 10
OURS, SEGMENT = "ours", "segment"
TYPES = (
    (values.TEXT, "text"),
    (values.NUMBER, "number"),
    (values.BOOLEAN, "true/false"),
    (values.DATETIME, "date-time"),
    (values.OBJECT, "object (JSON)"),
    (values.LIST, "list (JSON)"),
)
STARTING_POINTS = (
    "Start from Segment's fills each new value with what Segment holds now (to correct what "
    "is live); start from ours fills it with what segadmin has sent (when Segment's profile "
    "is missing or behind). Either way only the traits you change are sent."
)


def store(request: HttpRequest, snapshot: dict[str, Any]) -> str:
    token = secrets.token_urlsafe(12)
    kept: dict[str, Any] = dict(request.session.get(SESSION_KEY) or {})
    kept[token] = snapshot
    while len(kept) > MAX_SNAPSHOTS:
        kept.pop(next(iter(kept)))
    request.session[SESSION_KEY] = kept
    return token


def load(request: HttpRequest, token: str) -> dict[str, Any] | None:
    snapshot = (request.session.get(SESSION_KEY) or {}).get(token or "")
    return snapshot if isinstance(snapshot, dict) else None


def type_of(value: Any) -> str:
    if isinstance(value, bool):
        return values.BOOLEAN
    if isinstance(value, int | float):
        return values.NUMBER
    if isinstance(value, dict):
        return values.OBJECT
    if isinstance(value, list):
        return values.LIST
    if isinstance(value, str) and values.kind_of_text(value) == values.DATETIME:
        return values.DATETIME
    return values.TEXT


def as_text(value: Any) -> str:
    """A value as the person edits it: text as it is, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def same(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and bool not in (type(a), type(b)):
        return a == b
    return shown(a) == shown(b)


@dataclass
class Row:
    key: str
    segment: Any  # _ABSENT when Segment has none (or was not read)
    ours: Any
    start: Any  # the starting point's value (_ABSENT when it has none)
    type: str
    text: str  # the new value as typed
    unset: bool = False
    new: bool = False  # added on this page
    error: str = ""
    changed: bool = False
    value: Any = None  # the new value, parsed

    @property
    def segment_shown(self) -> str | None:
        return None if self.segment is ABSENT else shown(self.segment)

    @property
    def ours_shown(self) -> str | None:
        return None if self.ours is ABSENT else shown(self.ours)


class _Absent:
    def __repr__(self) -> str:
        return "absent"


ABSENT: Any = _Absent()


def rows_for(snapshot: dict[str, Any]) -> list[Row]:
    """The table as the page opens: one row per trait on either side, the new value filled
    from the starting point."""
    ours: dict[str, Any] = snapshot["ours"]
    theirs: dict[str, Any] | None = snapshot["segment"]
    start = theirs if snapshot["start_from"] == SEGMENT and theirs is not None else ours
    rows = []
    for key in sorted(set(ours) | set(theirs or {})):
        begin = start.get(key, ABSENT)
        other = ours.get(key) if begin is ABSENT else begin
        rows.append(
            Row(
                key=key,
                segment=(theirs or {}).get(key, ABSENT) if theirs is not None else ABSENT,
                ours=ours.get(key, ABSENT),
                start=begin,
                type=type_of(other),
                text=as_text(other) if begin is not ABSENT else "",
            )
        )
    return rows


def read_rows(snapshot: dict[str, Any], data: Any) -> list[Row]:
    """The rows as posted: each new value parsed by its type (segment.values, the editors'
    parser), changed when it differs from the starting point; plus the added trait."""
    rows = rows_for(snapshot)
    for index, row in enumerate(rows):
        row.type = _type(data.get(f"type_{index}"), row.type)
        row.text = str(data.get(f"value_{index}", ""))
        row.unset = bool(data.get(f"unset_{index}"))
        _parse(row)
    name = str(data.get("new_key", "")).strip()
    if name:
        row = Row(
            key=name,
            segment=ABSENT,
            ours=ABSENT,
            start=ABSENT,
            type=_type(data.get("new_type"), values.TEXT),
            text=str(data.get("new_value", "")),
            new=True,
        )
        if any(r.key == name for r in rows):
            row.error = f"“{name}” is in the table already: change it there."
        else:
            _parse(row)
        rows.append(row)
    return rows


def _type(posted: Any, default: str) -> str:
    return posted if posted in dict(TYPES) else default


def _parse(row: Row) -> None:
    if row.unset:
        row.value = None
        row.changed = row.start is not ABSENT or row.segment is not ABSENT
        return
    if row.start is ABSENT and not row.text.strip() and row.type != values.TEXT:
        return  # left empty: nothing to send
    if row.start is ABSENT and not row.text and not row.new:
        return
    try:
        row.value = values.to_type(row.type, row.text)
    except values.ValueInvalid as exc:
        row.error = str(exc)
        row.changed = True
        return
    row.changed = row.start is ABSENT or not same(row.value, row.start)


def traits_to_send(rows: list[Row], *, every: bool) -> dict[str, Any]:
    """The changed traits (``every``: every trait with a value), unset ones as null."""
    chosen: dict[str, Any] = {}
    for row in rows:
        if row.error:
            continue
        if row.changed or (every and (row.unset or row.start is not ABSENT)):
            chosen[row.key] = None if row.unset else row.value
    return chosen
