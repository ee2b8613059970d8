"""The one typed-value parser (segment.values) that editor rows and bulk cells share."""

from __future__ import annotations

import pytest

from segadmin.segment import values
from segadmin.segment.values import ValueInvalid, kind_of_text, to_type


@pytest.mark.parametrize(
    ("type_", "given", "expected"),
    [
        ("number", "42", 42),
        ("number", " 19.99 ", 19.99),
        ("number", "1e3", 1000.0),
        ("number", 7, 7),  # a JSON Lines number keeps its type
        ("boolean", "Yes", True),
        ("boolean", "0", False),
        ("boolean", 1, True),
        ("datetime", " 2024-05-01T09:30:00+05:45 ", "2024-05-01T09:30:00+05:45"),
        ("datetime", "1990-05-04", "1990-05-04"),
        ("null", "anything", None),
        ("list", "", []),
        ("object", '{"a": [1]}', {"a": [1]}),
        ("json", "[1, 2]", [1, 2]),
        ("json", {"a": 1}, {"a": 1}),
        ("text", 42, "42"),
        ("text", {"a": 1}, '{"a": 1}'),
        ("text", True, "true"),
    ],
)
def test_a_value_is_read_as_its_type(type_, given, expected):
    assert to_type(type_, given) == expected


@pytest.mark.parametrize(
    ("type_", "given", "code", "sentence"),
    [
        ("number", "ten", "not_number", "“ten” is not a number, like 42 or 19.99."),
        ("number", "007x", "not_number", "“007x” is not a number, like 42 or 19.99."),
        ("number", "1e999", "not_number", "“1e999” is too large a number."),
        ("number", True, "not_number", "“true” is not a number, like 42 or 19.99."),
        ("boolean", "maybe", "not_boolean", "“maybe” is not true or false."),
        ("boolean", "", "not_boolean", "Choose true or false."),
        (
            "datetime",
            "2024-02-30",
            "datetime_invalid",
            "“2024-02-30” is not on the calendar: February 2024 has 29 days.",
        ),
        (
            "datetime",
            "2024-05-01T09:30",
            "datetime_naive",
            "“2024-05-01T09:30” has no time zone: add one, e.g. Z for UTC or +02:00.",
        ),
        (
            "list",
            '{"a": 1}',
            "not_list",
            '“{"a": 1}” is not a JSON list, like [1, 2] or ["a", "b"].',
        ),
        ("json", "NaN", "not_json", "NaN is not valid JSON: use a number or null."),
        ("json", '{"a": 1, "a": 2}', "not_json", "The name “a” appears twice in the same object."),
        ("colour", "red", "type_unknown", "The type “colour” is unknown."),
    ],
)
def test_a_value_that_does_not_fit_its_type_is_refused_with_a_sentence_about_it(
    type_, given, code, sentence
):
    with pytest.raises(ValueInvalid) as caught:
        to_type(type_, given)
    assert (caught.value.code, caught.value.message) == (code, sentence)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("42", values.NUMBER),
        ("007", values.TEXT),
        ("TRUE", values.BOOLEAN),
        ("yes", values.TEXT),  # read as true in a true/false column, never proposed as one
        ("2024-13-45", values.DATETIME),  # shaped like a date: proposed, then refused by row
        ('{"a": 1}', values.JSON),
        ("{oops", values.TEXT),
    ],
)
def test_text_is_recognised_by_the_kind_it_looks_like(text, kind):
    assert kind_of_text(text) == kind


# Python refuses to read an integer of more than 4,300 digits (sys.get_int_max_str_digits):
# such a number is refused as "too large", like 1e999, at every entrance, never an error.
HUGE = "1" * 5000


def test_a_number_with_more_digits_than_python_reads_is_too_large() -> None:
    from segadmin.segment.values import NUMBER, converter

    for read in (lambda: to_type(NUMBER, HUGE), lambda: converter(NUMBER)(HUGE)):
        with pytest.raises(ValueInvalid) as caught:
            read()
        assert caught.value.code == "not_number"
        assert caught.value.message.endswith("is too large a number.")


def test_json_with_a_number_of_more_digits_than_python_reads_is_refused() -> None:
    from segadmin.lib import userjson

    for strict in (True, False):
        with pytest.raises(userjson.JSONRefused) as caught:
            userjson.loads('{"seats": ' + HUGE + "}", what="Traits (JSON)", strict=strict)
        assert str(caught.value) == (
            "Traits (JSON) holds a number too large to read: more than 4,300 digits."
        )
    with pytest.raises(ValueInvalid) as refused:
        to_type("json", "[" + HUGE + "]")
    assert refused.value.code == "not_json"
