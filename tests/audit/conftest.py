"""Helpers for the audit tests: PostgreSQL markers, writing behind the app's back and running
verify_audit."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (the append-only trigger and concurrent writers); run with "
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/segadmin_audit",
)


def tamper(sql: str, params: Any = None) -> int:
    """Run SQL as an intruder who owns the table would: on PostgreSQL with the append-only
    trigger switched off for this one statement (the owner may ALTER TABLE ... DISABLE TRIGGER;
    needing no superuser, it works for the CI's plain CREATEDB role too)."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            # Django's foreign keys are deferred; ALTER TABLE needs no pending checks.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER USER")
        try:
            cursor.execute(sql, params)
            return cursor.rowcount
        finally:
            if postgres:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER USER")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def run_verify(*args: str) -> tuple[str, str, int]:
    """``manage.py verify_audit *args``: its output, its error (or message) and exit code."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), str(exc), exc.returncode
    return out.getvalue(), err.getvalue(), 0
