"""Reading JSON that came from a person: a form's JSON text, a CSV cell, a JSON Lines row.

Everything that parses user input goes through ``loads``, so every entrance refuses the same
things in the same words: text that is not JSON (saying where), a value nested more than
``MAX_DEPTH`` levels deep (Python's parser would otherwise fail with a RecursionError deep in
the stack, or accept something no screen or Segment can use), and text over ``MAX_BYTES``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

# Levels of objects and lists, the outermost counting as one: {"a": [1]} is two levels deep.
# Far above what a trait or a property needs, far below what Python's parser can take.
MAX_DEPTH = 64
# The most JSON text one value may be; a single Segment call is at most 32 KB anyway.
MAX_BYTES = 1024 * 1024
# JSON the app builds around such values (a message in a batch, a stored request body) is a
# few levels deeper; ``body`` reads it up to here, and reads anything deeper as text.
BODY_MAX_DEPTH = MAX_DEPTH + 8


class JSONRefused(ValueError):
    """User JSON that cannot be used; the message is a sentence naming what was read."""


class TooDeep(JSONRefused):
    """JSON nested deeper than the limit: valid, perhaps, but not read."""


def _reject_constant(name: str) -> Any:
    raise JSONRefused(f"{name} is not valid JSON: use a number or null.")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JSONRefused(f"The name “{key}” appears twice in the same object.")
        result[key] = value
    return result


def _size(text: str | bytes) -> int:
    if isinstance(text, bytes) or len(text) * 4 <= MAX_BYTES:
        return len(text)  # bytes, or str too short to matter whatever its encoding
    return len(text.encode("utf-8", "surrogatepass"))


def _deeper_than(value: Any, limit: int) -> bool:
    # Iterative, not recursive: the value may be as deep as the parser itself could go.
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def too_deep(what: str, max_depth: int = MAX_DEPTH) -> str:
    return f"{what} is too deeply nested: more than {max_depth} levels."


def loads(
    text: str | bytes,
    *,
    what: str,
    strict: bool = False,
    max_depth: int = MAX_DEPTH,
    max_bytes: int | None = MAX_BYTES,
) -> Any:
    """The value of JSON text a person gave, or JSONRefused with a sentence naming ``what``.

    ``strict`` also refuses NaN/Infinity and a name used twice in one object (the call screens'
    editors, where a second value would silently replace the first). ``max_bytes=None`` is for
    text the app stored itself, already limited when it came in.
    """
    if max_bytes is not None and _size(text) > max_bytes:
        raise JSONRefused(f"{what} is too large: more than {max_bytes:,} bytes of JSON.")
    try:
        if strict:
            value = json.loads(
                text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys
            )
        else:
            value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JSONRefused(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except UnicodeDecodeError:
        raise JSONRefused(f"{what} is not valid JSON: it is not UTF-8 text.") from None
    except JSONRefused:
        raise
    except ValueError:
        # json.loads reads every integer with int(), which refuses more digits than
        # sys.get_int_max_str_digits() (4,300 by default).
        raise JSONRefused(
            f"{what} holds a number too large to read: more than "
            f"{sys.get_int_max_str_digits():,} digits."
        ) from None
    except RecursionError:
        raise TooDeep(too_deep(what, max_depth)) from None
    if isinstance(value, dict | list):
        # Counting brackets is cheap; only text that has enough of them can be too deep.
        if isinstance(text, bytes):
            brackets = text.count(b"[") + text.count(b"{")
        else:
            brackets = text.count("[") + text.count("{")
        if brackets > max_depth and _deeper_than(value, max_depth):
            raise TooDeep(too_deep(what, max_depth))
    return value


def body(raw: str | bytes) -> Any:
    """The JSON value of a request or response body, for code that shows or redacts it and
    treats what is not JSON as text: JSONRefused (a ValueError) when it is not JSON, nested
    past ``BODY_MAX_DEPTH`` included. No size limit: bodies were limited when they came in."""
    return loads(raw, what="The body", max_depth=BODY_MAX_DEPTH, max_bytes=None)


def body_or_none(raw: bytes) -> Any | None:
    """The JSON value of an answer's body, or None when it is empty or not JSON (an answer
    shown as text instead)."""
    if not raw:
        return None
    try:
        return body(raw)
    except (ValueError, UnicodeDecodeError):
        return None
