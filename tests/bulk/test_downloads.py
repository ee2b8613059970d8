"""The CSV files an import offers open safely in a spreadsheet (no cell runs as a formula),
and a failed-rows file comes back through the upload with exactly the values it went out with."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from segadmin.bulk.models import BulkJob
from tests.bulk.conftest import csv_text, mapping_post, upload

pytestmark = pytest.mark.django_db

HEADER = ["userId", "visits", "note", "+plan"]
# The first data row (the spreadsheet's row 2) has no user ID, so it is invalid; its cells are
# what a spreadsheet would run, or look quoted.
RISKY = ["-5", '=HYPERLINK("http://x")', "'quoted"]


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def finished(client, marketer, source, fake_segment, immediate_tasks):
    client.force_login(marketer)
    content = csv_text(HEADER, [["", *RISKY], ["u2", "3", "@home", "pro"]])
    upload(client, content, source=source)
    job = BulkJob.objects.get()
    client.post(
        f"/bulk/{job.pk}/", mapping_post(job, {"visits": {"type": "number"}}, action="start")
    )
    job.refresh_from_db()
    assert (job.sent, job.invalid, job.failed) == (1, 1, 0)
    return job


def test_the_failed_rows_download_prefixes_every_cell_a_spreadsheet_would_run(client, finished):
    rows = read_csv(client.get(f"/bulk/{finished.pk}/failed-rows/"))
    assert rows[0] == ["userId", "visits", "note", "'+plan", "segadmin_error"]
    assert rows[1][:4] == ["", "'-5", '\'=HYPERLINK("http://x")', "''quoted"]


def test_the_error_report_prefixes_every_cell_a_spreadsheet_would_run(
    client, marketer, source, fake_segment
):
    client.force_login(marketer)
    upload(client, csv_text(["userId", "=cmd"], [["u1", "maybe"]]), source=source)
    job = BulkJob.objects.get()
    client.post(
        f"/bulk/{job.pk}/", mapping_post(job, {"=cmd": {"type": "boolean"}}, action="dry_run")
    )
    rows = read_csv(client.get(f"/bulk/{job.pk}/errors.csv"))
    assert rows[1][:2] == ["2", "'=cmd"]  # row 2: the header is row 1


def test_a_failed_rows_file_uploaded_again_gives_back_the_same_values(
    client, source, finished, fake_segment
):
    rows = read_csv(client.get(f"/bulk/{finished.pk}/failed-rows/"))
    rows[1][0] = "u1"  # the fix: a user ID; everything else goes back as downloaded
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    response = client.post(
        "/bulk/",
        {
            "file": SimpleUploadedFile("fixed.csv", out.getvalue().encode()),
            "call_type": "identify",
            "source": source.pk,
        },
    )
    assert response.status_code == 302
    again = BulkJob.objects.get(file_name="fixed.csv")
    assert again.columns == [*HEADER, "segadmin_error"]
    assert again.proposals["visits"] == "number"
    assert again.examples[0][:4] == ["u1", *RISKY]
    client.post(f"/bulk/{again.pk}/", mapping_post(again, action="start"))
    again.refresh_from_db()
    assert (again.sent, again.failed) == (1, 0)
    traits = {m["userId"]: m["traits"] for m in fake_segment.messages("/v1/batch")}
    assert traits["u1"] == {"visits": -5, "note": RISKY[1], "+plan": "'quoted"}


def test_a_file_of_one_s_own_keeps_its_leading_quotes(client, marketer, source):
    client.force_login(marketer)
    upload(client, csv_text(["userId", "note"], [["u1", "'quoted"], ["u2", "'-5"]]), source=source)
    job = BulkJob.objects.get()
    assert [row[1] for row in job.examples] == ["'quoted", "'-5"]
