"""The bulk import pages: refusals at upload, who sees which import, the live progress
fragment, cancel, Segment refusing a batch, and the failed rows download that goes back in."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from segadmin.audit.models import AuditEntry, Kind
from segadmin.bulk import services, worker
from segadmin.bulk.models import BulkChunk, BulkJob, FailureKind, Status
from tests.bulk.conftest import WRITE_KEY, csv_text, mapping_post, upload

pytestmark = pytest.mark.django_db


def test_a_bad_file_is_refused_at_upload_with_its_reason_and_nothing_is_kept(
    client, marketer, source, fake_segment
):
    client.force_login(marketer)
    response = upload(client, b"userId,plan\nu1,pro\nu2\n", source=source)
    assert response.status_code == 422
    page = response.content.decode()
    assert "Row 3 has 1 values where the header has 2 columns" in page  # the header is row 1
    assert "Nothing was imported" in page
    assert BulkJob.objects.count() == 0
    assert BulkChunk.objects.count() == 0
    assert fake_segment.requests == []


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read(
    client, marketer, source, settings
):
    settings.SEGADMIN_BULK_MAX_BYTES = 100
    client.force_login(marketer)
    response = upload(client, b"userId\n" + b"u123456789\n" * 20, source=source)
    assert response.status_code == 422
    assert "one import takes at most 100 bytes" in response.content.decode()
    assert BulkJob.objects.count() == 0


def test_a_file_over_the_row_limit_is_refused(client, marketer, source, settings):
    settings.SEGADMIN_BULK_MAX_ROWS = 3
    client.force_login(marketer)
    response = upload(client, csv_text(["userId"], [[f"u{i}"] for i in range(4)]), source=source)
    assert "more than 3 rows" in response.content.decode()
    assert BulkJob.objects.count() == 0


def test_a_disabled_source_cannot_be_chosen(client, marketer, source):
    source.enabled = False
    source.save()
    client.force_login(marketer)
    response = upload(client, csv_text(["userId"], [["u1"]]), source=source)
    assert response.status_code == 422
    assert "That source does not exist or is disabled" in response.content.decode()


def test_no_page_ever_shows_the_write_key(client, marketer, source, immediate_tasks):
    client.force_login(marketer)
    upload(client, csv_text(["userId"], [["u1"]]), source=source)
    job = BulkJob.objects.get()
    pages = [client.get("/bulk/"), client.get(f"/bulk/{job.pk}/")]
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    pages += [client.get(f"/bulk/{job.pk}/"), client.get(f"/bulk/{job.pk}/progress/")]
    for response in pages:
        body = response.content.decode()
        assert WRITE_KEY not in body and WRITE_KEY[-4:] not in body


def test_a_marketer_sees_only_their_own_imports_and_support_sees_all(
    client, marketer, support, source
):
    client.force_login(support)
    upload(client, csv_text(["userId"], [["u1"]]), name="support.csv", source=source)
    theirs = BulkJob.objects.get()
    client.force_login(marketer)
    assert "support.csv" not in client.get("/bulk/").content.decode()
    assert client.get(f"/bulk/{theirs.pk}/").status_code == 404
    assert client.get(f"/bulk/{theirs.pk}/failed-rows/").status_code == 404
    assert client.post(f"/bulk/{theirs.pk}/cancel/").status_code == 404
    upload(client, csv_text(["userId"], [["u1"]]), name="mine.csv", source=source)
    client.force_login(support)
    listing = client.get("/bulk/").content.decode()
    assert "support.csv" in listing and "mine.csv" in listing


def test_a_user_without_a_role_cannot_upload(client, no_role_user, source):
    client.force_login(no_role_user)
    assert client.get("/bulk/").status_code == 403
    assert upload(client, csv_text(["userId"], [["u1"]]), source=source).status_code == 403


def test_the_progress_fragment_polls_every_second_while_the_job_is_active(client, marketer, source):
    client.force_login(marketer)
    upload(client, csv_text(["userId"], [[f"u{i}"] for i in range(10)]), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))  # queued: no worker here
    job.refresh_from_db()
    assert job.status == Status.QUEUED
    fragment = client.get(f"/bulk/{job.pk}/progress/", headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert "<html" not in html
    assert 'aria-valuenow="0"' in html and "bulk-w-0" in html
    assert "Waiting for a worker" in html
    BulkJob.objects.filter(pk=job.pk).update(status=Status.RUNNING, sent=4, failed=1)
    html = client.get(f"/bulk/{job.pk}/progress/", headers={"HX-Request": "true"}).content.decode()
    assert 'aria-valuenow="50"' in html and "bulk-w-50" in html
    assert 'data-testid="remaining">5<' in html


def test_when_the_job_ends_the_fragment_stops_polling_and_reloads_the_page(
    client, marketer, source, immediate_tasks, fake_segment
):
    client.force_login(marketer)
    upload(client, csv_text(["userId"], [["u1"]]), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    response = client.get(f"/bulk/{job.pk}/progress/", headers={"HX-Request": "true"})
    assert response["HX-Refresh"] == "true"
    assert "hx-trigger" not in response.content.decode()
    assert 'aria-valuenow="100"' in response.content.decode()


def test_a_stalled_job_offers_resume(client, marketer, source, settings):
    client.force_login(marketer)
    upload(client, csv_text(["userId"], [["u1"]]), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    settings.SEGADMIN_BULK_LEASE_SECONDS = 0
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert "the worker may have stopped" in page
    assert client.post(f"/bulk/{job.pk}/resume/").status_code == 302


def test_cancel_stops_a_queued_job_before_anything_is_sent(client, marketer, source, fake_segment):
    client.force_login(marketer)
    upload(client, csv_text(["userId"], [[f"u{i}"] for i in range(10)]), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert client.post(f"/bulk/{job.pk}/cancel/").status_code == 302
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert worker.run_job(str(job.pk)) == Status.CANCELLED  # the queued task finds it cancelled
    assert fake_segment.requests == []
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert "10 never sent (the import was cancelled)" in page


def test_cancel_during_a_run_stops_after_the_chunk_in_flight(
    client, marketer, source, fake_segment, monkeypatch
):
    monkeypatch.setattr("segadmin.bulk.parsing.CHUNK_ROWS", 10)
    client.force_login(marketer)
    upload(client, csv_text(["userId"], [[f"u{i}"] for i in range(50)]), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    real = worker._send_and_record

    def send_then_cancel(*args, **kwargs):
        real(*args, **kwargs)
        services.cancel(job)

    monkeypatch.setattr(worker, "_send_and_record", send_then_cancel)
    assert worker.run_job(str(job.pk)) == Status.CANCELLED
    job.refresh_from_db()
    assert (job.sent, job.failed, job.remaining) == (10, 0, 40)
    assert len(fake_segment.messages("/v1/batch")) == 10


def test_a_batch_segment_refuses_fails_its_rows_with_the_answer_and_the_audit_entry(
    client, marketer, source, fake_segment, immediate_tasks
):
    fake_segment.queue_faults([{"status": 400, "body": '{"code": "invalid", "message": "nope"}'}])
    client.force_login(marketer)
    upload(client, csv_text(["userId", "plan"], [["u1", "pro"], ["u2", "free"]]), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    job.refresh_from_db()
    assert job.status == Status.DONE
    # What Segment refused is "Failed"; nothing here is "Invalid" (the checks passed it).
    assert (job.sent, job.invalid, job.failed) == (0, 0, 2)
    failure = job.failures.first()
    assert failure.kind == FailureKind.REFUSED
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert "Failed: refused by Segment" in page and "Download the failed rows" in page
    assert '<dd class="col-6 col-md-2" data-testid="invalid">0</dd>' in page
    assert "2 failed (refused by Segment or lost on the network)" in page
    assert failure.reason.startswith("Segment answered 400")
    entry = AuditEntry.objects.get(pk=failure.audit_entry_id)
    assert entry.kind == Kind.REQUEST and entry.bulk_job_id == str(job.pk)
    assert entry.outcome == "rejected"


def test_a_refusal_that_quotes_the_write_key_is_kept_with_the_key_masked(
    client, marketer, source, fake_segment, immediate_tasks
):
    import base64

    key = source.write_key()
    quoted = f"{key} {base64.b64encode(f'{key}:'.encode()).decode()} {key.encode().hex()}"
    body = f'{{"code": "invalid", "message": "bad key {quoted}", "writeKey": "{key}"}}'
    fake_segment.queue_faults([{"status": 400, "body": body}])
    client.force_login(marketer)
    upload(client, csv_text(["userId"], [["u1"]]), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    failure = BulkJob.objects.get().failures.get()
    assert "bad key **** **** ****" in failure.reason
    assert key not in failure.reason
    assert key.encode().hex() not in failure.reason


def test_a_source_disabled_mid_job_stops_it_with_a_reason(
    client, marketer, source, fake_segment, immediate_tasks
):
    client.force_login(marketer)
    upload(client, csv_text(["userId"], [["u1"]]), source=source)
    job = BulkJob.objects.get()
    source.enabled = False
    source.save()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "was disabled" in job.error
    assert fake_segment.requests == []
    assert "was disabled" in client.get(f"/bulk/{job.pk}/").content.decode()


def test_failed_rows_download_as_a_csv_that_can_be_fixed_and_uploaded_again(
    client, marketer, source, fake_segment, immediate_tasks
):
    client.force_login(marketer)
    content = csv_text(["userId", "visits"], [["u1", "3"], ["", "4"], ["u3", "lots"], ["u4", "5"]])
    upload(client, content, source=source)
    job = BulkJob.objects.get()
    client.post(
        f"/bulk/{job.pk}/", mapping_post(job, {"visits": {"type": "number"}}, action="start")
    )
    job.refresh_from_db()
    assert (job.sent, job.invalid, job.failed) == (2, 2, 0)

    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert "Add a User ID or an Anonymous ID." in page
    assert "Invalid: not sent" in page and "Download the invalid rows" in page
    download = client.get(f"/bulk/{job.pk}/failed-rows/")
    text = b"".join(download.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["userId", "visits", "segadmin_error"]
    assert [r[:2] for r in rows[1:]] == [["", "4"], ["u3", "lots"]]
    assert "is not a number" in rows[2][2]

    # Fixed in a spreadsheet and uploaded again: the error column is skipped.
    fixed = text.replace("\r\n,4,", "\r\nu2,4,").replace("u3,lots", "u3,6")
    response = client.post(
        "/bulk/",
        {
            "file": SimpleUploadedFile("fixed.csv", fixed.encode()),
            "call_type": "identify",
            "source": source.pk,
        },
    )
    assert response.status_code == 302
    again = BulkJob.objects.get(file_name="fixed.csv")
    assert [m["target"] for m in again.mapping] == ["user_id", "field", "skip"]
    client.post(
        f"/bulk/{again.pk}/", mapping_post(again, {"visits": {"type": "number"}}, action="start")
    )
    again.refresh_from_db()
    assert (again.sent, again.failed) == (2, 0)
    traits = {m["userId"]: m["traits"] for m in fake_segment.messages("/v1/batch")}
    assert traits["u2"] == {"visits": 4} and traits["u3"] == {"visits": 6}
