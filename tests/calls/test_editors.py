"""The typed key/value editor: types kept, errors worded, modes switched without loss."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import QueryDict
from hypothesis import given, settings
from hypothesis import strategies as st

from segadmin.calls import editors
from segadmin.calls.editors import EDITORS, JSON, ROWS, EditorError, Row

TRAITS = EDITORS["identify_traits"]
PROPERTIES = EDITORS["track_properties"]
QUERY = EDITORS["query"]


def custom(key: str, type_: str, value: str) -> Row:
    return Row("c", key, type_, value)


def rows_of(spec: editors.EditorSpec, *rows: Row, **reserved: tuple[str, str]) -> list[Row]:
    result = editors.reserved_rows(spec)
    for row in result:
        if row.key in reserved:
            row.type, row.value = reserved[row.key]
    return [*result, *rows]


def test_custom_rows_of_every_type_keep_their_json_types() -> None:
    value = editors.rows_to_value(
        TRAITS,
        rows_of(
            TRAITS,
            custom("plan", "text", "pro"),
            custom("seats", "number", "3"),
            custom("ratio", "number", "0.25"),
            custom("big", "number", "1e3"),
            custom("vip", "boolean", "true"),
            custom("churned", "boolean", "false"),
            custom("nickname", "null", "ignored"),
            custom("renewal", "datetime", "2025-01-31T10:00:00+01:00"),
            custom("tags", "list", '["a", 1, true]'),
            custom("prefs", "object", '{"theme": {"dark": true}}'),
        ),
    )
    assert value == {
        "plan": "pro",
        "seats": 3,
        "ratio": 0.25,
        "big": 1000.0,
        "vip": True,
        "churned": False,
        "nickname": None,
        "renewal": "2025-01-31T10:00:00+01:00",
        "tags": ["a", 1, True],
        "prefs": {"theme": {"dark": True}},
    }
    assert type(value["seats"]) is int
    assert type(value["big"]) is float


def test_reserved_parts_of_an_object_are_nested() -> None:
    value = editors.rows_to_value(
        TRAITS,
        rows_of(
            TRAITS,
            email=("text", "ada@example.com"),
            age=("number", "36"),
            **{"address.city": ("text", "Paris"), "company.id": ("number", "42")},
        ),
    )
    assert value == {
        "email": "ada@example.com",
        "age": 36,
        "address": {"city": "Paris"},
        "company": {"id": 42},
    }


def test_an_empty_reserved_field_is_left_out_but_null_unsets_it() -> None:
    value = editors.rows_to_value(TRAITS, rows_of(TRAITS, phone=("null", "")))
    assert value == {"phone": None}


def test_the_null_type_is_explained_as_unsetting_the_trait() -> None:
    html = editors.render_editor(TRAITS, "traits", editors.state_for(TRAITS, {"phone": None}))
    assert "null unsets the trait" in html


def test_a_custom_row_named_like_a_reserved_field_is_read_as_that_field() -> None:
    # The custom row's default type (text) gives way to the field's own: "age" is a number.
    rows = rows_of(TRAITS, custom("email", "text", "x@example.com"), custom("age", "text", "36"))
    assert editors.rows_to_value(TRAITS, rows) == {"email": "x@example.com", "age": 36}


@pytest.mark.parametrize(
    ("key", "type_", "value"),
    [
        ("age", "text", "ten"),
        ("birthday", "text", "1990-02-30"),
        ("createdAt", "datetime", "2024-05-01T09:30"),
        ("company.employee_count", "text", "many"),
    ],
)
def test_a_custom_row_named_like_a_reserved_field_gets_the_fields_own_words(
    key: str, type_: str, value: str
) -> None:
    field = TRAITS.reserved_by_path()[key]
    reserved = rows_of(TRAITS, **{key: (field.types[0], value)})
    with pytest.raises(EditorError):
        editors.rows_to_value(TRAITS, reserved)
    as_custom = rows_of(TRAITS, custom(key, type_, value))
    with pytest.raises(EditorError):
        editors.rows_to_value(TRAITS, as_custom)
    wanted = next(row.error for row in reserved if row.error)
    assert as_custom[-1].error == wanted


def test_a_reserved_field_given_twice_is_refused() -> None:
    rows = rows_of(TRAITS, custom("email", "text", "b@example.com"), email=("text", "a@x.io"))
    with pytest.raises(EditorError):
        editors.rows_to_value(TRAITS, rows)
    assert rows[-1].error == "“email” is used by two rows: give each trait once."


def test_an_object_given_whole_and_by_its_parts_is_refused() -> None:
    whole = custom("address", "object", '{"city": "Oslo"}')
    rows = rows_of(TRAITS, whole, **{"address.city": ("text", "Paris")})
    with pytest.raises(EditorError):
        editors.rows_to_value(TRAITS, rows)
    assert rows[-1].error == (
        "“address” is already given by its parts (city): give them there or here, not both."
    )
    # Given whole only, it is an object like JSON mode's, for the rules to check.
    alone = rows_of(TRAITS, custom("address", "object", '{"city": "Oslo"}'))
    assert editors.rows_to_value(TRAITS, alone) == {"address": {"city": "Oslo"}}


def test_track_revenue_given_twice_is_refused() -> None:
    rows = rows_of(PROPERTIES, custom("revenue", "number", "3"), revenue=("number", "5"))
    with pytest.raises(EditorError):
        editors.rows_to_value(PROPERTIES, rows)
    assert rows[-1].error == "“revenue” is used by two rows: give each property once."


def test_a_posted_custom_row_with_a_reserved_name_becomes_the_reserved_row() -> None:
    data = QueryDict(mutable=True)
    data["traits__mode"] = "rows"
    # The pool's empty reserved rows come after the custom ones in the page: order is no matter.
    for kind, key, type_, value in [
        ("c", "age", "text", "36"),
        ("c", "plan", "text", "pro"),
        ("r", "age", "number", ""),
        ("r", "email", "text", ""),
    ]:
        data.appendlist("traits__kind", kind)
        data.appendlist("traits__key", key)
        data.appendlist("traits__type", type_)
        data.appendlist("traits__value", value)
        data.appendlist("traits__bool", "")
    state = editors.state_from_data(TRAITS, data, "traits")
    age = next(row for row in state.rows if row.key == "age")
    assert (age.kind, age.type, age.value) == ("r", "number", "36")
    assert [row.key for row in state.rows if row.kind == "c"] == ["plan"]
    assert editors.state_value(TRAITS, state) == {"age": 36, "plan": "pro"}


def test_a_name_used_twice_is_refused() -> None:
    rows = rows_of(TRAITS, custom("plan", "text", "a"), custom("plan", "text", "b"))
    with pytest.raises(EditorError):
        editors.rows_to_value(TRAITS, rows)
    assert rows[-1].error == "“plan” is used by two rows: give each trait once."


def test_the_query_string_may_repeat_a_name() -> None:
    rows = [custom("tag", "text", "a"), custom("tag", "text", "b")]
    assert editors.rows_to_value(QUERY, rows) == [("tag", "a"), ("tag", "b")]


@pytest.mark.parametrize(
    ("type_", "raw", "message"),
    [
        ("number", "12,5", "“12,5” is not a number, like 42 or 19.99."),
        ("number", "NaN", "“NaN” is not a number, like 42 or 19.99."),
        ("number", "1e999", "“1e999” is too large a number."),
        ("boolean", "", "Choose true or false."),
        ("datetime", "2024-05-01T09:30:00", "“2024-05-01T09:30:00” has no time zone: add one"),
        ("datetime", "yesterday", "“yesterday” is not an ISO-8601 date or date-time"),
        (
            "datetime",
            "2024-02-30",
            "“2024-02-30” is not on the calendar: February 2024 has 29 days.",
        ),
        ("list", '{"a": 1}', '“{"a": 1}” is not a JSON list'),
        ("object", "[1]", "“[1]” is not a JSON object"),
        (
            "object",
            '{"a": 1,\n "b": }',
            '“{"a": 1,\n "b": }” is not valid JSON: Expecting value at line 2, column 7.',
        ),
        ("object", '{"a": 1, "a": 2}', "The name “a” appears twice in the same object."),
    ],
)
def test_a_bad_value_gets_a_message_a_marketer_understands(
    type_: str, raw: str, message: str
) -> None:
    rows = [custom("x", type_, raw)]
    with pytest.raises(EditorError, match="1 trait row needs fixing"):
        editors.rows_to_value(TRAITS, [*editors.reserved_rows(TRAITS), *rows])
    assert rows[0].error.startswith(message)


def test_json_mode_accepts_any_object_and_reports_line_and_column() -> None:
    assert editors.json_to_value(TRAITS, '{"email": 5, "x": [null]}') == {
        "email": 5,
        "x": [None],
    }
    with pytest.raises(EditorError) as caught:
        editors.json_to_value(TRAITS, '{\n  "plan": "pro",\n  "seats": \n}')
    assert str(caught.value) == (
        "Traits (JSON) is not valid JSON: Expecting value at line 4, column 1."
    )
    with pytest.raises(EditorError, match="must be a JSON object"):
        editors.json_to_value(TRAITS, "[1, 2]")


def test_switching_rows_to_json_and_back_loses_nothing() -> None:
    rows = rows_of(
        TRAITS,
        custom("seats", "number", "3"),
        custom("vip", "boolean", "true"),
        custom("gone", "null", ""),
        custom("tags", "list", '["a"]'),
        email=("text", "ada@example.com"),
        **{"company.id": ("number", "7")},
    )
    state = editors.EditorState(ROWS, "", rows)
    as_json = editors.switch(TRAITS, state, JSON)
    assert as_json.mode == JSON
    assert json.loads(as_json.json_text) == {
        "email": "ada@example.com",
        "company": {"id": 7},
        "seats": 3,
        "vip": True,
        "gone": None,
        "tags": ["a"],
    }
    back = editors.switch(TRAITS, as_json, ROWS)
    assert back.mode == ROWS
    assert editors.rows_to_value(TRAITS, back.rows) == json.loads(as_json.json_text)


def test_json_the_form_cannot_show_stays_json_with_the_reason() -> None:
    state = editors.EditorState(JSON, '{"age": "thirty"}', [])
    result = editors.switch(TRAITS, state, ROWS)
    assert result.mode == JSON
    assert result.json_text == '{"age": "thirty"}'
    assert "“age”: it is text, where the form takes number" in result.error


def test_invalid_json_is_not_switched_and_says_where() -> None:
    state = editors.EditorState(JSON, '{"a": }', [])
    result = editors.switch(TRAITS, state, ROWS)
    assert result.mode == JSON
    assert "line 1, column 7" in result.error


def test_rows_with_an_error_are_not_switched_to_json() -> None:
    state = editors.EditorState(ROWS, "", rows_of(TRAITS, custom("seats", "number", "many")))
    result = editors.switch(TRAITS, state, JSON)
    assert result.mode == ROWS
    assert result.error.startswith("Fix this first")


def test_posted_rows_are_read_in_order_and_every_reserved_row_is_kept() -> None:
    data = QueryDict(mutable=True)
    data["traits__mode"] = "rows"
    data.setlist("traits__kind", ["r", "c", "c"])
    data.setlist("traits__key", ["email", "vip", "score"])
    data.setlist("traits__type", ["text", "boolean", "number"])
    data.setlist("traits__value", ["a@b.co", "", "9"])
    data.setlist("traits__bool", ["", "true", ""])
    state = editors.state_from_data(TRAITS, data, "traits")
    assert len([r for r in state.rows if r.kind == "r"]) == len(TRAITS.reserved)
    assert editors.rows_to_value(TRAITS, state.rows) == {
        "email": "a@b.co",
        "vip": True,
        "score": 9,
    }


def test_incomplete_posted_rows_are_read_without_crashing() -> None:
    data = QueryDict(mutable=True)
    data.setlist("traits__key", ["a", "b"])
    data.setlist("traits__value", ["1"])
    state = editors.state_from_data(TRAITS, data, "traits")
    assert editors.rows_to_value(TRAITS, state.rows) == {"a": "1", "b": ""}


# Any JSON object whose names and texts a form can hold survives JSON -> rows -> JSON.
_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), min_size=1
).filter(lambda s: s == s.strip())
_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**18), max_value=10**18)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"))
)
_json_values = st.recursive(
    _leaf,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_names, children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_names, _json_values, max_size=6))
def test_any_object_survives_a_round_trip_through_the_form(value: dict[str, Any]) -> None:
    state = editors.EditorState(JSON, json.dumps(value), [])
    rows = editors.switch(TRAITS, state, ROWS)
    if rows.mode == JSON:  # refused, with a reason, and nothing changed
        assert rows.error
        assert json.loads(rows.json_text) == value
        return
    back = editors.switch(TRAITS, rows, JSON)
    assert back.mode == JSON, back.error
    assert (json.loads(back.json_text) if back.json_text else {}) == value
