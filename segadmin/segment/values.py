"""Typed values typed by people: the one parser of editor rows and bulk cells (no Django).

A call screen's editor row ("number", "19.99") and a bulk column's cell (a CSV "19.99" in a
number column, or a JSON Lines 19.99) become the JSON value sent through ``to_type``, and a
value that does not fit its type is a ``ValueInvalid`` whose message is one sentence about the
value, the same at every entrance (“ten” is not a number, like 42 or 19.99.). Dates and
date-times are read by ``segment.datetimes``; JSON text by ``parse_json``.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from typing import Any

from segadmin.lib import userjson
from segadmin.segment import datetimes

TEXT = "text"  # string
NUMBER = "number"  # number (an integer stays an integer)
BOOLEAN = "boolean"  # true / false
NULL = "null"  # null: unsets a trait in Segment
DATETIME = "datetime"  # string: an ISO-8601 date, or a date-time with a time zone
LIST = "list"  # array, typed as JSON
OBJECT = "object"  # object, typed as JSON
JSON = "json"  # any JSON value (a bulk column of objects and lists)

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0"})


class ValueInvalid(ValueError):
    """A value that does not fit its type; the message says why, in a marketer's words.
    ``code`` is the rules module's code for the same failure."""

    def __init__(self, message: str, code: str = "value_invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def quoted(value: Any) -> str:
    """A value as a sentence quotes it: “ten”, cut at 40 characters."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return f"“{text if len(text) <= 40 else text[:37] + '…'}”"


# --- JSON text ------------------------------------------------------------------------------


def parse_json(text: str, *, what: str) -> Any:
    """Parse JSON text typed by a person with the one parser for user JSON
    (``segadmin.lib.userjson``: depth and size limits); an error says where (line and column)
    and why, naming ``what``. NaN, Infinity and a name given twice are refused."""
    try:
        return userjson.loads(text, what=what, strict=True)
    except userjson.TooDeep as exc:
        raise ValueInvalid(str(exc), "too_deep") from None
    except userjson.JSONRefused as exc:
        raise ValueInvalid(str(exc), "not_json") from None


# --- One value ------------------------------------------------------------------------------


def is_number_text(text: str) -> bool:
    return _NUMBER.fullmatch(text.strip()) is not None


def parse_number(text: str) -> int | float:
    stripped = text.strip()
    match = _NUMBER.fullmatch(stripped)
    if match is None:
        raise ValueInvalid(f"{quoted(text)} is not a number, like 42 or 19.99.", "not_number")
    if match.group(1) is None and match.group(2) is None:
        try:
            return int(stripped)
        except ValueError:  # more digits than Python reads (sys.get_int_max_str_digits)
            raise ValueInvalid(f"{quoted(text)} is too large a number.", "not_number") from None
    number = float(stripped)
    if number in (float("inf"), float("-inf")):
        raise ValueInvalid(f"{quoted(text)} is too large a number.", "not_number")
    return number


def parse_boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    if not lowered:
        raise ValueInvalid("Choose true or false.", "not_boolean")
    raise ValueInvalid(f"{quoted(text)} is not true or false.", "not_boolean")


def parse_datetime_text(text: str) -> str:
    """The text of an ISO-8601 date or a date-time with a time zone, as typed (trimmed)."""
    problem = datetimes.date_problem(text)
    if problem is not None:
        raise ValueInvalid(problem.message, problem.code)
    return text.strip()


def to_type(type_: str, value: Any) -> Any:
    """The JSON value of ``value`` as ``type_``: text typed in a form or a CSV cell is read,
    a JSON Lines value keeps its JSON type when it already fits. ValueInvalid otherwise."""
    if type_ == TEXT:
        if isinstance(value, str):
            return value
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)
    if type_ == NULL:
        return None
    if type_ == NUMBER:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if not isinstance(value, str):
            raise ValueInvalid(f"{quoted(value)} is not a number, like 42 or 19.99.", "not_number")
        return parse_number(value)
    if type_ == BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if not isinstance(value, str):
            raise ValueInvalid(f"{quoted(value)} is not true or false.", "not_boolean")
        return parse_boolean(value)
    if type_ == DATETIME:
        if not isinstance(value, str):
            raise ValueInvalid(
                f"{quoted(value)} is not an ISO-8601 date or date-time such as "
                f"1990-05-04 or {datetimes.EXAMPLE}.",
                "datetime_invalid",
            )
        return parse_datetime_text(value)
    if type_ in (LIST, OBJECT, JSON):
        if isinstance(value, str):
            if not value.strip() and type_ != JSON:
                return [] if type_ == LIST else {}
            value = parse_json(value, what=quoted(value))
        if type_ == LIST and not isinstance(value, list):
            raise ValueInvalid(
                f'{quoted(value)} is not a JSON list, like [1, 2] or ["a", "b"].', "not_list"
            )
        if type_ == OBJECT and not isinstance(value, dict):
            raise ValueInvalid(
                f'{quoted(value)} is not a JSON object, like {{"plan": "pro"}}.', "not_object"
            )
        return value
    raise ValueInvalid(f"The type “{type_}” is unknown.", "type_unknown")


def converter(type_: str) -> Callable[[Any], Any]:
    """``to_type`` for one type, as a function of the value alone: what a bulk column reads
    each of its cells with (a million of them). The same values and the same ValueInvalid
    as ``to_type(type_, value)``; the usual cells (plain digits, true/false, text) are decided
    without the general path."""
    if type_ == TEXT:
        return _to_text
    if type_ == NUMBER:
        return _to_number
    if type_ == BOOLEAN:
        return _to_boolean
    return functools.partial(to_type, type_)


def _to_text(value: Any) -> Any:
    return value if type(value) is str else to_type(TEXT, value)


# The most digits Python reads as an int (4,300 unless the process changed it); longer numbers
# take parse_number's way, which refuses them as too large.
_INT_DIGITS = sys.get_int_max_str_digits() or 10**9


def _to_number(value: Any) -> Any:
    # Plain ASCII digits without a leading zero: what the number pattern reads as an int.
    if (
        type(value) is str
        and value.isdigit()
        and value.isascii()
        and (value[0] != "0" or len(value) == 1)
        and len(value) <= _INT_DIGITS
    ):
        return int(value)
    return to_type(NUMBER, value)


# The cells a true/false column usually holds, as parse_boolean reads them.
_BOOLEAN_CELLS = {
    spelled: word in TRUE_WORDS
    for word in TRUE_WORDS | FALSE_WORDS
    for spelled in (word, word.upper(), word.capitalize())
}


def _to_boolean(value: Any) -> Any:
    if type(value) is str:
        found = _BOOLEAN_CELLS.get(value)
        if found is not None:
            return found
    return to_type(BOOLEAN, value)


def kind_of_text(text: str) -> str:
    """The type text typed in a cell looks like: number, true/false, date-time, JSON or text.
    A number with a leading zero (007) is a code, not a quantity: text."""
    stripped = text.strip()
    if _NUMBER.fullmatch(stripped):
        return NUMBER
    if stripped.lower() in ("true", "false"):
        return BOOLEAN
    if datetimes.looks_like_date(stripped):
        return DATETIME
    if stripped[:1] in ("{", "["):
        try:
            userjson.loads(stripped, what="The cell")
        except userjson.JSONRefused:
            return TEXT
        return JSON
    return TEXT
