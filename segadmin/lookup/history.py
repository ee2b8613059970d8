"""What segadmin has sent for one Segment user: the calls, and the traits they add up to.

Read from the audit log only: request bodies are stored redacted and nothing is decrypted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from segadmin.audit.filters import identity_q
from segadmin.audit.models import AuditEntry, AuditEntryQuerySet, Outcome

TIMELINE_SIZE = 100
# Folding needs every Identify; past this many (newest kept) the page says it stopped.
MAX_IDENTIFIES = 1000
IDENTIFIER_TYPES = (("user_id", "User ID"), ("anonymous_id", "Anonymous ID"))


@dataclass(frozen=True)
class Identify:
    entry: AuditEntry
    traits: dict[str, Any]
    counted: bool  # sent: it changed the profile; rejected or unanswered ones did not


@dataclass
class History:
    timeline: list[AuditEntry] = field(default_factory=list)
    more: bool = False
    identifies: list[Identify] = field(default_factory=list)  # newest first
    traits: dict[str, Any] = field(default_factory=dict)  # after every sent Identify
    truncated: bool = False

    @property
    def latest_source_id(self) -> int | None:
        for entry in self.timeline:
            if entry.source_id is not None:
                return entry.source_id
        return None


def fold_traits(identifies: list[dict[str, Any]]) -> dict[str, Any]:
    """Traits after these Identify calls (oldest first): later values win, ``null`` unsets."""
    traits: dict[str, Any] = {}
    for update in identifies:
        for key, value in update.items():
            if value is None:
                traits.pop(key, None)
            else:
                traits[key] = value
    return traits


def _traits_of(entry: AuditEntry) -> dict[str, Any]:
    try:
        body = entry.request_body_data
    except ValueError:
        return {}
    traits = body.get("traits") if isinstance(body, dict) else None
    return traits if isinstance(traits, dict) else {}


def history(
    entries: AuditEntryQuerySet, identifier_type: str, identifier: str, *, columns: tuple[str, ...]
) -> History:
    """The timeline (newest first) and the Identify history of one user, from ``entries``
    (already narrowed to what the person may read)."""
    mine = entries.filter(identity_q(identifier_type, identifier))
    rows = list(mine.only(*columns).order_by("-seq")[: TIMELINE_SIZE + 1])
    found = History(timeline=rows[:TIMELINE_SIZE], more=len(rows) > TIMELINE_SIZE)
    identify_rows = list(
        mine.filter(call_type="identify", api="tracking")
        .only(*columns, "request_body")
        .order_by("-seq")[: MAX_IDENTIFIES + 1]
    )
    found.truncated = len(identify_rows) > MAX_IDENTIFIES
    identify_rows = identify_rows[:MAX_IDENTIFIES]
    found.identifies = [
        Identify(row, _traits_of(row), row.outcome == Outcome.SENT) for row in identify_rows
    ]
    found.traits = fold_traits([i.traits for i in reversed(found.identifies) if i.counted])
    return found


@dataclass(frozen=True)
class TraitRow:
    key: str
    ours: str | None  # JSON text, None when absent
    theirs: str | None
    state: str  # "same", "different", "only ours", "only Segment"


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _equal(a: Any, b: Any) -> bool:
    # 3 and 3.0 are the same number in JSON; True is not 1.
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and bool not in (type(a), type(b)):
        return a == b
    return _shown(a) == _shown(b)


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> list[TraitRow]:
    """Our traits beside the Profile API's, one row per trait name, differences first."""
    rows = []
    for key in sorted(set(ours) | set(theirs)):
        mine = _shown(ours[key]) if key in ours else None
        segment = _shown(theirs[key]) if key in theirs else None
        if mine is None:
            state = "only Segment"
        elif segment is None:
            state = "only ours"
        else:
            state = "same" if _equal(ours[key], theirs[key]) else "different"
        rows.append(TraitRow(key, mine, segment, state))
    order = {"different": 0, "only ours": 1, "only Segment": 2, "same": 3}
    return sorted(rows, key=lambda row: (order[row.state], row.key))
