"""Writes made with an audit entry, in its append's transaction (``chain.append(then=...)``):
the entry's message index, its outcome copy, the dashboard's counts. On PostgreSQL they travel
with the entry's INSERT as one statement; elsewhere they run one by one after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Stands, in a ``Statement``'s parameters, for the id of the entry ``chain.append`` inserts.
ENTRY_ID = object()


@dataclass
class Statement:
    """One write: ``sql`` with ``%s`` placeholders and their ``params`` (``ENTRY_ID`` for the
    new row's id). ``counted``: the rows it changed are kept in ``rowcount``."""

    sql: str
    params: list[Any]
    counted: bool = False
    rowcount: int | None = None
