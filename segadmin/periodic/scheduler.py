"""Running the due periodic jobs, and keeping exactly one runner queued."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.tasks import TaskResultStatus, task_backends
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from segadmin.periodic import Job, registered
from segadmin.periodic.models import PeriodicJob

logger = logging.getLogger("segadmin.periodic")


class CannotSchedule(Exception):
    """The task backend cannot run a task later (django-tasks-db can)."""


def _rows(jobs: list[Job]) -> None:
    # A new job is due at once.
    now = timezone.now()
    for job in jobs:
        PeriodicJob.objects.get_or_create(name=job.name, defaults={"next_run_at": now})


def run_due() -> list[str]:
    """Run every registered job that is due; returns the names of those this call ran.

    Each run is claimed by one conditional UPDATE that also moves the job's next run on, so
    runners working at the same time never run a job twice in one interval. A job that fails
    is logged and recorded on its row; the others still run, and it runs again next time.
    """
    jobs = registered()
    _rows(jobs)
    ran = []
    for job in jobs:
        now = timezone.now()
        claimed = PeriodicJob.objects.filter(name=job.name, next_run_at__lte=now).update(
            next_run_at=now + job.every(), last_started_at=now
        )
        if not claimed:
            continue
        error = ""
        try:
            job.run()
        except Exception as exc:  # logged (BLE allows that): one failing job must not stop the rest
            logger.exception("Periodic job %s failed", job.name)
            error = f"{type(exc).__name__}: {exc}"[:2000]
        PeriodicJob.objects.filter(name=job.name).update(
            last_finished_at=timezone.now(), last_error=error
        )
        ran.append(job.name)
    return ran


def ensure_scheduled() -> datetime | None:
    """Queue the runner for when the next job is due, unless one is queued for then already.

    Returns when the queued runner will run (None without any job). The check and the enqueue
    run under a lock on the job rows, so starts and runners at the same time queue one runner.
    """
    from segadmin.periodic.tasks import run_periodic_jobs

    jobs = registered()
    if not jobs:
        return None
    if not task_backends[run_periodic_jobs.backend].supports_defer:
        raise CannotSchedule(
            "Periodic jobs need a task backend that can run a task later (run_after), such as "
            "django_tasks_db.DatabaseBackend in TASKS."
        )
    _rows(jobs)
    with transaction.atomic():
        rows = PeriodicJob.objects.select_for_update().filter(name__in=[j.name for j in jobs])
        due = max(min(row.next_run_at for row in rows.order_by("name")), timezone.now())
        waiting = DBTaskResult.objects.filter(
            task_path=run_periodic_jobs.module_path, status=TaskResultStatus.READY
        )
        queued = waiting.filter(run_after__lte=due).order_by("run_after").first()
        if queued is not None:
            run_after: datetime = queued.run_after
            return run_after
        # None waiting, or only one for later than needed (a job was added): queue one for
        # then; the later one finds it waiting when it runs, and queues no successor.
        run_periodic_jobs.using(run_after=due).enqueue()
    return due
