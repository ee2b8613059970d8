"""One message, one verdict: the rules module, the Identify and Track forms (JSON mode), a bulk
row carrying the same values, and Edit and send (the form filled in from the message as sent,
rows where the editor can show them) find the same problems, on the same field, in the same
words. Property-based: hypothesis makes the messages, reserved and custom keys mixed, good and
bad currencies, revenues and dates."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.utils.html import escape
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from segadmin.audit import drafts
from segadmin.bulk import parsing
from segadmin.bulk.plan import EVENT, FIELD, USER_ID, Plan
from segadmin.calls import editors
from segadmin.calls.forms import SCREENS, CallForm
from segadmin.credentials.models import Source
from segadmin.segment import rules
from segadmin.segment.datetimes import looks_like_date
from segadmin.segment.messages import build_message
from tests.calls.conftest import editor_data
from tests.factories import make_source

DATES = [
    "2024-02-29T12:00:00Z",
    "2024-02-30T10:00:00Z",
    "2024-13-45",
    "2024-05-01T25:61:00Z",
    "2024-05-01T09:30:00",
    "1990-05-04",
    "2024-05-01T09:30:00+05:45",
    "2024-05-01t09:30:00.25z",
]
WORDS = ["USD", "EUR", "XYZ", "eur", "19.99", "ten", "ann@example.com", "ann@", "Acme"]
scalars = st.one_of(
    st.sampled_from(DATES),
    st.sampled_from(WORDS),
    st.text(min_size=1, max_size=8),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
)
parts = st.dictionaries(
    st.sampled_from(["name", "id", "employee_count", "plan", "city", "postalCode", "since"]),
    scalars,
    max_size=3,
)
values = st.one_of(
    scalars, parts, st.lists(scalars, max_size=2), st.lists(st.sampled_from(DATES), max_size=3)
)
KEYS = {
    "identify": [
        "createdAt",
        "created_at",
        "age",
        "birthday",
        "email",
        "company",
        "address",
        "plan",
        "since",
    ],
    "track": ["revenue", "value", "currency", "ordered_at", "coupon", "items", "seats"],
}
FIELDS_KEY = {"identify": "traits", "track": "properties"}


@pytest.fixture
def source(db: None) -> Source:
    return make_source("My site", "wk_VERDICTtestAbCdEfGhIjKlMnOpQrSt")


@st.composite
def messages(draw: Any) -> tuple[str, dict[str, Any]]:
    call_type = draw(st.sampled_from(["identify", "track"]))
    fields = draw(st.dictionaries(st.sampled_from(KEYS[call_type]), values, max_size=4))
    return call_type, fields


def verdict(problems: list[rules.Problem]) -> list[tuple[str, str, str, str]]:
    return sorted((p.code, p.field, p.severity, p.message) for p in problems)


def message_for(call_type: str, fields: dict[str, Any]) -> dict[str, Any]:
    return build_message(
        call_type,
        user_id="u1",
        event="Order Completed" if call_type == "track" else None,
        **{FIELDS_KEY[call_type]: fields},
    )


def posted(form_class: type[CallForm], data: dict[str, Any]) -> CallForm:
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    for key, value in data.items():
        if isinstance(value, list):
            query.setlist(key, value)
        else:
            query[key] = value
    form = form_class(query)
    form.is_valid()
    return form


def assert_attached(form: CallForm, name: str) -> None:
    """Each error sits on the field its path names: under the editor or under its row."""
    shown = [str(e) for e in form.errors.get(name, [])]
    under_rows = form.fields[name].widget.row_problems  # type: ignore[attr-defined]
    for problem in rules.errors(form.problems):
        key, _ = rules.field_path(problem)
        assert key == name, problem
        assert any(problem.message in s for s in shown) or any(
            problem.message in s for s in under_rows.values()
        )
    if form.problems:
        html = str(form[name])  # the editor renders every row's sentence
        for sentence in under_rows.values():
            assert escape(sentence) in html


def bulk_problems(call_type: str, fields: dict[str, Any], types: dict[str, str]) -> list:
    """A JSON Lines row carrying the same values, each column typed to keep its value."""
    mapping = [
        {"column": "userId", "target": USER_ID, "type": parsing.TEXT},
        *(
            [{"column": "event", "target": EVENT, "type": parsing.TEXT}]
            if call_type == "track"
            else []
        ),
        *({"column": key, "target": FIELD, "type": types[key]} for key in fields),
    ]
    plan = Plan(
        job_id=uuid.uuid4(),
        call_type=call_type,
        file_format=parsing.JSONL,
        columns=[m["column"] for m in mapping],
        mapping=mapping,
    )
    row = json.loads(json.dumps({"userId": "u1", "event": "Order Completed", **fields}))
    _, _, problems = plan.message(row, 7)
    return problems


def column_of(path: str) -> str:
    """The bulk column behind a path: the field's top key (traits.company.id: company)."""
    _, inner = rules.field_path(rules.Problem(path, "", ""))
    return re.split(r"[.\[]", inner)[0]


def keeping_type(call_type: str, key: str, value: Any, draw_datetime: bool) -> str:
    if isinstance(value, bool):
        return parsing.BOOLEAN
    if isinstance(value, int | float):
        return parsing.NUMBER
    if isinstance(value, dict | list):
        return parsing.JSON_TYPE
    reserved = rules.RESERVED[call_type].get(key)
    is_date = reserved is None or reserved.kind == rules.DATE  # (a date-time column for age
    # is the person's mistake, refused in other words)
    if isinstance(value, str) and draw_datetime and is_date and looks_like_date(value):
        return parsing.DATETIME  # read as a date-time: refused with the same sentence
    return parsing.TEXT


@pytest.mark.django_db
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=messages(), read_dates=st.booleans())
def test_the_rules_the_forms_a_bulk_row_and_edit_and_send_agree(
    source: Source, case: tuple[str, dict[str, Any]], read_dates: bool
) -> None:
    call_type, fields = case
    expected = verdict(rules.check(call_type, message_for(call_type, fields)))
    screen = SCREENS[call_type]
    name = FIELDS_KEY[call_type]
    base = {"source": str(source.pk), "user_id": "u1", "action": "send"}
    if call_type == "track":
        base["event"] = "Order Completed"

    # The call screen, the editor in JSON mode.
    json_form = posted(
        screen.form_class,
        {**base, f"{name}__mode": "json", f"{name}__json": json.dumps(fields)},
    )
    assert verdict(json_form.problems) == expected
    assert json_form.is_valid() == (not rules.errors(json_form.problems))
    assert_attached(json_form, name)

    # A bulk row with the same values, in the bulk's words: row N, column: the same sentence.
    types = {key: keeping_type(call_type, key, value, read_dates) for key, value in fields.items()}
    found = sorted(
        (p.code, p.column, p.severity, p.reason) for p in bulk_problems(call_type, fields, types)
    )
    assert found == sorted(
        (code, column_of(path), severity, sentence) for code, path, severity, sentence in expected
    )

    # Edit and send: the screen opened from the message as sent, then sent as it was filled in.
    message = message_for(call_type, fields)
    initial = drafts.initial_from_message(message, source_id=source.pk)
    state = editors.state_for(screen.form_class.base_fields[name].spec, initial.get(name))  # type: ignore[attr-defined]
    edit_form = posted(screen.form_class, {**base, **editor_data(name, state)})
    errors = "errors" if any(severity == "error" for _, _, severity, _ in expected) else "none"
    under_rows = bool(edit_form.fields[name].widget.row_problems)  # type: ignore[attr-defined]
    event(f"edit and send: {state.mode} mode, {errors}, under a row: {under_rows}")
    assert verdict(edit_form.problems) == expected
    assert_attached(edit_form, name)
