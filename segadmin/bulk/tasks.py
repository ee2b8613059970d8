"""The background task that sends a bulk import (run by ``manage.py db_worker``)."""

from __future__ import annotations

from django.tasks import task

from segadmin.bulk import jobs


@task()
def run_bulk_job(job_id: str) -> str:
    """Send the job's remaining rows; safe to run several times at once or after a crash."""
    return jobs.run_job(job_id)


@task()
def dry_run_bulk_job(job_id: str, token: str) -> None:
    """Check every row of a large file in the background (small ones are checked inline)."""
    jobs.run_dry_run(job_id, token)
