"""Helpers for the audit tests: PostgreSQL markers and writing behind the app's back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (the append-only trigger and concurrent writers); run with "
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/segadmin_audit",
)


def tamper(sql: str, params: Any = None) -> int:
    """Run SQL as an intruder with database superuser rights would: on PostgreSQL with the
    append-only trigger switched off for this one statement (session_replication_role)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
            return cursor.rowcount
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_audit_trigger() -> Iterator[None]:
    """Let the test runner's flush (TRUNCATE of every table after a transactional test) pass
    the append-only trigger on PostgreSQL, the way a superuser restoring a database would."""
    if connection.vendor != "postgresql":
        yield
        return
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self: Any, style: Any, tables: Any, **kwargs: Any) -> list[str]:
        statements = original(self, style, tables, **kwargs)
        if statements:
            return ["SET LOCAL session_replication_role = replica", *statements]
        return statements

    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]
    yield
    DatabaseOperations.sql_flush = original  # type: ignore[method-assign]
