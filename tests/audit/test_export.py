"""Export: the filtered entries as CSV or JSON Lines, streamed, never with a secret."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from segadmin.audit import export
from segadmin.audit.log import record_event
from segadmin.audit.models import AuditEntry
from tests.audit.entries import WRITE_KEY, actor_for, add_call, make_source
from tests.factories import login

pytestmark = pytest.mark.django_db
EXPORT = reverse("audit:export")


def body_of(response) -> str:
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def log(admin_user, marketer):
    source = make_source()
    return [
        add_call(user=marketer, source=source, user_id="alice", event="Signed Up"),
        add_call(user=marketer, source=source, user_id='=HYPERLINK("http://x")', status=400),
        add_call(
            user=admin_user,
            source=source,
            call_type="identify",
            user_id="bob",
            traits={"email": "bob@example.com"},
            status=None,
            error="timed out after 5 s",
        ),
        record_event(
            actor=actor_for(admin_user),
            action="credential.changed",
            target_type="source",
            target_id=source.pk,
            target_name="Web",
            details={"changed": ["write key"], "write_key": "wk_should_be_masked"},
        ),
    ]


def test_the_csv_export_holds_every_listed_entry_oldest_first(log, admin_user) -> None:
    response = login(admin_user).get(EXPORT, {"format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="segadmin-audit-')
    rows = list(csv.DictReader(io.StringIO(body_of(response))))
    assert [int(r["seq"]) for r in rows] == [e.seq for e in log]
    first = rows[0]
    assert first["username"] == "maria" and first["role"] == "Marketer"
    assert first["call_type"] == "track" and first["event"] == "Signed Up"
    assert first["outcome"] == "sent" and first["http_status"] == "200"
    assert first["hash"] == log[0].hash and first["prev_hash"] == log[0].prev_hash
    assert rows[2]["error"] == "timed out after 5 s"
    assert rows[3]["action"] == "credential.changed"
    # No outcome rows of their own: their answer is on the request's row.
    assert len(rows) == AuditEntry.objects.listed().count()


def test_a_csv_cell_that_a_spreadsheet_would_run_is_kept_as_text(log, admin_user) -> None:
    rows = list(csv.DictReader(io.StringIO(body_of(login(admin_user).get(EXPORT)))))
    assert rows[1]["user_id"] == '\'=HYPERLINK("http://x")'


def test_the_json_lines_export_has_one_object_per_entry(log, admin_user) -> None:
    response = login(admin_user).get(EXPORT, {"format": "jsonl"})
    assert response["Content-Type"] == "application/jsonl"
    records = [json.loads(line) for line in body_of(response).splitlines()]
    assert [r["seq"] for r in records] == [e.seq for e in log]
    assert records[0]["http_status"] == 200 and records[0]["user_id"] == "alice"
    assert records[1]["user_id"] == '=HYPERLINK("http://x")'  # JSON keeps values as they are
    assert records[2]["outcome"] == "failed" and records[2]["http_status"] is None
    assert json.loads(records[3]["details"])["write_key"] == "****"


def test_the_export_follows_the_filters(log, admin_user) -> None:
    body = body_of(login(admin_user).get(EXPORT, {"format": "jsonl", "outcome": "rejected"}))
    assert [json.loads(line)["seq"] for line in body.splitlines()] == [log[1].seq]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_export_never_contains_a_secret(log, admin_user, fmt) -> None:
    body = body_of(login(admin_user).get(EXPORT, {"format": fmt}))
    assert WRITE_KEY not in body
    assert "wk_should_be_masked" not in body
    assert "Basic " not in body or "Basic ****" in body


def test_bad_export_requests_get_a_clear_400(log, admin_user) -> None:
    client = login(admin_user)
    bad_format = client.get(EXPORT, {"format": "xlsx"})
    assert bad_format.status_code == 400
    assert b"csv or jsonl" in bad_format.content
    bad_filter = client.get(EXPORT, {"status": "abc"})
    assert bad_filter.status_code == 400
    assert b"HTTP status: Enter an HTTP status code" in bad_filter.content


def test_the_export_reads_rows_in_chunks_with_flat_memory(admin_user) -> None:
    """Rows stream from one cursor in chunks: memory does not grow with the number of rows."""
    source = make_source()
    for i in range(60):
        add_call(user=admin_user, source=source, user_id=f"u{i}")
    entries = AuditEntry.objects.listed()

    def peak_for(rows: int) -> int:
        tracemalloc.start()
        for chunk in export.stream(entries.filter(seq__lte=rows * 2), "csv"):
            assert chunk
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small, large = peak_for(10), peak_for(60)
    assert large < small * 3  # six times the rows, not six times the memory

    with CaptureQueriesContext(connection) as queries:
        lines = list(export.csv_lines(export.rows(entries, chunk_size=7)))
    assert len(lines) == 61
    if connection.vendor == "postgresql":
        # A server-side cursor: one DECLARE, fetched chunk by chunk.
        assert len(queries) <= 2


@pytest.mark.parametrize(
    "user_id", ["+1 555 0100", "-5", "@alice", "\tx", "'=already quoted", "'plain"]
)
def test_every_risky_csv_cell_is_prefixed_and_one_quote_off_gives_it_back(
    admin_user, marketer, user_id
) -> None:
    add_call(user=marketer, source=make_source(), user_id=user_id)
    (row,) = csv.DictReader(io.StringIO(body_of(login(admin_user).get(EXPORT))))
    assert row["user_id"] == "'" + user_id
    assert row["user_id"][1:] == user_id
