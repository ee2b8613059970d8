"""The column mapping of a bulk job and the message each row becomes.

A mapping is a list of ``{"column", "target", "type", "empty_null"}``: ``target`` is one of
TARGETS (an ID, the event name, the timestamp, a trait/property, or skipped). ``Plan`` compiles
it once per job so that a row becomes a message with plain dict work; the message then goes
through the same rules module (``segment.rules``) as the call screens, and its cells through
the same typed-value parser (``segment.values``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import segadmin
from segadmin.bulk import parsing
from segadmin.segment import datetimes, plans, rules, values
from segadmin.segment.errors import Problem
from segadmin.segment.messages import (
    LIBRARY_NAME,
    MAX_MESSAGE_BYTES,
    encode,
    encode_string,
    encode_text,
)

USER_ID, ANONYMOUS_ID, EVENT, TIMESTAMP, GROUP_ID, FIELD, SKIP = (
    "user_id",
    "anonymous_id",
    "event",
    "timestamp",
    "group_id",
    "field",
    "skip",
)
TARGET_LABELS = {
    USER_ID: "User ID",
    ANONYMOUS_ID: "Anonymous ID",
    EVENT: "Event Name",
    TIMESTAMP: "Timestamp",
    GROUP_ID: "Group ID",
    SKIP: "Skip this column",
}
# Targets a column may take, by call type; FIELD is "Trait" or "Property".
CALL_TARGETS = {
    "identify": (FIELD, USER_ID, ANONYMOUS_ID, TIMESTAMP, SKIP),
    "track": (FIELD, USER_ID, ANONYMOUS_ID, EVENT, TIMESTAMP, SKIP),
    "group": (FIELD, USER_ID, ANONYMOUS_ID, GROUP_ID, TIMESTAMP, SKIP),
}
SINGLE_TARGETS = (USER_ID, ANONYMOUS_ID, EVENT, TIMESTAMP, GROUP_ID)
# The message key each target fills, to name the column behind a validation problem.
_MESSAGE_KEYS = {
    USER_ID: "userId",
    ANONYMOUS_ID: "anonymousId",
    EVENT: "event",
    TIMESTAMP: "timestamp",
    GROUP_ID: "groupId",
}
_KEY_LABELS: dict[str, str] = {
    "userId": "User ID",
    "anonymousId": "Anonymous ID",
    "event": "Event Name",
    "timestamp": "Timestamp",
    "groupId": "Group ID",
}
# The error column added to a failed-rows download, skipped when the file comes back.
ERROR_COLUMN = parsing.ERROR_COLUMN
_MISSING = object()
# Text keys a call cannot do without, besides the IDs.
_REQUIRED_TEXT = {"track": ("event",), "group": ("groupId",)}


def field_label(call_type: str) -> str:
    return "Property" if call_type == "track" else "Trait"


def target_choices(call_type: str) -> list[tuple[str, str]]:
    labels = {**TARGET_LABELS, FIELD: field_label(call_type)}
    return [(target, labels[target]) for target in CALL_TARGETS[call_type]]


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_NAME_GUESSES = {
    "userid": USER_ID,
    "user": USER_ID,
    "anonymousid": ANONYMOUS_ID,
    "anonid": ANONYMOUS_ID,
    "event": EVENT,
    "eventname": EVENT,
    "timestamp": TIMESTAMP,
    "groupid": GROUP_ID,
}


# JSON Schema types -> the column types a planned property proposes.
_PLANNED_TYPES = {
    "string": parsing.TEXT,
    "number": parsing.NUMBER,
    "integer": parsing.NUMBER,
    "boolean": parsing.BOOLEAN,
    "object": parsing.JSON_TYPE,
    "array": parsing.JSON_TYPE,
}


def planned_fields(
    plan: plans.Plan, call_type: str, events: Iterable[Any] = ()
) -> tuple[str, dict[str, dict[str, Any]]]:
    """(the event they are for, {name: {"type", "required"}}): the properties (Track) or traits
    a plan plans for an import. Track: the one event's rule when every sampled row names the
    same planned event, else every planned event's properties (none of them required: each
    holds for its own event only). Identify and Group: their rule's traits."""
    fields_key = "properties" if call_type == "track" else "traits"
    rules_used: list[plans.Rule] = []
    event = ""
    if call_type == "track":
        named = {e for e in events if isinstance(e, str) and e.strip()}
        if len(named) == 1 and plan.versions(plans.RuleType.TRACK, next(iter(named))):
            event = next(iter(named))
            rules_used = [plan.versions(plans.RuleType.TRACK, event)[0]]
        else:
            keys = sorted({r.key for r in plan.rules if r.type is plans.RuleType.TRACK and r.key})
            rules_used = [plan.versions(plans.RuleType.TRACK, key)[0] for key in keys]
    else:
        rule = plans.find_rule(plan, call_type, {})
        rules_used = [rule] if rule is not None else []
    found: dict[str, dict[str, Any]] = {}
    for rule in rules_used:
        inner = _dig(rule.json_schema, "properties", fields_key)
        names = _dig(inner, "properties")
        if not isinstance(names, dict):
            continue
        listed = _dig(inner, "required")
        required = set(listed) if isinstance(listed, list) and len(rules_used) == 1 else set()
        for name, sub in names.items():
            if name not in found:
                found[name] = {"type": _planned_type(sub), "required": name in required}
    return event, found


def _planned_type(schema: Any) -> str | None:
    """The column type for a property's schema, or None when it allows several or any."""
    if not isinstance(schema, dict):
        return None
    declared = schema.get("type")
    kinds = [declared] if isinstance(declared, str) else declared
    if not isinstance(kinds, list):
        return None
    types = {_PLANNED_TYPES.get(k) for k in kinds if k != "null"}
    if len(types) != 1 or None in types:
        return None
    type_ = types.pop()
    if type_ == parsing.TEXT and schema.get("format") == "date-time":
        return parsing.DATETIME
    return type_


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _planned_matches(columns: list[str], planned: dict[str, Any]) -> dict[str, str]:
    """column -> the planned name it matches: exactly first, then ignoring case and
    separators (``order_id`` ~ ``Order ID`` ~ ``orderId``); each name to one column."""
    matched: dict[str, str] = {c: c for c in columns if c in planned}
    taken = set(matched.values())
    by_normal: dict[str, list[str]] = {}
    for name in planned:
        if name not in taken:
            by_normal.setdefault(_normal(name), []).append(name)
    for column in columns:
        names = by_normal.get(_normal(column), [])
        if column not in matched and len(names) == 1 and names[0] not in taken:
            matched[column] = names[0]
            taken.add(names[0])
    return matched


def propose_mapping(
    call_type: str,
    columns: list[str],
    proposals: dict[str, str],
    planned: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The mapping offered first: IDs, event and timestamp recognised by their usual names
    (userId, user_id, "User ID", ...), every other column a trait or property of the type the
    data suggests, empty cells left out. With ``planned`` (``planned_fields``), a column whose
    name matches a planned name is mapped to that name, of the planned type."""
    allowed = CALL_TARGETS[call_type]
    taken: set[str] = set()
    mapping = []
    fields = []
    for column in columns:
        target = FIELD
        guess = _NAME_GUESSES.get(_normal(column))
        if column == ERROR_COLUMN:
            target = SKIP
        elif guess in allowed and guess not in taken:
            target = guess
            taken.add(guess)
        type_ = parsing.TEXT if target in SINGLE_TARGETS else proposals.get(column, parsing.TEXT)
        mapping.append({"column": column, "target": target, "type": type_, "empty_null": False})
        if target == FIELD:
            fields.append(column)
    matches = _planned_matches(fields, planned or {})
    for item in mapping:
        name = matches.get(str(item["column"]))
        if name is not None:
            item["property"] = name
            item["type"] = (planned or {})[name]["type"] or item["type"]
    return mapping


def event_column(mapping: list[dict[str, Any]]) -> str | None:
    return next((m["column"] for m in mapping if m["target"] == EVENT), None)


def unmapped_required(planned: dict[str, Any], mapping: list[dict[str, Any]]) -> list[str]:
    """A sentence for each property or trait the plan requires that no column maps to."""
    fields = planned.get("fields") or {}
    mapped = {field_name(m) for m in mapping if m["target"] == FIELD}
    return [
        f"{name} is required by the tracking plan “{planned.get('plan', '')}”; no column maps to it"
        for name, about in sorted(fields.items())
        if about.get("required") and name not in mapped
    ]


def field_name(item: dict[str, Any]) -> str:
    """The trait or property a FIELD column fills: its planned name, else the column's."""
    return str(item.get("property") or item["column"])


def check_mapping(call_type: str, mapping: list[dict[str, Any]]) -> list[str]:
    """What is wrong with a mapping as a whole (each ID or the event mapped twice, no ID)."""
    errors = []
    targets = [m["target"] for m in mapping]
    for target in SINGLE_TARGETS:
        if targets.count(target) > 1:
            errors.append(f"Only one column can be the {TARGET_LABELS[target]}.")
    if USER_ID not in targets and ANONYMOUS_ID not in targets:
        errors.append("Map a column to User ID or Anonymous ID: every call needs one.")
    if call_type == "track" and EVENT not in targets:
        errors.append("Map a column to Event Name: a Track call needs one.")
    if call_type == "group" and GROUP_ID not in targets:
        errors.append("Map a column to Group ID: a Group call needs one.")
    return errors


@dataclass(frozen=True)
class RowProblem:
    """“row N, <column>: <reason>”. ``code`` and ``severity`` are the rules module's; a row
    with only warnings is sent."""

    row: int
    column: str
    reason: str
    code: str = ""
    severity: str = rules.ERROR
    # The rules module's problem behind it (None for a cell that could not be read): the
    # worker hands a sent row's warnings to the send service with it (``sending.Checked``).
    problem: Problem | None = field(default=None, compare=False, repr=False)

    @property
    def is_error(self) -> bool:
        return self.severity == rules.ERROR

    def __str__(self) -> str:
        where = f"row {self.row}, {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.reason}"


def message_id(job_id: uuid.UUID, row: int) -> str:
    """The same row of the same job always gets the same messageId, so a row sent twice (a
    worker killed mid-chunk) is dropped by Segment's deduplication. Equal to
    ``str(uuid.uuid5(job_id, str(row)))``."""
    return _MessageIds(job_id)(row)


class _MessageIds:
    """uuid5 without building UUID objects: a bulk job computes one per row."""

    def __init__(self, job_id: uuid.UUID) -> None:
        self.base = hashlib.sha1(job_id.bytes, usedforsecurity=False)

    def __call__(self, row: int) -> str:
        digest = self.base.copy()
        digest.update(b"%d" % row)
        h = digest.hexdigest()
        # The first 16 bytes with the version (5) in the 13th hex digit and the RFC 4122
        # variant in the two high bits of the 17th: by text, cheaper than by bytes.
        return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


# A hex digit with its two high bits set to the RFC 4122 variant (10xx).
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _stringify_id(value: Any) -> Any:
    # As build_message does: Segment discards numeric ids, the official library stringifies.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


class Plan:
    """A mapping compiled for one job: ``message(cells, row)`` -> (message, problems).

    Messages are built as plain dicts, equal to what ``build_message`` returns for the same
    values (a test holds them to it), because a job builds a million of them.
    """

    def __init__(
        self,
        *,
        job_id: uuid.UUID,
        call_type: str,
        file_format: str,
        columns: list[str],
        mapping: Iterable[dict[str, Any]],
        tracking_plan: rules.PlanCheck | None = None,
    ) -> None:
        self.job_id = job_id
        self.tracking_plan = tracking_plan
        self.call_type = call_type
        self.jsonl = file_format == parsing.JSONL
        self.message_ids = _MessageIds(job_id)
        position = {name: index for index, name in enumerate(columns)}
        mapping = list(mapping)
        # (cell key, column, the field's name or the column, target, coerce, empty is null)
        self.items: list[tuple[int | str, str, str, str, Callable[[Any], Any], bool]] = []
        self.column_of: dict[str, str] = {}
        for item in mapping:
            target = item["target"]
            if target == SKIP or item["column"] not in position:
                continue
            key: int | str = item["column"] if self.jsonl else position[item["column"]]
            type_ = item.get("type") or parsing.TEXT
            self.items.append(
                (
                    key,
                    item["column"],
                    field_name(item) if target == FIELD else item["column"],
                    target,
                    values.converter(type_),  # parsing.coerce, for one type
                    bool(item.get("empty_null")),
                )
            )
            if target in _MESSAGE_KEYS:
                self.column_of[_MESSAGE_KEYS[target]] = item["column"]
        self.fields_key = "properties" if call_type == "track" else "traits"
        # (field name, column), longest name first, so a problem at traits.a.b names the
        # column of "a.b" before that of "a".
        self.field_columns: list[tuple[str, str]] = sorted(
            ((field_name(item), item["column"]) for item in mapping if item["target"] == FIELD),
            key=lambda pair: len(pair[0]),
            reverse=True,
        )
        self.library = {"name": LIBRARY_NAME, "version": segadmin.__version__}
        self.required_text = _REQUIRED_TEXT.get(call_type, ())
        # The constant parts of every message's encoding, around what each row fills in.
        self._prefix = '{"type":' + encode_string(call_type) + ',"messageId":"'
        self._fields_prefix = "," + encode_string(self.fields_key) + ":"
        self._suffix = (
            ',"context":' + encode_text({"library": self.library}) + ',"integrations":{}}'
        )

    def message(self, cells: Any, row: int) -> tuple[dict[str, Any] | None, int, list[RowProblem]]:
        """(message, its size in bytes, warnings) for a row that may be sent; (None, 0,
        problems) for a row the rules or its cells refuse."""
        message, encoded, problems = self.encoded(cells, row)
        return message, len(encoded), problems

    def encoded(
        self, cells: Any, row: int
    ) -> tuple[dict[str, Any] | None, bytes, list[RowProblem]]:
        """(message, its JSON encoding as sent, warnings) for a row that may be sent; (None,
        b"", problems) for a row the rules or its cells refuse. The worker puts the encoding
        in the batch body as it is: each message is encoded once."""
        fields: dict[str, Any] = {}
        ids: dict[str, Any] = {}
        problems: list[RowProblem] = []
        if self.jsonl:
            self._read_object(cells, row, fields, ids, problems)
        else:
            self._read_cells(cells, row, fields, ids, problems)
        # The keys and order of build_message; beside them, the message's encoding from its
        # parts (``cheap``: None once the rules must see the whole message), so that the
        # parts every message of the job shares are not encoded again for each row.
        message_id = self.message_ids(row)
        message: dict[str, Any] = {"type": self.call_type, "messageId": message_id}
        cheap: list[str] | None = [self._prefix, message_id, '"'] if not problems else None
        if TIMESTAMP in ids:
            stamp, readable = _timestamp(ids[TIMESTAMP])
            message["timestamp"] = stamp
            if cheap is not None:
                cheap = _text_part(cheap, ',"timestamp":', stamp) if readable else None
        has_id = False
        if USER_ID in ids:
            message["userId"] = value = _stringify_id(ids[USER_ID])
            if cheap is not None:
                cheap = _text_part(cheap, ',"userId":', value)
                has_id = True
        if ANONYMOUS_ID in ids:
            message["anonymousId"] = value = _stringify_id(ids[ANONYMOUS_ID])
            if cheap is not None:
                cheap = _text_part(cheap, ',"anonymousId":', value)
                has_id = True
        message[self.fields_key] = fields
        if cheap is not None:
            cheap.append(self._fields_prefix)
            cheap = _json_part(cheap, fields)
        if EVENT in ids:
            message["event"] = value = ids[EVENT]
            if cheap is not None:
                cheap.append(',"event":')
                cheap = _json_part(cheap, value)
        if GROUP_ID in ids:
            message["groupId"] = value = _stringify_id(ids[GROUP_ID])
            if cheap is not None:
                cheap.append(',"groupId":')
                cheap = _json_part(cheap, value)
        message["context"] = {"library": self.library}
        message["integrations"] = {}
        encoded = self._cheap_encoding(message, cheap, has_id)
        if encoded is not None:
            # The rest of the message is fine: the rules' verdict is that of its fields.
            found = rules.check_fields(self.call_type, fields)
            # (``not found or``: a conforming row's lists are empty, and skip the scan.)
            if self.tracking_plan is not None and (not found or not any(p.is_error for p in found)):
                # Checked once: the worker hands this verdict to the send service.
                found += rules.plan_problems(
                    self.tracking_plan, self.call_type, message, cached=False
                )
            if not found or not any(p.is_error for p in found):
                return message, encoded, [self._problem(row, p) for p in found]
        found = rules.check(self.call_type, message, self.tracking_plan)
        problems.extend(self._problem(row, p) for p in found)
        if any(p.is_error for p in problems):
            return None, b"", problems
        return message, encode(message), problems

    def _read_cells(
        self,
        cells: Any,
        row: int,
        fields: dict[str, Any],
        ids: dict[str, Any],
        problems: list[RowProblem],
    ) -> None:
        """A CSV row's cells (text, "" when empty) into ``fields`` and ``ids``; what a cell
        cannot be read as goes to ``problems``."""
        for key, column, name, target, coerce, empty_null in self.items:
            value = cells[key]
            if not value:
                # An empty cell is a null only when its column says so.
                if empty_null and target == FIELD:
                    fields[name] = None
            elif target == FIELD:
                try:
                    fields[name] = coerce(value)
                except parsing.CellInvalid as exc:
                    problems.append(RowProblem(row, column, exc.message, exc.code))
            else:
                ids[target] = value

    def _read_object(
        self,
        cells: Any,
        row: int,
        fields: dict[str, Any],
        ids: dict[str, Any],
        problems: list[RowProblem],
    ) -> None:
        """``_read_cells`` for a JSON Lines object: a missing key is left out, an explicit
        null is a null, any JSON value is taken."""
        for key, column, name, target, coerce, empty_null in self.items:
            value = cells.get(key, _MISSING)
            if value is _MISSING:
                continue
            if value == "" or value is None:
                # An explicit JSON null is a null; an empty text is one only when asked.
                if target == FIELD and (value is None or empty_null):
                    fields[name] = None
                continue
            if target == FIELD:
                try:
                    fields[name] = coerce(value)
                except parsing.CellInvalid as exc:
                    problems.append(RowProblem(row, column, exc.message, exc.code))
            elif target == TIMESTAMP and not isinstance(value, str):
                problems.append(
                    RowProblem(
                        row,
                        column,
                        "Timestamp must be an ISO-8601 date-time text, such as "
                        f"{datetimes.EXAMPLE}.",
                        "timestamp_invalid",
                    )
                )
            else:
                ids[target] = value

    def _problem(self, row: int, problem: Problem) -> RowProblem:
        return RowProblem(
            row, self._column(problem), problem.message, problem.code, problem.severity, problem
        )

    def _column(self, problem: Problem) -> str:
        """The column behind a rules problem: the field's column, or the one mapped to the
        ID, event name or timestamp it concerns."""
        key, inner = rules.field_path(problem)
        if key == self.fields_key and inner:
            for name, column in self.field_columns:
                if inner == name or inner.startswith((f"{name}.", f"{name}[")):
                    return column
        return self.column_of.get(key) or _KEY_LABELS.get(key, "")

    def _cheap_encoding(
        self, message: dict[str, Any], parts: list[str] | None, has_id: bool
    ) -> bytes | None:
        """The message's encoding when the rules certainly find nothing in it outside its
        traits or properties, else None (the caller then asks the rules for everything). The
        messages built here can only go wrong there in their IDs, event name, timestamp and
        size; ``parts`` is the encoding of what ``encoded`` put in ``message`` before its
        context (None: an ID that is not text, a timestamp that cannot be read...), and
        ``has_id`` whether it has a User ID or an Anonymous ID, each text by then."""
        if parts is None or not has_id:
            return None
        for key in self.required_text:
            value = message.get(key)
            if not isinstance(value, str) or not value.strip():
                return None
        parts.append(self._suffix)
        encoded = "".join(parts).encode()
        return encoded if len(encoded) <= MAX_MESSAGE_BYTES else None


def _timestamp(value: str) -> tuple[str, bool]:
    """(``format_timestamp(value)``, whether it is an instant the rules take): read once.
    A text the reader takes is written back in a form it takes again."""
    try:
        parsed = datetimes.parse_instant(value)
    except datetimes.DateTimeInvalid:
        return value, False
    return datetimes.format_instant(parsed), True


def _text_part(parts: list[str], key: str, value: Any) -> list[str] | None:
    """``parts`` with ``key`` and ``value``'s encoding added, for an ID the rules take as it
    is (text, not blank); None otherwise."""
    if not isinstance(value, str) or not value.strip():
        return None
    parts.append(key)
    parts.append(encode_string(value))
    return parts


def _json_part(parts: list[str], value: Any) -> list[str] | None:
    """``parts`` with ``value``'s encoding added; None for a value JSON cannot carry."""
    try:
        parts.append(encode_string(value) if type(value) is str else encode_text(value))
    except (TypeError, ValueError, RecursionError):
        return None
    return parts
