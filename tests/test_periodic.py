"""Periodic jobs on django-tasks-db: one runner queued however often it is started, each job
run once per interval however many runners there are, and the runner queues its successor."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from segadmin import periodic
from segadmin.periodic import scheduler
from segadmin.periodic.models import PeriodicJob
from segadmin.periodic.tasks import run_periodic_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(monkeypatch):
    """Only the jobs a test registers; the project's own (audit.checkpoint) are put aside."""
    monkeypatch.setattr(periodic, "_jobs", {})
    calls: list[str] = []

    def add(name: str, every: timedelta = timedelta(minutes=10), fail: bool = False) -> None:
        def run() -> None:
            calls.append(name)
            if fail:
                raise RuntimeError(f"{name} went wrong")

        periodic.register(name, every=every, run=run)

    add.calls = calls  # type: ignore[attr-defined]
    return add


def queued_runners():
    return DBTaskResult.objects.filter(
        task_path=run_periodic_jobs.module_path, status=TaskResultStatus.READY
    )


def start() -> str:
    out = StringIO()
    call_command("start_periodic_jobs", stdout=out)
    return out.getvalue()


def test_the_audit_checkpoint_is_a_registered_periodic_job(settings) -> None:
    settings.SEGADMIN_AUDIT_CHECKPOINT_MINUTES = 15
    [job] = [job for job in periodic.registered() if job.name == "audit.checkpoint"]
    assert job.every() == timedelta(minutes=15)


def test_starting_twice_queues_one_runner(jobs) -> None:
    jobs("a")
    first, second = start(), start()
    assert queued_runners().count() == 1
    assert "a: every 0:10:00" in first
    assert "The periodic job runner is queued for" in second


# Transactional: the worker closes the database connection between tasks.
@pytest.mark.django_db(transaction=True)
def test_the_runner_runs_due_jobs_and_queues_the_next_run(jobs) -> None:
    jobs("a", every=timedelta(minutes=10))
    jobs("b", every=timedelta(hours=1))
    start()
    call_command("db_worker", "--batch", "--no-startup-delay", stdout=StringIO())
    assert sorted(jobs.calls) == ["a", "b"]
    [runner] = queued_runners()
    # The next run is when the first job is due again.
    assert runner.run_after == PeriodicJob.objects.get(name="a").next_run_at
    assert runner.run_after > timezone.now() + timedelta(minutes=9)


def test_a_job_runs_once_per_interval_however_many_runners_there_are(jobs) -> None:
    jobs("a")
    assert scheduler.run_due() == ["a"]
    assert scheduler.run_due() == []
    assert jobs.calls == ["a"]


def test_a_failing_job_is_recorded_and_the_others_still_run_and_the_runner_goes_on(jobs) -> None:
    jobs("a", fail=True)
    jobs("b")
    assert run_periodic_jobs.call() == ["a", "b"]
    assert PeriodicJob.objects.get(name="a").last_error == "RuntimeError: a went wrong"
    assert PeriodicJob.objects.get(name="b").last_error == ""
    assert queued_runners().count() == 1


def test_a_job_added_later_gets_an_earlier_runner(jobs) -> None:
    jobs("daily", every=timedelta(days=1))
    scheduler.run_due()
    start()
    later = queued_runners().get().run_after
    jobs("soon")
    start()
    assert queued_runners().count() == 2
    assert min(r.run_after for r in queued_runners()) < later


def test_start_refuses_a_backend_that_cannot_run_tasks_later(jobs, settings) -> None:
    jobs("a")
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    with pytest.raises(CommandError, match="can run a task later"):
        start()
