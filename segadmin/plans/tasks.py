"""The background import of a workspace's tracking plans (run by ``manage.py db_worker``).

Segment allows 200 reads of rules a minute, so an import can take minutes: the screens queue
a ``TrackingPlanImport`` and this task, and the import's page shows its progress, then what
it changed. The fetching and storing are the sending layer's (``sending.plans``), as when an
import ran in the request.
"""

from __future__ import annotations

import logging

from django.tasks import task
from django.utils import timezone

from segadmin.audit.log import Actor
from segadmin.credentials.models import TrackingPlanImport
from segadmin.sending.plans import import_tracking_plans

log = logging.getLogger("segadmin.plans")

Status = TrackingPlanImport.Status


def _actor(job: TrackingPlanImport) -> Actor:
    who = job.actor or {}
    return Actor(
        user=job.requested_by,
        username=who.get("username", "") or "tracking-plan import",
        role=who.get("role", ""),
        ip=who.get("ip"),
        user_agent=who.get("user_agent", ""),
    )


def run_import(import_id: str) -> str:
    """Run a queued import to its end; its status at the end. A second run of the same
    import (a task delivered twice) finds it taken and does nothing."""
    job = TrackingPlanImport.objects.select_related("workspace", "requested_by").filter(
        pk=import_id
    )
    found = job.first()
    if found is None:
        return "missing"
    if not job.filter(status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=timezone.now()
    ):
        return found.status

    def progress(step: str, requests: int) -> None:
        job.update(step=step[:500], requests=requests)

    try:
        report = import_tracking_plans(found.workspace, actor=_actor(found), progress=progress)
    except Exception as exc:
        log.exception("Tracking-plan import %s stopped by an unexpected error", import_id)
        job.update(
            status=Status.FAILED,
            error=(
                f"An unexpected error stopped this import ({type(exc).__name__}). Nothing was "
                "stored: sending goes on with the plans imported before. The server log has "
                "the details."
            ),
            finished_at=timezone.now(),
        )
        return Status.FAILED
    job.update(
        status=Status.DONE,
        report={"error": report.error, "plans": [plan.as_details() for plan in report.plans]},
        step="",
        finished_at=timezone.now(),
    )
    return Status.DONE


@task()
def import_tracking_plans_task(import_id: str) -> str:
    return run_import(import_id)
