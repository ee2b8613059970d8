"""The partial indexes the audit pages read by (audit_related_to_set, audit_no_answer) exist
after every migration, on SQLite too, and SQLite's planner takes the first once its statistics
say that almost no entry has a related one."""

from __future__ import annotations

import pytest
from django.db import connection

from segadmin.audit.models import AuditEntry
from tests.audit.entries import add_call, make_source

pytestmark = pytest.mark.django_db

READING_INDEXES = ("audit_related_to_set", "audit_no_answer")


def _plan(queryset: object) -> str:
    sql, params = queryset.query.sql_with_params()  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())


def test_the_reading_indexes_survive_the_migrations_that_rebuild_the_table() -> None:
    # SQLite rebuilds audit_auditentry to change a column (migration 0005), and a rebuild
    # keeps only the indexes the model declares: these two were raw SQL and went missing.
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, AuditEntry._meta.db_table)
    assert set(READING_INDEXES) <= set(found)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner and statistics")
def test_the_entry_pages_related_entries_query_takes_the_partial_index() -> None:
    source = make_source()
    original = add_call(source=source)
    for _ in range(30):
        add_call(source=source)
    add_call(source=source, related_to=original, relation="send again")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    # The entry page's query (views.entry_detail): without the partial index, a whole-table
    # scan, since the statistics rate the foreign key's own index (all NULL) useless.
    related = AuditEntry.objects.listed().filter(related_to=original)

    assert "audit_related_to_set" in _plan(related)
