"""The periodic job runner (run by ``manage.py db_worker``)."""

from __future__ import annotations

from django.tasks import task

from segadmin.periodic import scheduler


@task()
def run_periodic_jobs() -> list[str]:
    """Run the due periodic jobs, then queue the next run; returns the names of the jobs run."""
    try:
        return scheduler.run_due()
    finally:
        scheduler.ensure_scheduled()
