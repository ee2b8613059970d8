"""A job from upload to the fake: in-process (ImmediateBackend) and through a real db_worker."""

from __future__ import annotations

import pytest
from django_tasks_db.models import DBTaskResult

from segadmin.audit.chain import verify_chain
from segadmin.audit.models import AuditEntry, Kind
from segadmin.bulk.models import BulkJob, Status
from segadmin.bulk.plan import message_id
from tests.bulk.conftest import csv_text, mapping_post, upload


def make_rows(n: int, *, bad_every: int = 0) -> bytes:
    rows = []
    for i in range(1, n + 1):
        user = "" if bad_every and i % bad_every == 0 else f"user-{i}"
        rows.append([user, f"u{i}@example.com", str(i % 7), "true"])
    return csv_text(["userId", "email", "visits", "vip"], rows)


def start_job(client, source, content: bytes) -> BulkJob:
    response = upload(client, content, source=source)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = BulkJob.objects.get()
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert response.status_code == 302
    return job


@pytest.mark.django_db
def test_a_job_runs_end_to_end_in_process(client, marketer, source, fake_segment, immediate_tasks):
    client.force_login(marketer)
    job = start_job(client, source, make_rows(6_000, bad_every=1000))

    job.refresh_from_db()
    assert job.status == Status.DONE
    assert (job.sent, job.invalid, job.failed, job.remaining) == (5_994, 6, 0, 0)
    received = fake_segment.messages("/v1/batch")
    assert len(received) == 5_994
    first = next(m for m in received if m["userId"] == "user-1")
    assert first["traits"] == {"email": "u1@example.com", "visits": 1, "vip": True}
    assert first["messageId"] == message_id(job.id, 2)  # its row: the header is row 1
    assert first["context"]["library"]["name"] == "segadmin"
    # Every batch request is in the audit log under the job, by the person who started it.
    entries = AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk))
    assert entries.count() == job.requests >= 3
    assert {e.username for e in entries} == {"maria"}
    assert {e.outcome for e in entries} == {"sent"}
    assert verify_chain().ok
    # Data rows 1,000, 2,000... are the spreadsheet's rows 1,001, 2,001... under the header.
    assert sorted(job.failures.values_list("row", flat=True)) == [1000 * k + 1 for k in range(1, 7)]

    page = client.get(f"/bulk/{job.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Download the invalid rows" in html
    assert '<dd class="col-6 col-md-2" data-testid="invalid">6</dd>' in html
    assert '<dd class="col-6 col-md-2" data-testid="failed">0</dd>' in html


@pytest.mark.django_db(transaction=True)
def test_a_job_runs_end_to_end_through_a_db_worker_process(
    client, marketer, source, fake_segment, start_worker
):
    client.force_login(marketer)
    job = start_job(client, source, make_rows(3_000))
    assert BulkJob.objects.get().status == Status.QUEUED

    worker = start_worker("--batch")
    assert worker.wait(timeout=120) == 0, worker.stdout.read().decode()

    job.refresh_from_db()
    assert job.status == Status.DONE, job.error
    assert (job.sent, job.failed) == (3_000, 0)
    ids = [m["messageId"] for m in fake_segment.messages("/v1/batch")]
    assert len(ids) == len(set(ids)) == 3_000
    assert AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk)).count() >= 2
    # The task itself ended cleanly (its sending thread closed its own connection).
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


@pytest.mark.django_db
def test_a_json_lines_group_job_sends_typed_traits(
    client, marketer, source, fake_segment, immediate_tasks
):
    import json

    lines = [
        {"userId": "u1", "groupId": "acme", "name": "Acme", "employees": 50, "tags": ["b2b"]},
        {"userId": "u2", "groupId": 7, "name": "Seven", "employees": None},
        {"userId": "u3", "name": "No group"},
    ]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    client.force_login(marketer)
    assert (
        upload(client, content, name="groups.jsonl", call_type="group", source=source).status_code
        == 302
    )
    job = BulkJob.objects.get()
    assert [m["target"] for m in job.mapping] == ["user_id", "group_id", "field", "field", "field"]
    assert job.proposals["employees"] == "number" and job.proposals["tags"] == "json"
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    job.refresh_from_db()
    assert (job.sent, job.invalid, job.failed) == (2, 1, 0)
    sent = {m["groupId"]: m for m in fake_segment.messages("/v1/batch")}
    assert sent["acme"]["traits"] == {"name": "Acme", "employees": 50, "tags": ["b2b"]}
    assert sent["7"]["traits"] == {"name": "Seven", "employees": None}
    assert job.failures.get().problems == [["groupId", "Add a Group ID."]]
    download = client.get(f"/bulk/{job.pk}/failed-rows/")
    assert download["Content-Disposition"].endswith('.jsonl"')
    line = json.loads(b"".join(download.streaming_content))
    assert line == {**lines[2], "segadmin_error": "groupId: Add a Group ID."}
