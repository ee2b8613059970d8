"""A sample file per call type, served by the app: it parses, its columns are mapped as the
mapping proposes, and it passes the dry run as it is."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from segadmin.bulk.models import BulkJob
from segadmin.bulk.plan import CALL_TARGETS, FIELD
from tests.bulk.conftest import mapping_post
from tests.factories import login

pytestmark = pytest.mark.django_db

EXPECTED_TARGETS = {
    "identify": ["user_id", "field", "field", "field", "field"],
    "track": ["user_id", "event", "timestamp", "field", "field", "field"],
    "group": ["user_id", "group_id", "field", "field", "field"],
}


@pytest.mark.parametrize("call_type", sorted(CALL_TARGETS))
def test_each_sample_parses_maps_and_passes_the_dry_run(admin_user, source, call_type):
    client = login(admin_user)
    page = client.get("/bulk/").content.decode()
    assert f'href="/bulk/samples/{call_type}.csv"' in page
    response = client.get(f"/bulk/samples/{call_type}.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    name = f"segadmin-sample-{call_type}.csv"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) == 4 and all(len(row) == len(rows[0]) for row in rows)

    upload = client.post(
        "/bulk/",
        {
            "file": SimpleUploadedFile(name, response.content, content_type="text/csv"),
            "call_type": call_type,
            "source": source.pk,
        },
    )
    assert upload.status_code == 302, upload.content.decode()[-2000:]
    job = BulkJob.objects.get()
    assert [m["target"] for m in job.mapping] == EXPECTED_TARGETS[call_type]
    assert all(m["target"] != FIELD or m["column"] for m in job.mapping)
    dry = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="dry_run"))
    assert dry.status_code == 200
    job.refresh_from_db()
    counts = (job.dry_run["valid"], job.dry_run["invalid"], job.dry_run["warned"])
    assert counts == (3, 0, 0), job.dry_run["errors"] + job.dry_run["warnings"]


def test_a_person_gets_only_the_samples_of_the_calls_they_may_import(support, source):
    client = login(support)
    page = client.get("/bulk/").content.decode()
    assert 'href="/bulk/samples/identify.csv"' in page
    assert "/bulk/samples/track.csv" not in page
    assert client.get("/bulk/samples/identify.csv").status_code == 200
    refused = client.get("/bulk/samples/track.csv")
    assert refused.status_code == 403
    assert "may not send Track calls" in refused.content.decode()
    assert client.get("/bulk/samples/alias.csv").status_code == 404


def test_the_samples_need_a_log_in(client):
    response = client.get("/bulk/samples/identify.csv")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_migration_moves_the_invalid_rows_of_earlier_imports_out_of_failed(source):
    """Imports made before "Invalid" was counted apart had their invalid rows in "failed"."""
    from importlib import import_module

    from django.apps import apps

    from segadmin.bulk.models import BulkChunk, BulkRowResult, FailureKind

    job = BulkJob.objects.create(
        call_type="identify", file_name="old.csv", file_format="csv", total_rows=5, sent=2
    )
    BulkJob.objects.filter(pk=job.pk).update(failed=3)
    chunk = BulkChunk.objects.create(job=job, index=0, first_row=1, row_count=5, data=b"")
    BulkChunk.objects.filter(pk=chunk.pk).update(failed=3)
    for row, kind in ((2, FailureKind.INVALID), (3, FailureKind.INVALID), (4, FailureKind.REFUSED)):
        BulkRowResult.objects.create(job=job, row=row, kind=kind, problems=[], cells=[])
    migration = import_module("segadmin.bulk.migrations.0003_invalid_rows_counted_apart")
    migration.count_invalid_apart(apps, None)
    job.refresh_from_db()
    chunk.refresh_from_db()
    assert (job.sent, job.invalid, job.failed, job.remaining) == (2, 2, 1, 0)
    assert (chunk.invalid, chunk.failed) == (2, 1)


def test_an_import_s_reason_is_kept_on_the_job_and_each_batch_s_audit_entry(
    client, marketer, source, fake_segment, immediate_tasks
):
    from segadmin.audit.models import AuditEntry, Kind
    from tests.bulk.conftest import csv_text

    client.force_login(marketer)
    content = csv_text(["userId", "plan"], [["u1", "pro"], ["u2", "free"]])
    response = client.post(
        "/bulk/",
        {
            "file": SimpleUploadedFile("users.csv", content, content_type="text/csv"),
            "call_type": "identify",
            "source": source.pk,
            "reason": "MKT-42 spring migration; token: abc",
        },
    )
    assert response.status_code == 302
    job = BulkJob.objects.get()
    assert job.reason == "MKT-42 spring migration; token: ****"
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    job.refresh_from_db()
    assert (job.status, job.sent) == ("done", 2)
    entries = AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk))
    assert [e.reason for e in entries] == ["MKT-42 spring migration; token: ****"]
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert 'data-testid="job-reason">MKT-42 spring migration; token: ****<' in page


def test_an_import_needs_no_reason(client, marketer, source, fake_segment, immediate_tasks):
    from segadmin.audit.models import AuditEntry, Kind
    from tests.bulk.conftest import csv_text, upload

    client.force_login(marketer)
    assert upload(client, csv_text(["userId"], [["u1"]]), source=source).status_code == 302
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert job.reason == ""
    assert AuditEntry.objects.get(kind=Kind.REQUEST, bulk_job_id=str(job.pk)).reason == ""
