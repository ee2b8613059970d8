"""The bulk plan's fast path gives the verdict and the bytes of the general one.

A row that is plain (text IDs, a readable timestamp, fields the rules find nothing wrong with
outside themselves) is encoded from its parts and only its traits or properties go through
the rules (``rules.check_fields``, with its own shortcuts for emails, real dates and plain
values), its cells read by ``values.converter``, its messageId computed from the hash's hex
text. Property-tested over generated mappings and cells against the general path: the whole
message through ``rules.check`` and ``messages.encode``, ``values.to_type`` for each cell,
``uuid.uuid5`` for the messageId.
"""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segadmin.bulk import parsing
from segadmin.bulk.plan import (
    ANONYMOUS_ID,
    EVENT,
    FIELD,
    GROUP_ID,
    TIMESTAMP,
    USER_ID,
    Plan,
    message_id,
)
from segadmin.segment import plans, rules, values
from segadmin.segment.messages import encode
from segadmin.segment.rules import PlanCheck

JOB = uuid.UUID("0b7e1d2c-3f4a-4b5c-8d6e-7f8091a2b3c4")

# Text shaped like the cells of real files, and like the values the rules look twice at:
# dates (real, impossible, without a zone), emails, numbers with and without leading zeros,
# true/false in several spellings, blanks, JSON text, and anything at all.
ZONE = r"([Zz]|[+-]\d{2}(:?\d{2})?)?"
DATES = st.from_regex(
    rf"\A\s?\d{{4}}-\d{{2}}-\d{{2}}([Tt ]\d{{2}}:\d{{2}}(:\d{{2}}([.,]\d{{1,7}})?)?{ZONE})?\s?\Z"
)
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=45)), timezone(-timedelta(hours=8))]
)
REAL_DATES = st.datetimes(timezones=ZONES).map(lambda d: d.isoformat())
EMAILS = st.from_regex(r"\A[a-zA-Z0-9. @_-]{0,6}@?[a-z.]{0,8}\Z") | st.emails()
NUMBERS = st.from_regex(r"\A\s?-?\d{0,6}(\.\d{1,3})?([eE][+-]?\d{1,2})?\s?\Z")
WORDS = st.sampled_from(
    ["true", "false", "TRUE", "False", "yes", "No", "y", "T", "0", "1", "tRuE", " true", ""]
)
JSON_TEXT = st.sampled_from(["{}", "[]", '{"a": 1}', "[1, 2", "null", '"x"', "{bad}"])
TEXT = st.one_of(DATES, REAL_DATES, EMAILS, NUMBERS, WORDS, JSON_TEXT, st.text(max_size=12))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
# Field names: plain ones and the reserved traits and properties the rules type.
NAMES = st.sampled_from(
    [
        *("plan", "email", "createdAt", "age", "birthday", "company", "address", "revenue"),
        *("currency", "value", "created_at", "signed_up", "a.b", "visits"),
    ]
)
TYPES = st.sampled_from(
    [parsing.TEXT, parsing.NUMBER, parsing.BOOLEAN, parsing.DATETIME, parsing.JSON_TYPE]
)
TARGETS = {
    "identify": [USER_ID, ANONYMOUS_ID, TIMESTAMP],
    "track": [USER_ID, ANONYMOUS_ID, TIMESTAMP, EVENT],
    "group": [USER_ID, ANONYMOUS_ID, TIMESTAMP, GROUP_ID],
}


@st.composite
def mappings(draw: Any) -> tuple[str, str, list[dict[str, Any]]]:
    call_type = draw(st.sampled_from(sorted(TARGETS)))
    fmt = draw(st.sampled_from([parsing.CSV, parsing.JSONL]))
    single = draw(st.lists(st.sampled_from(TARGETS[call_type]), unique=True, max_size=4))
    # Mostly a mapping the screen takes (an ID, and the call's own key), else any.
    if draw(st.integers(0, 4)):
        needed = {"track": EVENT, "group": GROUP_ID}.get(call_type)
        single = [t for t in single if t not in (USER_ID, needed)] + [USER_ID]
        single += [needed] if needed else []
    names = draw(st.lists(NAMES, unique=True, max_size=5))
    mapping = [
        {"column": f"c_{target}", "target": target, "type": parsing.TEXT, "empty_null": False}
        for target in single
    ]
    mapping += [
        {"column": name, "target": FIELD, "type": draw(TYPES), "empty_null": draw(st.booleans())}
        for name in names
    ]
    return call_type, fmt, draw(st.permutations(mapping))


@st.composite
def rows(draw: Any) -> tuple[Plan, Any]:
    call_type, fmt, mapping = draw(mappings())
    plan = Plan(
        job_id=JOB,
        call_type=call_type,
        file_format=fmt,
        columns=[m["column"] for m in mapping],
        mapping=mapping,
        tracking_plan=draw(st.none() | st.just(TRACKING_PLAN)),
    )
    cells: Any = [] if fmt == parsing.CSV else {}
    for item in mapping:
        # Mostly what such a column holds (so that most rows are sent, many by the fast
        # path), else anything.
        kind = item["target"] if item["target"] in GOOD else item["type"]
        odds = draw(st.integers(0, 7))
        cell = draw(TEXT if odds == 0 else LIKELY[kind] if odds == 1 else GOOD[kind])
        if fmt == parsing.CSV:
            cells.append(cell)
        elif draw(st.integers(0, 5)):
            cells[item["column"]] = draw(JSON_VALUES) if not draw(st.integers(0, 3)) else cell
    return plan, cells


# What a column of each kind usually holds, then what it may hold besides.
GOOD = {
    USER_ID: st.sampled_from(["u-1", "42", " u 2 ", "ü", "\u2028"]),
    ANONYMOUS_ID: st.sampled_from(["a-1", ""]),
    EVENT: st.sampled_from(["Signed Up", "u-1"]),
    GROUP_ID: st.sampled_from(["g-1", "7"]),
    TIMESTAMP: REAL_DATES,
    parsing.TEXT: st.text(max_size=8) | EMAILS,
    parsing.NUMBER: st.integers(-(10**6), 10**9).map(str) | st.sampled_from(["19.99", "1e3"]),
    parsing.BOOLEAN: st.sampled_from(["true", "false", "yes", "0"]),
    parsing.DATETIME: REAL_DATES | st.dates().map(str),
    parsing.JSON_TYPE: st.sampled_from(["{}", "[]", '{"a": "2024-01-01"}']),
}
LIKELY = {
    **dict.fromkeys((USER_ID, ANONYMOUS_ID, EVENT, GROUP_ID), TEXT),
    TIMESTAMP: DATES,
    parsing.TEXT: TEXT,
    parsing.NUMBER: NUMBERS,
    parsing.BOOLEAN: WORDS,
    parsing.DATETIME: DATES,
    parsing.JSON_TYPE: JSON_TEXT,
}


# A plan under Warn: its findings are warnings, so rows are sent with them and the fast
# path hands them on (a plan under Block is the same check with another severity).
TRACKING_PLAN = PlanCheck(
    plan=plans.Plan.from_api(
        {"id": "tp_fast", "name": "Fast plan"},
        [
            {
                "type": "IDENTIFY",
                "jsonSchema": {
                    "type": "object",
                    "properties": {
                        "traits": {"type": "object", "properties": {"plan": {"enum": ["pro"]}}}
                    },
                },
            },
            {"type": "TRACK", "key": "u-1", "jsonSchema": {"type": "object"}},
        ],
    ),
    enforcement=rules.WARN,
    unplanned_events=rules.WARN,
)


def general(plan: Plan, cells: Any, row: int) -> tuple[Any, bytes, list[tuple[Any, ...]]]:
    """What the plan gives when every row goes through the whole rules module."""
    fast = Plan._cheap_encoding
    try:
        Plan._cheap_encoding = lambda *args: None  # type: ignore[method-assign]
        return said(plan.encoded(cells, row))
    finally:
        Plan._cheap_encoding = fast  # type: ignore[method-assign]


def said(result: tuple[Any, bytes, list[Any]]) -> tuple[Any, bytes, list[tuple[Any, ...]]]:
    message, encoded, problems = result
    return message, encoded, [(p.row, p.column, p.reason, p.code, p.severity) for p in problems]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows(), st.integers(min_value=1, max_value=10**7))
def test_a_row_gets_the_verdict_and_the_bytes_of_the_whole_rules_module(row, number):
    plan, cells = row
    fast = said(plan.encoded(cells, number))
    assert fast == general(plan, cells, number)
    message, encoded, _ = fast
    if message is not None:
        assert encoded == encode(message)
        assert message["messageId"] == str(uuid.uuid5(JOB, str(number)))


def test_a_timestamp_is_written_as_build_message_writes_it_and_checked_once():
    mapping = [
        {"column": "id", "target": USER_ID, "type": parsing.TEXT},
        {"column": "when", "target": TIMESTAMP, "type": parsing.TEXT},
    ]
    plan = Plan(
        job_id=JOB, call_type="identify", file_format=parsing.CSV, columns=["id", "when"],
        mapping=mapping,
    )  # fmt: skip
    message, encoded, problems = plan.encoded(["u1", " 2024-05-01T09:30:00+0200 "], 2)
    assert problems == []
    assert message is not None and message["timestamp"] == "2024-05-01T09:30:00.000+02:00"
    assert encoded == encode(message)
    message, _, problems = plan.encoded(["u1", "2024-05-01T09:30:00"], 3)
    assert message is None
    assert [(p.column, p.code) for p in problems] == [("when", "timestamp_naive")]


def reference_fields(call_type: str, fields: dict[str, Any]) -> list[Any]:
    """Each field through the rules' general checks, without the loop's shortcuts."""
    problems: list[Any] = []
    key = rules.FIELDS_KEY[call_type]
    for name, value in fields.items():
        field = rules.RESERVED.get(call_type, {}).get(name)
        if field is not None:
            rules._check_reserved(f"{key}.{name}", name, field, value, problems)
        else:
            rules._check_values(f"{key}.{name}", value, problems)
    return problems


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["identify", "group", "track", "page", "screen"]),
    st.dictionaries(NAMES | st.text(max_size=5), JSON_VALUES, max_size=6),
)
def test_the_fields_check_finds_what_each_field_s_own_check_finds(call_type, fields):
    assert rules.check_fields(call_type, fields) == reference_fields(call_type, fields)


def outcome(read: Any, value: Any) -> Any:
    try:
        return ("value", read(value), type(read(value)))
    except values.ValueInvalid as exc:
        return ("refused", exc.message, exc.code)


@pytest.mark.parametrize("type_", [values.TEXT, values.NUMBER, values.BOOLEAN, values.DATETIME])
@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUES)
def test_a_column_s_reader_reads_each_value_as_to_type_does(type_, value):
    assert outcome(values.converter(type_), value) == outcome(
        lambda v: values.to_type(type_, v), value
    )


@settings(max_examples=200, deadline=None)
@given(st.uuids(), st.integers(min_value=0, max_value=10**12))
def test_the_message_id_is_uuid5_of_the_job_and_the_row_for_any_row(job, row):
    assert message_id(job, row) == str(uuid.uuid5(job, str(row)))
