"""audit.0011 makes SQLite rebuild the entries' table, which loses ANALYZE's statistics."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.db import connection

from segadmin.audit.log import record_request
from segadmin.segment import client
from segadmin.segment.messages import build_message
from tests.audit.entries import WRITE_KEY, actor_for

pytestmark = pytest.mark.django_db


def test_the_statistics_of_the_rebuilt_table_are_gathered_again() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite rebuilds a table to add a column")
    migration = importlib.import_module("segadmin.audit.migrations.0011_send_reason")
    for n in range(3):
        record_request(
            actor=actor_for(None, "someone"),
            request=client.tracking_request(
                build_message("identify", user_id=f"u{n}"), write_key=WRITE_KEY, region="us"
            ),
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'audit_auditentry'")
    migration.analyze_again(None, SimpleNamespace(connection=connection))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'audit_auditentry'")
        assert cursor.fetchone()[0] > 0
