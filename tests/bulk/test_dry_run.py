"""Dry run: every row checked with the call screens' rules, nothing sent."""

from __future__ import annotations

import csv
import io
import json

import pytest

from segadmin.audit.models import AuditEntry
from segadmin.bulk import dryrun
from segadmin.bulk.models import BulkJob, Status
from tests.bulk.conftest import csv_text, mapping_post, upload

HEADER = ["userId", "anonymousId", "event", "timestamp", "revenue", "coupon", "items", "note"]
GOOD = ["u1", "", "Order Completed", "2024-05-01T09:30:00Z", "19.99", "true", "[1, 2]", "ok"]
# Keyed by the row a spreadsheet shows: the header is row 1, GOOD row 2.
BAD_ROWS = {
    3: (["", "", "Order Completed", "", "1", "true", "[]", ""], "userId", "Add a User ID or"),
    4: (["   ", "", "Order Completed", "", "1", "true", "[]", ""], "userId", "User ID is blank"),
    5: (["u4", "", "", "", "1", "true", "[]", ""], "event", "Add an Event Name."),
    6: (
        ["u5", "", "Order Completed", "2024-05-01T09:30:00", "1", "", "", ""],
        "timestamp",
        "“2024-05-01T09:30:00” has no time zone",
    ),
    7: (
        ["u6", "", "Order Completed", "yesterday", "1", "", "", ""],
        "timestamp",
        "“yesterday” is not an ISO-8601 date-time",
    ),
    8: (["u7", "", "Order Completed", "", "12 apples", "", "", ""], "revenue", "is not a number"),
    9: (["u8", "", "Order Completed", "", "", "maybe", "", ""], "coupon", "is not true or false"),
    10: (["u9", "", "Order Completed", "", "", "", "{oops", ""], "items", "is not valid JSON"),
    11: (
        ["u10", "", "Order Completed", "", "", "", "", "x" * 33_000],
        "",
        "Segment drops calls over 32,000 bytes",
    ),
}
TYPES = {"revenue": "number", "coupon": "boolean", "items": "json"}


def every_kind_of_bad_row() -> bytes:
    rows = [GOOD]
    rows += [BAD_ROWS[n][0] for n in sorted(BAD_ROWS)]
    rows.append(["u11", "a11", "Signed Up", "", "", "false", "", "also ok"])
    return csv_text(HEADER, rows)


@pytest.fixture
def dry_run_page(client, marketer, source, fake_segment):
    client.force_login(marketer)
    assert (
        upload(client, every_kind_of_bad_row(), call_type="track", source=source).status_code == 302
    )
    job = BulkJob.objects.get()
    overrides = {column: {"type": type_} for column, type_ in TYPES.items()}
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, overrides, action="dry_run"))
    job.refresh_from_db()
    return job, response


@pytest.mark.django_db
def test_a_dry_run_counts_valid_and_invalid_rows_and_names_each_problem(dry_run_page):
    job, response = dry_run_page
    assert response.status_code == 200
    assert job.dry_run["valid"] == 2
    assert job.dry_run["invalid"] == len(BAD_ROWS)
    errors = {(row, column): reason for row, column, reason in job.dry_run["errors"]}
    for row, (_, column, reason) in BAD_ROWS.items():
        assert reason in errors[(row, column)], (row, column, errors)
    page = response.content.decode()
    assert "Dry run: nothing was sent" in page
    assert "Add an Event Name." in page


@pytest.mark.django_db
def test_a_dry_run_shows_the_first_messages_as_they_would_be_sent(dry_run_page):
    job, response = dry_run_page
    first = job.dry_run["messages"][0]
    assert first["type"] == "track"
    assert first["userId"] == "u1"
    assert first["properties"] == {"revenue": 19.99, "coupon": True, "items": [1, 2], "note": "ok"}
    assert first["timestamp"] == "2024-05-01T09:30:00.000+00:00"
    assert "writeKey" not in response.content.decode()


@pytest.mark.django_db
def test_a_dry_run_sends_nothing_and_records_nothing(dry_run_page, fake_segment):
    job, _ = dry_run_page
    assert fake_segment.requests == []
    assert AuditEntry.objects.count() == 0
    assert job.status == Status.DRAFT


@pytest.mark.django_db
def test_the_error_report_lists_every_problem_as_csv(client, dry_run_page):
    job, _ = dry_run_page
    response = client.get(f"/bulk/{job.pk}/errors.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["row", "column", "reason"]
    assert {int(r[0]) for r in rows[1:]} == set(BAD_ROWS)


@pytest.mark.django_db
def test_a_mapping_without_an_id_is_refused_before_any_row_is_checked(client, marketer, source):
    client.force_login(marketer)
    upload(client, csv_text(["email"], [["a@example.com"]]), source=source)
    job = BulkJob.objects.get()
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="dry_run"))
    assert response.status_code == 422
    assert "Map a column to User ID or Anonymous ID" in response.content.decode()
    job.refresh_from_db()
    assert job.dry_run is None


@pytest.mark.django_db
def test_the_mapping_page_proposes_types_from_the_data(client, marketer, source):
    client.force_login(marketer)
    content = csv_text(
        ["userId", "visits", "vip", "born", "prefs", "zip"],
        [["u1", "3", "true", "1990-05-04", '{"a": 1}', "01234"]],
    )
    upload(client, content, source=source)
    job = BulkJob.objects.get()
    assert [m["type"] for m in job.mapping] == [
        "text",
        "number",
        "boolean",
        "datetime",
        "json",
        "text",
    ]
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert "proposed: true/false" in page
    assert json.dumps(job.proposals)  # stored for the page


@pytest.mark.django_db
def test_a_large_file_is_dry_run_by_a_worker_while_the_page_polls(
    client, marketer, source, settings, fake_segment
):
    settings.SEGADMIN_BULK_INLINE_DRY_RUN_ROWS = 5
    client.force_login(marketer)
    rows = [[f"u{i}", "pro"] for i in range(1, 10)] + [["", "free"]]
    upload(client, csv_text(["userId", "plan"], rows), source=source)
    job = BulkJob.objects.get()
    page = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="dry_run")).content.decode()
    assert "Dry run: checking every row" in page
    assert 'hx-trigger="every 1s"' in page
    job.refresh_from_db()
    token = job.dry_run["token"]

    dryrun.run_dry_run(str(job.pk), "an-older-run")  # superseded: changes nothing
    assert BulkJob.objects.get().dry_run["status"] == "running"
    dryrun.run_dry_run(str(job.pk), token)  # what the worker's task does
    fragment = client.get(f"/bulk/{job.pk}/dry-run/", headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert "hx-trigger" not in html
    assert "9 valid" in html and "1 invalid" in html
    assert fake_segment.requests == []


@pytest.mark.django_db
def test_the_background_dry_run_task_stores_its_result(
    client, marketer, source, settings, immediate_tasks
):
    settings.SEGADMIN_BULK_INLINE_DRY_RUN_ROWS = 1
    client.force_login(marketer)
    upload(client, csv_text(["userId"], [["u1"], ["u2"]]), source=source)
    job = BulkJob.objects.get()
    page = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="dry_run")).content.decode()
    assert "2 valid" in page
