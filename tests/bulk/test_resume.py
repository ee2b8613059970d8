"""Interruptions: a worker killed mid-job, then resumed, delivers every row and none twice
after Segment's dedup; two workers sharing a job never send the same row."""

from __future__ import annotations

import io
import time
from collections import Counter

import pytest
from django.core.management import call_command

from segadmin.bulk.models import BulkChunk, BulkJob, ChunkStatus, Status
from tests.bulk.conftest import csv_text, mapping_post, postgres_only, upload, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = 500


def start_job(client, source, rows: int) -> BulkJob:
    content = csv_text(["userId", "n"], [[f"user-{i}", str(i)] for i in range(1, rows + 1)])
    assert upload(client, content, source=source).status_code == 302
    job = BulkJob.objects.get()
    assert client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start")).status_code == 302
    return job


def test_a_worker_killed_mid_job_is_resumed_and_every_row_arrives_once(
    client, marketer, source, fake_segment, start_worker, settings, monkeypatch
):
    monkeypatch.setattr("segadmin.bulk.parsing.CHUNK_ROWS", CHUNK)
    settings.SEGADMIN_BULK_LEASE_SECONDS = 2
    client.force_login(marketer)
    job = start_job(client, source, 6_000)
    fake_segment.set_latency(300)  # slow enough to kill the worker mid-job

    first = start_worker(env={"SEGADMIN_BULK_LEASE_SECONDS": "2"})
    wait_for(lambda: BulkJob.objects.get().sent >= 1_000, timeout=90, what="a first chunks sent")
    first.kill()
    first.wait(timeout=10)
    job.refresh_from_db()
    assert job.status == Status.RUNNING
    assert 1_000 <= job.sent < 6_000
    fake_segment.set_latency(0)

    # Its task died with it, so nothing takes the job over until it is resumed (at worker
    # start-up, or from the page), once the dead worker's claims have run out.
    time.sleep(2.1)
    out = io.StringIO()
    call_command("bulk_resume", stdout=out)
    assert f"Resumed {job.pk}" in out.getvalue()
    second = start_worker("--batch", env={"SEGADMIN_BULK_LEASE_SECONDS": "2"})
    assert second.wait(timeout=120) == 0, second.stdout.read().decode()

    job.refresh_from_db()
    assert job.status == Status.DONE
    assert (job.sent, job.failed, job.remaining) == (6_000, 0, 0)
    assert not BulkChunk.objects.exclude(status=ChunkStatus.DONE).exists()
    accepted = [m["messageId"] for m in fake_segment.messages("/v1/batch")]
    assert len(accepted) == len(set(accepted)) == 6_000
    user_ids = Counter(m["userId"] for m in fake_segment.messages("/v1/batch"))
    assert set(user_ids.values()) == {1}
    # At most the chunk in flight when the worker died was sent twice; Segment dropped it.
    duplicates = fake_segment.received("/v1/batch", status="discarded:duplicate")
    assert len(duplicates) <= CHUNK


@postgres_only
def test_two_workers_on_one_job_never_send_the_same_row(
    client, marketer, source, fake_segment, start_worker, settings, monkeypatch
):
    monkeypatch.setattr("segadmin.bulk.parsing.CHUNK_ROWS", CHUNK)
    settings.SEGADMIN_BULK_PARALLEL = 2  # one task per worker
    client.force_login(marketer)
    fake_segment.set_latency(50)
    job = start_job(client, source, 10_000)

    workers = [start_worker("--batch"), start_worker("--batch")]
    for worker in workers:
        assert worker.wait(timeout=180) == 0, worker.stdout.read().decode()

    job.refresh_from_db()
    assert job.status == Status.DONE
    assert job.sent == 10_000
    chunks = list(BulkChunk.objects.filter(job=job))
    assert {c.attempts for c in chunks} == {1}  # every chunk claimed exactly once
    assert len({c.claimed_by for c in chunks}) == 2  # and both workers took a share
    received = fake_segment.received("/v1/batch", status=None)
    assert len(received) == 10_000
    assert {r["status"] for r in received} == {"accepted"}  # no duplicate reached the fake
