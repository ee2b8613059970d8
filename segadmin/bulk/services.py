"""Bulk import services, what the screens call: create a job from an upload, dry-run it, start,
cancel and resume it, and resume every stalled job (``bulk_resume`` and the periodic job).

Imports go one way: these services queue the tasks (tasks.py), which call the worker
(worker.py); neither imports this module. Both sides share who may send (rights.py) and the
row checks (dryrun.py).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from segadmin.accounts.limits import source_refusal
from segadmin.approvals.models import Approval
from segadmin.approvals.services import request_approval
from segadmin.audit import limits as limit_events
from segadmin.audit.log import Actor, clean_reason
from segadmin.bulk import parsing
from segadmin.bulk.dryrun import (
    DRY_RUN_FAILED,
    DryRun,
    dry_run,
    dry_run_failed,
    failed_dry_run,
    iter_problems,
    iter_rows,
    plan_for,
)
from segadmin.bulk.models import ACTIVE, BulkChunk, BulkJob, Status
from segadmin.bulk.plan import event_column, planned_fields, propose_mapping
from segadmin.bulk.rights import (
    JobRefused,
    SourceRefused,
    check_uploader,
    outside_limits,
    source_upload_refusal,
    stopped_because,
    upload_refusal,
    uploader_refusal,
)
from segadmin.bulk.tasks import dry_run_bulk_job, run_bulk_job
from segadmin.bulk.worker import lease
from segadmin.credentials import production
from segadmin.credentials.models import Source

log = logging.getLogger("segadmin.bulk")

# The names the screens use, from the modules both sides share.
__all__ = [
    "DRY_RUN_FAILED",
    "DryRun",
    "JobRefused",
    "ProductionNotConfirmed",
    "SourceRefused",
    "StartRefused",
    "cancel",
    "create_job",
    "dry_run",
    "dry_run_failed",
    "is_stalled",
    "iter_problems",
    "iter_rows",
    "plan_for",
    "request_dry_run",
    "resume",
    "resume_stalled",
    "start",
    "uploader_refusal",
]


def create_job(
    *,
    stream: IO[bytes],
    name: str,
    size: int,
    call_type: str,
    source: Source,
    user: Any,
    reason: str = "",
) -> BulkJob:
    """Read the upload (raising parsing.FileRefused with the reason) and store it as a draft
    job with its chunks and a proposed mapping. Nothing is stored when the file is refused,
    nor when ``user`` may not send this call (JobRefused). ``reason`` (optional) is why the
    import is sent: kept on the job and on each of its batches' audit entries."""
    problem = upload_refusal(user, call_type)
    if problem:
        raise JobRefused(problem)
    problem = source_upload_refusal(user, source)
    if problem:
        raise SourceRefused(problem)
    max_bytes = settings.SEGADMIN_BULK_MAX_BYTES
    if size > max_bytes:
        raise parsing.FileRefused(
            f"The file is {parsing._size(size)}; one import takes at most "
            f"{parsing._size(max_bytes)}. Split it into smaller files."
        )
    with transaction.atomic():
        job = BulkJob.objects.create(
            created_by=user,
            created_by_name=user.get_username(),
            source=source,
            source_name=source.name,
            call_type=call_type,
            file_name=name[:255],
            file_format=parsing.CSV,
            file_bytes=size,
            reason=clean_reason(reason),
        )
        pending: list[BulkChunk] = []

        def on_chunk(first_row: int, count: int, data: bytes) -> None:
            pending.append(
                BulkChunk(
                    job=job,
                    index=len(pending) + done[0],
                    first_row=first_row,
                    row_count=count,
                    data=data,
                )
            )
            if len(pending) >= 5:  # at most a few MB held at a time
                done[0] += len(pending)
                BulkChunk.objects.bulk_create(pending)
                pending.clear()

        done = [0]
        scan = parsing.scan_upload(
            stream,
            name=name,
            max_rows=settings.SEGADMIN_BULK_MAX_ROWS,
            max_bytes=max_bytes,
            on_chunk=on_chunk,
        )
        BulkChunk.objects.bulk_create(pending)
        job.file_format = scan.format
        job.delimiter = scan.delimiter
        job.columns = scan.columns
        job.examples = scan.examples
        job.total_rows = scan.rows
        job.proposals = {c: parsing.propose_type(scan.samples.get(c, [])) for c in scan.columns}
        job.mapping = propose_mapping(call_type, scan.columns, job.proposals)
        tracking = source.plan_check()
        if tracking is not None:
            # The plan's names for the columns: for Track, of the one event every sampled row
            # names (the Event Name column as proposed), else of all its events.
            column = event_column(job.mapping)
            event, fields = planned_fields(
                tracking.plan, call_type, scan.samples.get(column, []) if column else []
            )
            job.planned = {"plan": tracking.plan.name, "event": event, "fields": fields}
            job.mapping = propose_mapping(call_type, scan.columns, job.proposals, fields)
        job.save()
    return job


def request_dry_run(job: BulkJob) -> None:
    """Run the dry run now for a small file, or in the background for a large one (the page
    polls for the result). Each request has a token, so an older run never overwrites a newer
    one. JobRefused when the uploader may not send the job."""
    check_uploader(job)
    if job.total_rows <= settings.SEGADMIN_BULK_INLINE_DRY_RUN_ROWS:
        try:
            job.dry_run = dry_run(job).as_json()
        except Exception as exc:  # noqa: BLE001 - logged; the page says why instead of a 500
            job.dry_run = failed_dry_run(job, exc)
        BulkJob.objects.filter(pk=job.pk).update(mapping=job.mapping, dry_run=job.dry_run)
        return
    token = uuid.uuid4().hex
    job.dry_run = {"status": "running", "token": token, "checked": 0}
    BulkJob.objects.filter(pk=job.pk).update(mapping=job.mapping, dry_run=job.dry_run)
    dry_run_bulk_job.enqueue(str(job.pk), token)
    job.refresh_from_db(fields=["dry_run"])  # an in-process backend has finished it already


class StartRefused(Exception):
    """The job may not start yet; the message says why and what to do."""


class ProductionNotConfirmed(StartRefused):
    """The job's source is a Production one and Start was not confirmed naming it (with the
    rows it sends): nothing is queued. The page shows it next to the confirmation box."""


def production_refusal(job: BulkJob, confirmation: Any) -> str:
    """Why Start may not send ``job`` to its source without ``confirmation`` ("" when it may):
    a Production source (read from the database now) needs its id or name."""
    source = Source.objects.filter(pk=job.source_id).first() if job.source_id else None
    if source is None or production.confirmed(source, confirmation):
        return ""
    return production.refusal(
        source,
        what="Nothing was started",
        asked=production.rows_question(source, job.total_rows),
        then="press Start again",
    )


def _start_refused(job: BulkJob) -> StartRefused:
    error = (job.dry_run or {}).get("error", "")
    return StartRefused(
        f"The last dry run stopped with an error ({error}), so this import cannot start. "
        "Run the dry run again; if it stops again, the server log has the details."
    )


def needs_approval(job: BulkJob) -> bool:
    """An import above SEGADMIN_APPROVAL_ROWS rows waits for an Admin other than its uploader."""
    return bool(job.total_rows > settings.SEGADMIN_APPROVAL_ROWS)


def approval_of(job: BulkJob) -> Approval | None:
    """The import's latest approval (waiting, approved or rejected), if any."""
    return (
        Approval.objects.filter(kind=Approval.Kind.BULK, target_id=str(job.pk))
        .order_by("-requested_at", "-pk")
        .first()
    )


def _what_is_approved(job: BulkJob) -> dict[str, Any]:
    """What an Admin approves of an import: its mapping, source and call type. An approval
    counts only while the import still is that (a mapping changed afterwards needs another)."""
    return {"mapping": job.mapping, "source": job.source_id, "call_type": job.call_type}


def _still_as_asked(job: BulkJob, approval: Approval) -> bool:
    asked = (approval.payload or {}).get("import")
    return bool(asked == json.loads(json.dumps(_what_is_approved(job))))


def approved(job: BulkJob) -> bool:
    """Whether the import may start as far as approvals go."""
    if not needs_approval(job):
        return True
    latest = approval_of(job)
    return (
        latest is not None
        and latest.state == Approval.State.APPROVED
        and _still_as_asked(job, latest)
    )


def approval_outdated(job: BulkJob) -> bool:
    """Whether the import was approved as it was, and has changed since."""
    latest = approval_of(job)
    return (
        latest is not None
        and latest.state == Approval.State.APPROVED
        and not _still_as_asked(job, latest)
    )


def approval_refusal(job: BulkJob) -> str:
    latest = approval_of(job)
    waiting = latest is not None and latest.state == Approval.State.WAITING
    if approval_outdated(job):
        return (
            "The mapping, source or call type changed after this import was approved: an Admin "
            "other than its uploader must approve it as it is now. Use Request approval."
        )
    return (
        f"This import has {job.total_rows:,} rows, more than {settings.SEGADMIN_APPROVAL_ROWS:,}: "
        "an Admin other than its uploader must approve it before it starts"
        + (" (it is waiting for approval)." if waiting else ": use Request approval.")
    )


def request_start_approval(job: BulkJob, actor: Actor, reason: str) -> Approval:
    """Ask for the approval a large import needs (one waiting at a time)."""
    latest = approval_of(job)
    if latest is not None and latest.state == Approval.State.WAITING:
        return latest
    if (
        latest is not None
        and latest.state == Approval.State.APPROVED
        and _still_as_asked(job, latest)
    ):
        return latest
    source = job.source.name if job.source else job.source_name
    uploader = [job.created_by_id] if job.created_by_id else []
    return request_approval(
        actor=actor,
        kind=Approval.Kind.BULK,
        summary=(
            f"Bulk import “{job.file_name}”: {job.total_rows:,} {job.call_type} rows to “{source}”"
        ),
        reason=reason,
        amount=job.total_rows,
        target_id=str(job.pk),
        payload={
            "import": _what_is_approved(job),
            "not_by": uploader,
            "not_by_reason": "You uploaded this import: an Admin other than its uploader must "
            "approve it.",
        },
    )


def start(job: BulkJob, actor: Actor, *, confirm_production: Any = None) -> bool:
    """Queue a draft job for the worker as ``actor``; False when it was not a draft.
    JobRefused (nothing queued) when the uploader may not send it; StartRefused when its
    last dry run broke off (checked in the update too, so a dry run failing in the background
    meanwhile is not raced past); ProductionNotConfirmed when its source is a Production one
    and ``confirm_production`` (what Start posted) does not name it. Its batches are then sent
    without asking again: this is the import's confirmation."""
    if job.created_by is not None and outside_limits(job, job.created_by):
        # The uploader's limits changed after the upload: refused (check_uploader says why).
        limit_events.refused(actor=actor, entrance="bulk import start", source=job.source)
    check_uploader(job)
    if actor.user is not None and outside_limits(job, actor.user):
        # An Admin who may change anyone's import, but is limited to other sources.
        limit_events.refused(actor=actor, entrance="bulk import start", source=job.source)
        raise SourceRefused(source_refusal(job.source))
    if dry_run_failed(job):
        raise _start_refused(job)
    if not approved(job):
        raise StartRefused(approval_refusal(job))
    unconfirmed = production_refusal(job, confirm_production)
    if unconfirmed:
        raise ProductionNotConfirmed(unconfirmed)
    drafts = BulkJob.objects.filter(pk=job.pk, status=Status.DRAFT)
    not_failed = (
        Q(dry_run__isnull=True)
        | Q(dry_run__status__isnull=True)
        | ~Q(dry_run__status=DRY_RUN_FAILED)
    )
    updated = drafts.filter(not_failed).update(
        status=Status.QUEUED,
        started_by=actor.user,
        actor={
            "username": actor.username,
            "role": actor.role,
            "ip": actor.ip,
            "user_agent": actor.user_agent,
        },
        heartbeat_at=timezone.now(),
    )
    if not updated and drafts.filter(dry_run__status=DRY_RUN_FAILED).exists():
        job.refresh_from_db(fields=["dry_run"])
        raise _start_refused(job)
    if updated:
        _queue_runs(job)
    return bool(updated)


def _queue_runs(job: BulkJob) -> None:
    """One task per worker that may share the job: each claims its own chunks, and a task
    that finds the job finished returns at once."""
    for _ in range(max(1, settings.SEGADMIN_BULK_PARALLEL)):
        run_bulk_job.enqueue(str(job.pk))


def cancel(job: BulkJob) -> bool:
    """Stop a queued or running job after the chunk in flight; False when it had finished."""
    return bool(
        BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
            status=Status.CANCELLED, finished_at=timezone.now()
        )
    )


def is_stalled(job: BulkJob) -> bool:
    """No worker has reported on this active job for longer than a lease: it needs a resume."""
    if job.status not in ACTIVE or job.heartbeat_at is None:
        return False
    return job.heartbeat_at < timezone.now() - lease()


def resume(job: BulkJob) -> bool:
    """Queue another run of an active job; chunk claims keep it from sending a row twice.
    A job whose uploader may no longer send it is ended as Failed instead (JobRefused)."""
    if job.status not in ACTIVE:
        return False
    problem = uploader_refusal(job)
    if problem:
        _stop(job, problem)
        raise JobRefused(problem)
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    _queue_runs(job)  # as Start does: a resumed import goes on with every worker it may use
    return True


def resume_stalled() -> tuple[list[BulkJob], list[tuple[BulkJob, str]]]:
    """Resume every active job no worker has reported on for a lease (``bulk_resume`` when
    workers start, and the periodic job ``bulk.resume`` every SEGADMIN_BULK_RESUME_MINUTES):
    (the jobs resumed, [(job, why)] for those ended because their uploader may not send)."""
    cutoff = timezone.now() - lease()
    resumed, stopped = [], []
    for job in BulkJob.objects.filter(status__in=ACTIVE, heartbeat_at__lt=cutoff):
        try:
            resume(job)
        except JobRefused as exc:
            log.warning("Bulk job %s stopped instead of resumed: %s", job.pk, exc)
            stopped.append((job, str(exc)))
        else:
            log.info("Bulk job %s had no news from a worker for a lease: queued again", job.pk)
            resumed.append(job)
    return resumed, stopped


def _stop(job: BulkJob, problem: str) -> None:
    """End an active job whose uploader may not send it, with the reason on the job."""
    BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
        status=Status.FAILED, error=stopped_because(problem), finished_at=timezone.now()
    )
