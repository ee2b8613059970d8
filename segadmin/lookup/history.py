"""What segadmin has sent for one Segment user: the calls, and the traits they add up to.

Read from the audit log's message index (one row per message, also for each row of a bulk
import's batches) and the entries' stored bodies: bodies are stored redacted and nothing is
decrypted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from segadmin.audit.filters import identity_q
from segadmin.audit.index import email_key
from segadmin.audit.models import (
    AuditEntry,
    AuditMessage,
    AuditMessageQuerySet,
    Outcome,
    unpack_body,
)
from segadmin.lib import userjson

TIMELINE_SIZE = 100
# Folding needs every Identify; past this many (newest kept) the page says it stopped.
MAX_IDENTIFIES = 1000
IDENTIFIER_TYPES = (("user_id", "User ID"), ("anonymous_id", "Anonymous ID"), ("email", "Email"))
# How many people one email may name before the page says "more".
MAX_PEOPLE = 20
MESSAGE_COLUMNS = ("id", "entry", "seq", "position", "call_type", "event", "row")


@dataclass(frozen=True)
class Identify:
    message: AuditMessage
    traits: dict[str, Any]
    counted: bool  # sent: it changed the profile; rejected or unanswered ones did not

    @property
    def entry(self) -> Any:
        return self.message.entry


@dataclass
class History:
    timeline: list[AuditMessage] = field(default_factory=list)  # .entry loaded with each
    more: bool = False
    identifies: list[Identify] = field(default_factory=list)  # newest first
    traits: dict[str, Any] = field(default_factory=dict)  # after every sent Identify
    truncated: bool = False

    @property
    def latest_source_id(self) -> int | None:
        for message in self.timeline:
            if message.entry.source_id is not None:
                return message.entry.source_id
        return None


def people_with_email(messages: AuditMessageQuerySet, email: str) -> list[tuple[str, str]]:
    """Who the calls carrying ``email`` in their traits were for, newest first: ``(kind, id)``
    with kind "user_id", or "anonymous_id" for a message without a user ID. Usually one."""
    wanted = email_key(email)
    if not wanted:
        return []
    people: list[tuple[str, str]] = []
    rows = messages.filter(email=wanted).order_by("-seq", "position")
    for user_id, anonymous_id in rows.values_list("user_id", "anonymous_id")[:500]:
        person = ("user_id", user_id) if user_id else ("anonymous_id", anonymous_id or "")
        if person[1] and person not in people:
            people.append(person)
            if len(people) > MAX_PEOPLE:
                break
    return people


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


def history(
    messages: AuditMessageQuerySet,
    identifier_type: str,
    identifier: str,
    *,
    columns: tuple[str, ...],
) -> History:
    """The timeline (newest first, one line per message: a bulk import's row is its own
    line) and the Identify history of one user, from ``messages`` (already narrowed to what
    the person may read); ``columns`` are the entry's columns the page shows."""
    entry_columns = [f"entry__{name}" for name in columns]
    mine = (
        messages.filter(identity_q(identifier_type, identifier))
        .select_related("entry")
        .order_by("-seq", "position")
    )
    rows = list(mine.only(*MESSAGE_COLUMNS, *entry_columns)[: TIMELINE_SIZE + 1])
    found = History(timeline=rows[:TIMELINE_SIZE], more=len(rows) > TIMELINE_SIZE)
    if not found.more:
        # The timeline holds every message of the user, so its Identify calls too: only
        # their bodies are read, without a second walk of the index and its entries.
        _identifies_of_timeline(found)
    else:
        _identifies(found, mine, entry_columns)
    found.traits = fold_traits([i.traits for i in reversed(found.identifies) if i.counted])
    return found


def _is_identify(message: AuditMessage) -> bool:
    return message.call_type == "identify" and message.entry.api == "tracking"


def _identifies_of_timeline(found: History) -> None:
    wanted = [message for message in found.timeline if _is_identify(message)]
    traits: dict[tuple[int, int], dict[str, Any]] = {}
    positions: dict[int, list[int]] = {}
    for message in wanted:
        positions.setdefault(message.entry_id, []).append(message.position)
    bodies = (
        AuditEntry.objects.filter(pk__in=list(positions))
        .values_list("pk", "request_body")
        .iterator(chunk_size=50)  # a batch's body is up to 500 KB: not all at once
    )
    for pk, stored in bodies:
        body = _parsed(stored)
        for position in positions[pk]:
            traits[(pk, position)] = AuditMessage(position=position).traits(body)
    found.identifies = [
        Identify(
            message,
            traits.get((message.entry_id, message.position), {}),
            message.entry.outcome == Outcome.SENT,
        )
        for message in wanted
    ]


def _parsed(stored: Any) -> Any:
    try:
        raw = unpack_body(stored)
        return userjson.body(raw) if raw else None
    except ValueError:
        return None


def _identifies(found: History, mine: AuditMessageQuerySet, entry_columns: list[str]) -> None:
    identify_rows = (
        mine.filter(call_type="identify", entry__api="tracking")
        .only(*MESSAGE_COLUMNS, *entry_columns, "entry__request_body")[: MAX_IDENTIFIES + 1]
        .iterator(chunk_size=50)  # a batch's body is up to 500 KB: not all at once
    )
    body_of: tuple[int | None, Any] = (None, None)  # the last body read (a batch's rows share it)
    for count, message in enumerate(identify_rows):
        if count == MAX_IDENTIFIES:
            found.truncated = True
            break
        if body_of[0] != message.entry_id:
            body_of = (message.entry_id, _body(message))
        entry = message.entry
        entry.request_body = b""  # read: let the bytes go
        found.identifies.append(
            Identify(message, message.traits(body_of[1]), entry.outcome == Outcome.SENT)
        )


def _body(message: AuditMessage) -> Any:
    try:
        return message.entry.request_body_data
    except ValueError:
        return None


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
