"""Recovery without a person: a worker queues again, every SEGADMIN_BULK_RESUME_MINUTES, the
imports whose worker died (as ``bulk_resume`` does when workers start), and leaves alone those
a live worker is sending."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from segadmin import periodic
from segadmin.bulk import services
from segadmin.bulk.models import BulkChunk, BulkJob, ChunkStatus, Status
from segadmin.bulk.tasks import run_bulk_job
from segadmin.periodic.models import PeriodicJob
from tests.bulk.conftest import csv_text, mapping_post, upload

ROWS = 1_200
CHUNK = 500


def the_resume_job() -> periodic.Job:
    [job] = [job for job in periodic.registered() if job.name == "bulk.resume"]
    return job


def test_resuming_stalled_imports_is_a_periodic_job_every_five_minutes_by_default(settings):
    assert the_resume_job().every() == timedelta(minutes=5)
    settings.SEGADMIN_BULK_RESUME_MINUTES = 2
    assert the_resume_job().every() == timedelta(minutes=2)


def started(client, source, prefix: str) -> BulkJob:
    """An import started from its page, whose task a worker took (and maybe died with)."""
    rows = [[f"{prefix}-{i}", str(i)] for i in range(1, ROWS + 1)]
    assert upload(client, csv_text(["userId", "n"], rows), source=source).status_code == 302
    job = BulkJob.objects.get(status=Status.DRAFT)
    assert client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start")).status_code == 302
    # A worker took its task: django-tasks-db leaves it RUNNING if that worker dies.
    DBTaskResult.objects.filter(
        task_path=run_bulk_job.module_path, status=TaskResultStatus.READY
    ).update(status=TaskResultStatus.RUNNING, started_at=timezone.now())
    BulkJob.objects.filter(pk=job.pk).update(status=Status.RUNNING, started_at=timezone.now())
    job.refresh_from_db()
    return job


def queued_runs(job: BulkJob) -> int:
    return sum(
        1
        for result in DBTaskResult.objects.filter(
            task_path=run_bulk_job.module_path, status=TaskResultStatus.READY
        )
        if result.args_kwargs["args"] == [str(job.pk)]
    )


# Transactional: the worker runs the tasks in-process and closes its connection between them.
@pytest.mark.django_db(transaction=True)
def test_the_periodic_job_resumes_an_import_whose_worker_died_and_leaves_a_healthy_one_alone(
    client, marketer, source, fake_segment, settings, monkeypatch
):
    monkeypatch.setattr("segadmin.bulk.parsing.CHUNK_ROWS", CHUNK)
    settings.SEGADMIN_BULK_LEASE_SECONDS = 60
    client.force_login(marketer)
    dead = started(client, source, "dead")
    healthy = started(client, source, "healthy")
    long_ago = timezone.now() - timedelta(minutes=10)
    # The dead worker claimed the first chunk and was never heard of again: its lease ran out.
    BulkChunk.objects.filter(job=dead, index=0).update(
        status=ChunkStatus.RUNNING, claimed_by="a-dead-worker", lease_until=long_ago
    )
    BulkJob.objects.filter(pk=dead.pk).update(heartbeat_at=long_ago)
    # The healthy one's worker reported a moment ago and holds its claim.
    BulkChunk.objects.filter(job=healthy, index=0).update(
        status=ChunkStatus.RUNNING,
        claimed_by="a-live-worker",
        lease_until=timezone.now() + timedelta(minutes=1),
    )
    BulkJob.objects.filter(pk=healthy.pk).update(heartbeat_at=timezone.now())
    assert (queued_runs(dead), queued_runs(healthy)) == (0, 0)

    # Nobody runs bulk_resume or presses Resume: the periodic runner is all there is.
    call_command("start_periodic_jobs", stdout=StringIO())
    call_command("db_worker", "--batch", "--no-startup-delay", stdout=StringIO())

    assert PeriodicJob.objects.get(name="bulk.resume").last_finished_at is not None
    dead.refresh_from_db()
    assert dead.status == Status.DONE
    assert (dead.sent, dead.failed, dead.remaining) == (ROWS, 0, 0)
    healthy.refresh_from_db()
    assert healthy.status == Status.RUNNING
    assert healthy.sent == 0
    assert queued_runs(healthy) == 0
    received = [m["userId"] for m in fake_segment.messages("/v1/batch")]
    assert sorted(received) == sorted(f"dead-{i}" for i in range(1, ROWS + 1))


@pytest.mark.django_db
def test_the_periodic_job_ends_a_stalled_import_whose_uploader_was_deactivated(
    client, marketer, source, fake_segment
):
    client.force_login(marketer)
    job = started(client, source, "gone")
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    marketer.is_active = False
    marketer.save()

    the_resume_job().run()

    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "maria, who uploaded this import, is deactivated." in job.error
    assert queued_runs(job) == 0


@pytest.mark.django_db(transaction=True)
def test_a_resumed_import_is_queued_for_every_worker_it_may_use(client, marketer, source, settings):
    # As Start does: each worker that may share the import (SEGADMIN_BULK_PARALLEL) gets a run.
    settings.SEGADMIN_BULK_PARALLEL = 3
    client.force_login(marketer)
    job = started(client, source, "again")
    assert queued_runs(job) == 0  # Start's three runs were taken by workers that then died
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    resumed, stopped = services.resume_stalled()
    assert [item.pk for item in resumed] == [job.pk] and stopped == []
    assert queued_runs(job) == 3
