"""The background tasks of bulk imports (run by ``manage.py db_worker``): thin wrappers over
the worker (worker.py) and the background dry run (dryrun.py). The screens' services queue
them; nothing they call imports this module back."""

from __future__ import annotations

from django.tasks import task

from segadmin.bulk import dryrun, worker


@task()
def run_bulk_job(job_id: str) -> str:
    """Send the job's remaining rows; safe to run several times at once or after a crash."""
    return worker.run_job(job_id)


@task()
def dry_run_bulk_job(job_id: str, token: str) -> None:
    """Check every row of a large file in the background (small ones are checked inline)."""
    dryrun.run_dry_run(job_id, token)
