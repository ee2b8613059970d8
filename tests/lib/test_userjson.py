"""The one parser for JSON a person typed or uploaded: depth, size and syntax, in plain words."""

from __future__ import annotations

import json

import pytest

from segadmin.lib.userjson import MAX_BYTES, MAX_DEPTH, JSONRefused, loads


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_it_reads_json_as_json_does():
    text = '{"plan": "pro", "seats": [1, 2.5, null, true], "nested": {"a": {"b": "c"}}}'
    assert loads(text, what="Traits") == json.loads(text)
    assert loads(text.encode(), what="Traits") == json.loads(text)


def test_a_value_exactly_at_the_depth_limit_is_read():
    assert loads(nested(MAX_DEPTH), what="The cell") is not None
    deep_object = '{"a": ' * (MAX_DEPTH - 1) + "[]" + "}" * (MAX_DEPTH - 1)
    assert loads(deep_object, what="The cell") is not None


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 500, 50_000])
def test_a_value_deeper_than_the_limit_is_refused_in_words(levels):
    with pytest.raises(JSONRefused) as refused:
        loads(nested(levels), what="The cell")
    assert str(refused.value) == f"The cell is too deeply nested: more than {MAX_DEPTH} levels."


def test_brackets_inside_text_do_not_count_as_depth():
    text = json.dumps({"note": "[" * 1000})
    assert loads(text, what="The cell") == {"note": "[" * 1000}


def test_text_over_the_size_limit_is_refused_before_it_is_parsed():
    text = json.dumps("x" * MAX_BYTES)
    with pytest.raises(JSONRefused, match=r"The Body is too large: more than 1,048,576 bytes"):
        loads(text, what="The Body")
    assert loads(text, what="The stored body", max_bytes=None) == "x" * MAX_BYTES


def test_multibyte_text_is_measured_in_bytes():
    text = json.dumps("é" * (MAX_BYTES // 2))  # fewer characters than the limit, more bytes
    with pytest.raises(JSONRefused, match="too large"):
        loads(text, what="The cell")


def test_invalid_json_says_where():
    with pytest.raises(JSONRefused) as refused:
        loads('{"a": 1,\n "b": }', what="Traits (JSON)")
    assert str(refused.value) == (
        "Traits (JSON) is not valid JSON: Expecting value at line 2, column 7."
    )


def test_strict_mode_refuses_nan_and_a_name_used_twice():
    assert loads('{"a": NaN}', what="x") != {}  # json's own rule: NaN is read
    with pytest.raises(JSONRefused, match=r"NaN is not valid JSON: use a number or null\."):
        loads('{"a": NaN}', what="x", strict=True)
    with pytest.raises(JSONRefused, match=r"The name “a” appears twice in the same object\."):
        loads('{"a": 1, "a": 2}', what="x", strict=True)


def test_a_body_is_read_a_few_levels_deeper_than_a_value_and_deeper_ones_are_refused():
    from segadmin.lib.userjson import BODY_MAX_DEPTH, TooDeep, body

    assert body(nested(BODY_MAX_DEPTH)) is not None
    with pytest.raises(TooDeep):
        body(nested(BODY_MAX_DEPTH + 1))
    with pytest.raises(TooDeep):
        body(nested(50_000).encode())
