"""Writing CSV that people open in a spreadsheet: every file segadmin offers goes through here.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
as a formula (CSV injection). ``neutralise`` puts a ``'`` in front of such a cell, and also in
front of a cell that already starts with ``'``, so that the rule can be undone exactly:
``restore`` takes one leading ``'`` off, and gives back the value as it was, whatever it was
(a bulk import's failed-rows file goes back in through ``restore``). Only text is touched:
numbers, None and dates are written as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

# Spreadsheets run a cell that starts with one of these as a formula; "'" is the escape itself.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_START = (*FORMULA_START, "'")


def neutralise(value: Any) -> Any:
    if value.__class__ is str and value.startswith(_ESCAPED_START):
        return "'" + value
    return value


def neutralise_row(row: Iterable[Any]) -> list[Any]:
    # One comprehension per row, no call per cell: the audit export's speed is this loop.
    escaped = _ESCAPED_START
    return [
        "'" + value if value.__class__ is str and value.startswith(escaped) else value
        for value in row
    ]


def restore(value: str) -> str:
    """The value ``neutralise`` was given (for text read back from a file it wrote)."""
    return value[1:] if value.startswith("'") else value


class _Line:
    """A file-like object whose write() returns what was written, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def line_writer() -> Any:
    """A csv.writer whose writerow() returns the line instead of writing it (cells are written
    as given: neutralise them first, or use ``csv_lines``)."""
    return csv.writer(_Line())


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Each row as one line of CSV, every cell neutralised (for a StreamingHttpResponse)."""
    write = line_writer().writerow
    for row in rows:
        yield write(neutralise_row(row))
