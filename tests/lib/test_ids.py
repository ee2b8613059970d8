"""segadmin.lib.ids: a whole number from text, only from ASCII digits an id column holds."""

from __future__ import annotations

import pytest

from segadmin.lib.ids import MAX_DIGITS, whole_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("7", 7), ("0042", 42), ("9" * MAX_DIGITS, int("9" * MAX_DIGITS))],
)
def test_ascii_digits_are_read(text: str, expected: int) -> None:
    assert whole_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        *["", " 7", "7 ", "-7", "+7", "7.0", "1e3"],
        *["¹", "²³", "٣", "1²", "\uff17"],  # digits to isdigit(), not ASCII ones
        "9" * (MAX_DIGITS + 1),
    ],
)
def test_anything_else_is_none(text: str) -> None:
    assert whole_number(text) is None


def test_a_smaller_limit_is_kept() -> None:
    assert whole_number("123456789", max_digits=9) == 123456789
    assert whole_number("1234567890", max_digits=9) is None
