"""Whole numbers that arrive as text (a database id posted by a form or put in a link, a page
cursor, a version, a header's count): read only from ASCII digits, and only as many as an id
column holds.

``text.isdigit()`` alone is true of "¹" and "²", which ``int()`` refuses (a ValueError: a 500),
of "٣", which it reads as 3, and of a thousand digits, which no database binds as an integer
(SQLite raises OverflowError).
"""

from __future__ import annotations

# A bigint holds any 18-digit number (2**63 has 19 digits).
MAX_DIGITS = 18


def whole_number(text: str, *, max_digits: int = MAX_DIGITS) -> int | None:
    """``text`` as an int when it is ASCII digits only, at most ``max_digits`` of them (no
    sign, no spaces); None otherwise."""
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None
