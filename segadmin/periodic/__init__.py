"""Periodic jobs on django-tasks-db, which has no scheduler of its own.

An app registers a job in its ``AppConfig.ready()``::

    periodic.register("audit.checkpoint", every=lambda: timedelta(hours=1), run=checkpoint_head)

One task, ``run_periodic_jobs`` (tasks.py), runs the jobs that are due and queues itself again
(``run_after``) for when the next one is. ``manage.py start_periodic_jobs`` queues it when the
workers start. Both are idempotent: a job runs once per interval however many runners or
workers there are (each run is claimed by one conditional UPDATE of its ``PeriodicJob`` row),
and a runner is queued only when none is waiting already (checked under a lock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Job:
    name: str
    every: Callable[[], timedelta]  # read when scheduling, so settings may change it
    run: Callable[[], object]


_jobs: dict[str, Job] = {}


def register(
    name: str, *, every: timedelta | Callable[[], timedelta], run: Callable[[], object]
) -> None:
    """Run ``run()`` every ``every`` (a timedelta, or a function returning one) in a worker."""
    interval = every if callable(every) else (lambda: every)
    _jobs[name] = Job(name=name, every=interval, run=run)


def registered() -> list[Job]:
    return sorted(_jobs.values(), key=lambda job: job.name)
