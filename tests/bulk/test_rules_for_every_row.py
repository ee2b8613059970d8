"""Bulk rows get the rules module's verdict: what the Track screen refuses, the dry run names
and the job does not send; majority type proposals with the odd cells named by row and column."""

from __future__ import annotations

import pytest

from segadmin.bulk.models import BulkJob, Status
from tests.bulk.conftest import csv_text, mapping_post, upload

GOOD_ROWS = {1: "u1", 8: "u8"}
REFUSED = {
    # data row: (cells, column, sentence); the spreadsheet shows it one row lower (header: 1)
    2: (
        ["u2", "Order Completed", "", "XYZ", ""],
        "currency",
        "Currency “XYZ” is not an ISO 4217 code such as USD, EUR or GBP.",
    ),
    3: (
        ["u3", "Order Completed", "19.99", "USD", ""],
        "revenue",
        "Revenue must be a number, like 19.99 (not text or true/false).",
    ),
    4: (
        ["u4", "Order Completed", "", "", "2024-02-30T10:00:00Z"],
        "ordered_at",
        "“2024-02-30T10:00:00Z” is not on the calendar: February 2024 has 29 days.",
    ),
    5: (
        ["u5", "Order Completed", "", "", "2024-13-45T10:00:00Z"],
        "ordered_at",
        "“2024-13-45T10:00:00Z” is not on the calendar: there is no month 13.",
    ),
    6: (
        ["u6", "Order Completed", "", "", "2024-05-01T25:61:00Z"],
        "ordered_at",
        "“2024-05-01T25:61:00Z” is not on the clock: hours run from 00 to 23.",
    ),
    7: (
        ["u7", "Order Completed", "", "", "2024-05-01T09:30:00"],
        "ordered_at",
        "“2024-05-01T09:30:00” has no time zone: add one, e.g. Z for UTC or +02:00.",
    ),
}


def orders() -> bytes:
    rows = {
        1: ["u1", "Order Completed", "", "", "2026-02-28T10:00:00Z"],
        8: ["u8", "Order Completed", "", "EUR", "2024-02-29T23:59:59+05:45"],
        **{row: cells for row, (cells, _, _) in REFUSED.items()},
    }
    header = ["userId", "event", "revenue", "currency", "ordered_at"]
    return csv_text(header, [rows[n] for n in sorted(rows)])


def upload_and_dry_run(client, source, content: bytes, call_type: str, overrides=None):
    assert upload(client, content, call_type=call_type, source=source).status_code == 302
    job = BulkJob.objects.get()
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, overrides, action="dry_run"))
    assert response.status_code == 200
    job.refresh_from_db()
    return job, response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("ordered_at_type", ["datetime", "text"])
def test_the_dry_run_and_the_job_refuse_what_the_track_screen_refuses(
    client, marketer, source, fake_segment, immediate_tasks, ordered_at_type
):
    client.force_login(marketer)
    # Revenue mapped as text: "19.99" would leave as a string, which Segment's revenue is not.
    overrides = {"revenue": {"type": "text"}, "ordered_at": {"type": ordered_at_type}}
    job, html = upload_and_dry_run(client, source, orders(), "track", overrides)

    assert (job.dry_run["valid"], job.dry_run["invalid"]) == (2, len(REFUSED))
    errors = {(row, column): reason for row, column, reason in job.dry_run["errors"]}
    # The same sentence whether the column was read as a date-time or sent as text.
    assert errors == {(row + 1, column): reason for row, (_, column, reason) in REFUSED.items()}
    assert "“2024-02-30T10:00:00Z” is not on the calendar" in html
    assert fake_segment.requests == []

    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, overrides, action="start"))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.DONE
    assert (job.sent, job.invalid, job.failed) == (2, len(REFUSED), 0)
    received = fake_segment.messages("/v1/batch")
    assert sorted(m["userId"] for m in received) == sorted(GOOD_ROWS.values())
    failures = {f.row: f.problems for f in job.failures.all()}
    assert failures == {row + 1: [[column, reason]] for row, (_, column, reason) in REFUSED.items()}


@pytest.mark.django_db
def test_one_percent_odd_cells_keep_the_majority_type_and_are_named_by_row_and_column(
    client, marketer, source, fake_segment
):
    client.force_login(marketer)
    rows = [[f"u{n}", str(n), "true", "2024-05-01T09:30:00Z"] for n in range(1, 201)]
    rows[11][1] = "ten"  # the spreadsheet's row 13 (the header is row 1)
    rows[149][2] = "maybe"  # row 151
    rows[199][3] = "2024-02-30T09:30:00Z"  # row 201
    content = csv_text(["userId", "seats", "vip", "since"], rows)
    job, html = upload_and_dry_run(client, source, content, "identify")

    assert job.proposals == {
        "userId": "text",
        "seats": "number",
        "vip": "boolean",
        "since": "datetime",
    }
    assert (job.dry_run["valid"], job.dry_run["invalid"]) == (197, 3)
    assert job.dry_run["errors"] == [
        [13, "seats", "“ten” is not a number, like 42 or 19.99."],
        [151, "vip", "“maybe” is not true or false."],
        [201, "since", "“2024-02-30T09:30:00Z” is not on the calendar: February 2024 has 29 days."],
    ]
    assert "“ten” is not a number" in html


@pytest.mark.django_db
def test_warnings_are_counted_apart_and_the_rows_are_still_sent(
    client, marketer, source, fake_segment, immediate_tasks
):
    client.force_login(marketer)
    content = csv_text(["userId", "email"], [["u1", "ann@example.com"], ["u2", "ann@"]])
    job, html = upload_and_dry_run(client, source, content, "identify")

    assert (job.dry_run["valid"], job.dry_run["invalid"], job.dry_run["warned"]) == (2, 0, 1)
    assert job.dry_run["warnings"] == [
        [3, "email", "“ann@” does not look like an email address: check it before sending."]
    ]
    assert "1 with warnings" in html
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    job.refresh_from_db()
    assert (job.status, job.sent, job.failed) == (Status.DONE, 2, 0)
    assert sorted(m["userId"] for m in fake_segment.messages("/v1/batch")) == ["u1", "u2"]


@pytest.mark.django_db
def test_a_number_cell_with_more_digits_than_python_reads_is_a_row_problem(
    client, marketer, source, fake_segment
):
    client.force_login(marketer)
    rows = [[f"u{n}", str(n)] for n in range(1, 201)]
    rows[4][1] = "1" * 5000  # the spreadsheet's row 6
    job, _html = upload_and_dry_run(client, source, csv_text(["userId", "seats"], rows), "identify")
    assert job.proposals["seats"] == "number"
    assert (job.dry_run["valid"], job.dry_run["invalid"]) == (199, 1)
    [(row, column, reason)] = job.dry_run["errors"]
    assert (row, column) == (6, "seats")
    assert reason.endswith("is too large a number.")
