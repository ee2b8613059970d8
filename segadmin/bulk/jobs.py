"""Bulk import services: create a job from an upload, dry-run it, start, cancel and resume it,
and the worker loop that sends it (called by the task in tasks.py).

How a job survives interruptions: the file is stored as chunks of rows; a worker claims one
chunk at a time with a lease (``select_for_update(skip_locked=True)`` where the database has
it; SQLite's single writer serialises the claim otherwise), sends its rows through
``services.send_batch`` and records the chunk's outcome, failures and counters in one
transaction. A worker that dies leaves at most its claimed chunk unrecorded; once the lease
runs out any worker takes it again and re-sends it with the same messageIds, which Segment's
deduplication drops. A worker whose lease ran out records nothing, so no row is counted twice.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from segadmin.accounts.permissions import BULK_IMPORT, may_send
from segadmin.audit.log import Actor
from segadmin.bulk import parsing
from segadmin.bulk.models import (
    ACTIVE,
    BulkChunk,
    BulkJob,
    BulkRowResult,
    CallType,
    ChunkStatus,
    FailureKind,
    Status,
)
from segadmin.bulk.plan import Plan, RowProblem, propose_mapping
from segadmin.calls import services
from segadmin.credentials.crypto import SecretUnreadable
from segadmin.credentials.models import Source
from segadmin.segment import rules
from segadmin.segment.messages import (
    BATCH_ENVELOPE_RESERVE,
    MAX_BATCH_BYTES,
    MAX_BATCH_ITEMS,
)

log = logging.getLogger("segadmin.bulk")

FIRST_ERRORS = 20
# dry_run["status"] of a dry run that broke off: Start waits for one that finishes.
DRY_RUN_FAILED = "failed"
FIRST_MESSAGES = 3
# Bytes of messages one /v1/batch body holds: its limit less the envelope keys added at send
# time and the {"batch":[ ... ]} around the items.
BATCH_BUDGET = MAX_BATCH_BYTES - BATCH_ENVELOPE_RESERVE - len(b'{"batch":[') - len(b"]}")


# --- Who may send a job ---------------------------------------------------------------------


class JobRefused(Exception):
    """The import may not be sent (by this person, or any more); the message says why."""


def _call_label(call_type: str) -> str:
    return CallType(call_type).label if call_type in CallType.values else call_type


def upload_refusal(user: Any, call_type: str) -> str:
    """Why ``user`` may not upload an import of ``call_type`` ("" when they may): the calls a
    person may send in bulk are the calls they may send one by one."""
    if not user.has_perm(BULK_IMPORT):
        return "Your role may not run bulk imports."
    if not may_send(user, call_type):
        return f"Your role may not send {_call_label(call_type)} calls, so it cannot import them."
    return ""


def uploader_refusal(job: BulkJob) -> str:
    """Why the job's uploader may not send it now ("" when they may). Asked when the job is
    planned, started, resumed and by the worker before each chunk, with the uploader read
    afresh: a role taken away, a deactivation or a deletion since the upload stops the job."""
    name = job.created_by_name or "The person"
    user = None
    if job.created_by_id is not None:
        user = get_user_model().objects.filter(pk=job.created_by_id).first()
    who = f"{name}, who uploaded this import,"
    if user is None:
        return f"{who} was deleted."
    if not user.is_active:
        return f"{who} is deactivated."
    if not user.has_perm(BULK_IMPORT):
        return f"{who} may no longer run bulk imports."
    if not may_send(user, job.call_type):
        return f"{who} may not send {_call_label(job.call_type)} calls."
    return ""


def _check_uploader(job: BulkJob) -> None:
    problem = uploader_refusal(job)
    if problem:
        raise JobRefused(problem)


# --- Creating a job -------------------------------------------------------------------------


def create_job(
    *, stream: IO[bytes], name: str, size: int, call_type: str, source: Source, user: Any
) -> BulkJob:
    """Read the upload (raising parsing.FileRefused with the reason) and store it as a draft
    job with its chunks and a proposed mapping. Nothing is stored when the file is refused,
    nor when ``user`` may not send this call (JobRefused)."""
    problem = upload_refusal(user, call_type)
    if problem:
        raise JobRefused(problem)
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
        job.save()
    return job


def plan_for(job: BulkJob) -> Plan:
    # The source's tracking plan as it is now: the dry run and each run of the worker check
    # the rows against it as the send service will (Block: violating rows become row problems).
    source = job.source if job.source_id else None
    return Plan(
        job_id=job.id,
        call_type=job.call_type,
        file_format=job.file_format,
        columns=job.columns,
        mapping=job.mapping,
        tracking_plan=source.plan_check() if source is not None else None,
    )


def iter_rows(job: BulkJob, chunks: Any = None) -> Iterator[tuple[int, Any]]:
    """Every row of the job's file, read chunk by chunk from the database."""
    queryset = chunks if chunks is not None else job.chunks.order_by("index")
    restoring = parsing.restores_cells(job.file_format, job.columns)
    for chunk in queryset.only("data", "first_row").iterator(chunk_size=4):
        yield from parsing.chunk_rows(
            job.file_format, job.delimiter, bytes(chunk.data), chunk.first_row, restoring=restoring
        )


# --- Dry run --------------------------------------------------------------------------------


@dataclass
class DryRun:
    valid: int = 0
    invalid: int = 0
    warned: int = 0  # valid rows (sent) with a warning, counted apart
    violations: int = 0  # rows sent with tracking-plan violations (under Warn)
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "valid": self.valid,
            "invalid": self.invalid,
            "warned": self.warned,
            "violations": self.violations,
            "errors": [[p.row, p.column, p.reason] for p in self.errors],
            "warnings": [[p.row, p.column, p.reason] for p in self.warnings],
            "messages": self.messages,
            "at": timezone.now().isoformat(),
        }


def dry_run(job: BulkJob, progress: Callable[[int], None] | None = None) -> DryRun:
    """Validate every row with the job's mapping, exactly as the worker will; send nothing.
    ``progress(rows_checked)`` is called after each chunk."""
    plan = plan_for(job)
    result = DryRun()
    chunk_end = 0
    for row, cells in iter_rows(job):
        message, _, problems = plan.message(cells, row)
        if message is None:
            result.invalid += 1
            if len(result.errors) < FIRST_ERRORS:
                result.errors.extend(problems[: FIRST_ERRORS - len(result.errors)])
        else:
            result.valid += 1
            if len(result.messages) < FIRST_MESSAGES:
                result.messages.append(message)
            if problems:
                result.warned += 1
                if any(p.code in rules.VIOLATION_CODES for p in problems):
                    result.violations += 1
                if len(result.warnings) < FIRST_ERRORS:
                    result.warnings.extend(problems[: FIRST_ERRORS - len(result.warnings)])
        if progress is not None and row - chunk_end >= parsing.CHUNK_ROWS:
            chunk_end = row
            progress(row)
    return result


def request_dry_run(job: BulkJob) -> None:
    """Run the dry run now for a small file, or in the background for a large one (the page
    polls for the result). Each request has a token, so an older run never overwrites a newer
    one. JobRefused when the uploader may not send the job."""
    from segadmin.bulk.tasks import dry_run_bulk_job

    _check_uploader(job)
    if job.total_rows <= settings.SEGADMIN_BULK_INLINE_DRY_RUN_ROWS:
        try:
            job.dry_run = dry_run(job).as_json()
        except Exception as exc:  # noqa: BLE001 - logged; the page says why instead of a 500
            job.dry_run = _failed_dry_run(job, exc)
        BulkJob.objects.filter(pk=job.pk).update(mapping=job.mapping, dry_run=job.dry_run)
        return
    token = uuid.uuid4().hex
    job.dry_run = {"status": "running", "token": token, "checked": 0}
    BulkJob.objects.filter(pk=job.pk).update(mapping=job.mapping, dry_run=job.dry_run)
    dry_run_bulk_job.enqueue(str(job.pk), token)
    job.refresh_from_db(fields=["dry_run"])  # an in-process backend has finished it already


def run_dry_run(job_id: str, token: str) -> None:
    """The background dry run: results land on the job unless a newer run was requested."""
    job = BulkJob.objects.filter(pk=job_id, dry_run__token=token).first()
    if job is None:
        return
    mine = BulkJob.objects.filter(pk=job_id, dry_run__token=token)

    def progress(rows: int) -> None:
        mine.update(dry_run={"status": "running", "token": token, "checked": rows})

    try:
        result = dry_run(job, progress).as_json()
    except Exception as exc:  # noqa: BLE001 - logged; the polling page must learn it ended
        result = _failed_dry_run(job, exc)
    mine.update(dry_run={**result, "token": token})


def _failed_dry_run(job: BulkJob, exc: Exception) -> dict:
    log.exception("Bulk job %s: the dry run stopped", job.pk)
    return {
        "status": DRY_RUN_FAILED,
        "error": describe_unexpected(exc),
        "at": timezone.now().isoformat(),
    }


def dry_run_failed(job: BulkJob) -> bool:
    return bool(job.dry_run) and job.dry_run.get("status") == DRY_RUN_FAILED


def describe_unexpected(exc: BaseException) -> str:
    """``Type: message`` of an error nobody planned for, on one line and short enough to show."""
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def iter_problems(job: BulkJob) -> Iterator[RowProblem]:
    """Every problem of every row, for the downloadable error report."""
    plan = plan_for(job)
    for row, cells in iter_rows(job):
        message, _, problems = plan.message(cells, row)
        if message is None:
            yield from problems


# --- Start, cancel, resume ------------------------------------------------------------------


class StartRefused(Exception):
    """The job may not start yet; the message says why and what to do."""


def _start_refused(job: BulkJob) -> StartRefused:
    error = (job.dry_run or {}).get("error", "")
    return StartRefused(
        f"The last dry run stopped with an error ({error}), so this import cannot start. "
        "Run the dry run again; if it stops again, the server log has the details."
    )


def start(job: BulkJob, actor: Actor) -> bool:
    """Queue a draft job for the worker as ``actor``; False when it was not a draft.
    JobRefused (nothing queued) when the uploader may not send it; StartRefused when its
    last dry run broke off (checked in the update too, so a dry run failing in the background
    meanwhile is not raced past)."""
    from segadmin.bulk.tasks import run_bulk_job

    _check_uploader(job)
    if dry_run_failed(job):
        raise _start_refused(job)
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
        # One task per worker that may share the job: each claims its own chunks, and a task
        # that finds the job finished returns at once.
        for _ in range(max(1, settings.SEGADMIN_BULK_PARALLEL)):
            run_bulk_job.enqueue(str(job.pk))
    return bool(updated)


def cancel(job: BulkJob) -> bool:
    """Stop a queued or running job after the chunk in flight; False when it had finished."""
    return bool(
        BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
            status=Status.CANCELLED, finished_at=timezone.now()
        )
    )


def lease() -> timedelta:
    return timedelta(seconds=settings.SEGADMIN_BULK_LEASE_SECONDS)


def is_stalled(job: BulkJob) -> bool:
    """No worker has reported on this active job for longer than a lease: it needs a resume."""
    if job.status not in ACTIVE or job.heartbeat_at is None:
        return False
    return job.heartbeat_at < timezone.now() - lease()


def resume(job: BulkJob) -> bool:
    """Queue another run of an active job; chunk claims keep it from sending a row twice.
    A job whose uploader may no longer send it is ended as Failed instead (JobRefused)."""
    from segadmin.bulk.tasks import run_bulk_job

    if job.status not in ACTIVE:
        return False
    problem = uploader_refusal(job)
    if problem:
        _stop(job, problem)
        raise JobRefused(problem)
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    run_bulk_job.enqueue(str(job.pk))
    return True


def resume_stalled() -> tuple[list[BulkJob], list[tuple[BulkJob, str]]]:
    """Resume every active job no worker has reported on for a lease (after a restart):
    (the jobs resumed, [(job, why)] for those ended because their uploader may not send)."""
    cutoff = timezone.now() - lease()
    resumed, stopped = [], []
    for job in BulkJob.objects.filter(status__in=ACTIVE, heartbeat_at__lt=cutoff):
        try:
            resume(job)
        except JobRefused as exc:
            stopped.append((job, str(exc)))
        else:
            resumed.append(job)
    return resumed, stopped


def _stop(job: BulkJob, problem: str) -> None:
    """End an active job whose uploader may not send it, with the reason on the job."""
    BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
        status=Status.FAILED, error=_stopped_because(problem), finished_at=timezone.now()
    )


def _stopped_because(problem: str) -> str:
    return f"{problem} The import was stopped before sending anything more."


# --- The worker -----------------------------------------------------------------------------


class JobStopped(Exception):
    """The job cannot go on (source gone, key unreadable); the message says why."""


class LostChunk(Exception):
    """This worker's lease on a chunk ran out and another worker may have taken it."""


def _claim(job_id: uuid.UUID, worker: str) -> BulkChunk | None:
    now = timezone.now()
    with transaction.atomic():
        candidates = BulkChunk.objects.filter(job_id=job_id).filter(
            Q(status=ChunkStatus.PENDING) | Q(status=ChunkStatus.RUNNING, lease_until__lt=now)
        )
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        chunk = candidates.order_by("index").only("pk").first()
        if chunk is None:
            return None
        BulkChunk.objects.filter(pk=chunk.pk).update(
            status=ChunkStatus.RUNNING,
            claimed_by=worker,
            lease_until=now + lease(),
            attempts=F("attempts") + 1,
        )
    BulkJob.objects.filter(pk=job_id).update(heartbeat_at=now)
    return BulkChunk.objects.get(pk=chunk.pk)


def _renew(chunk: BulkChunk, worker: str) -> None:
    now = timezone.now()
    if not BulkChunk.objects.filter(
        pk=chunk.pk, claimed_by=worker, status=ChunkStatus.RUNNING
    ).update(lease_until=now + lease()):
        raise LostChunk
    BulkJob.objects.filter(pk=chunk.job_id).update(heartbeat_at=now)


def _actor(job: BulkJob) -> Actor:
    who = job.actor or {}
    return Actor(
        user=job.started_by,
        username=who.get("username", "") or "bulk worker",
        role=who.get("role", ""),
        ip=who.get("ip"),
        user_agent=who.get("user_agent", ""),
    )


def _describe(sent: services.Sent) -> tuple[str, str]:
    result = sent.result
    # Segment's words as the audit log stores them: an answer quoting the key shows it masked.
    answer = result.redacted(sent.request.known_secrets())
    if result.status is None:
        return FailureKind.NO_ANSWER, f"No answer from Segment: {answer.error or 'unknown'}."
    text = answer.text().strip().replace("\n", " ")
    if len(text) > 200:
        text = text[:197] + "…"
    return FailureKind.REFUSED, f"Segment answered {result.status}" + (f": {text}" if text else ".")


def _source(job: BulkJob) -> Source:
    source = Source.objects.filter(pk=job.source_id).first() if job.source_id else None
    if source is None:
        raise JobStopped("The source of this import was deleted, so nothing more can be sent.")
    if not source.enabled:
        raise JobStopped(f"The source “{source.name}” was disabled, so nothing more is sent.")
    return source


@dataclass
class _Prepared:
    """One chunk's rows turned into batches (and the rows that failed before sending)."""

    chunk: BulkChunk
    failures: list[BulkRowResult]
    batches: list[tuple[list[dict], list[tuple[int, Any]]]]  # (messages, [(row, cells)])


def _prepare(job: BulkJob, plan: Plan, chunk: BulkChunk) -> _Prepared:
    failures: list[BulkRowResult] = []
    batches: list[tuple[list[dict], list[tuple[int, Any]]]] = []
    messages: list[dict] = []
    rows: list[tuple[int, Any]] = []
    used = 0
    for row, cells in parsing.chunk_rows(
        job.file_format,
        job.delimiter,
        bytes(chunk.data),
        chunk.first_row,
        restoring=parsing.restores_cells(job.file_format, job.columns),
    ):
        message, size, problems = plan.message(cells, row)
        if message is None:
            failures.append(
                BulkRowResult(
                    job_id=job.pk,
                    row=row,
                    kind=FailureKind.INVALID,
                    problems=[[p.column, p.reason] for p in problems],
                    cells=cells,
                )
            )
            continue
        # As segment.messages.split_into_batches, with the size the plan already measured.
        extra = size if not messages else size + 1  # the comma between items
        if messages and (len(messages) >= MAX_BATCH_ITEMS or used + extra > BATCH_BUDGET):
            batches.append((messages, rows))
            messages, rows, used, extra = [], [], 0, size
        messages.append(message)
        rows.append((row, cells))
        used += extra
    if messages:
        batches.append((messages, rows))
    chunk.data = b""  # the rows are in the batches now; let the text go
    return _Prepared(chunk=chunk, failures=failures, batches=batches)


def _send_and_record(job: BulkJob, prepared: _Prepared, worker: str, actor: Actor) -> None:
    """Send a prepared chunk's batches, then record its outcome in one transaction (or
    nothing, if this worker's claim ran out meanwhile: LostChunk)."""
    chunk, failures = prepared.chunk, prepared.failures
    sent = requests = 0
    source = _source(job) if prepared.batches else None
    for batch, rows in prepared.batches:
        _renew(chunk, worker)
        try:
            result = services.send_batch(
                actor=actor,
                source=source,  # type: ignore[arg-type]
                messages=batch,
                bulk_job_id=str(job.pk),
            )
        except SecretUnreadable as exc:
            raise JobStopped(str(exc)) from None
        requests += 1
        if result.result.ok:
            sent += len(batch)
            continue
        kind, reason = _describe(result)
        failures.extend(
            BulkRowResult(
                job_id=job.pk,
                row=row,
                kind=kind,
                problems=[["", reason]],
                cells=cells,
                audit_entry_id=result.entry.pk,
            )
            for row, cells in rows
        )
    with transaction.atomic():
        if not BulkChunk.objects.filter(
            pk=chunk.pk, claimed_by=worker, status=ChunkStatus.RUNNING
        ).update(status=ChunkStatus.DONE, sent=sent, failed=len(failures), lease_until=None):
            raise LostChunk
        BulkRowResult.objects.bulk_create(failures, batch_size=500)
        BulkJob.objects.filter(pk=job.pk).update(
            sent=F("sent") + sent,
            failed=F("failed") + len(failures),
            requests=F("requests") + requests,
            heartbeat_at=timezone.now(),
        )


class _Sender:
    """Sends one prepared chunk in a background thread while the next one is prepared: the
    worker's CPU work overlaps the wait for Segment. Inside a transaction (tests on the
    in-process backend) it sends inline, since another thread's connection could not see
    the uncommitted rows."""

    def __init__(self, job: BulkJob, worker: str, actor: Actor) -> None:
        self.job, self.worker, self.actor = job, worker, actor
        self.threaded = not connection.in_atomic_block
        self.pool = ThreadPoolExecutor(max_workers=1) if self.threaded else None
        self.pending: Future[None] | None = None

    def _run(self, prepared: _Prepared) -> None:
        _send_and_record(self.job, prepared, self.worker, self.actor)

    def submit(self, prepared: _Prepared) -> None:
        self.wait()
        if self.pool is None:
            self._run(prepared)
        else:
            self.pending = self.pool.submit(self._run, prepared)

    def wait(self) -> None:
        """Wait for the chunk in flight; re-raise what stopped it (JobStopped, LostChunk)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        if self.pool is not None:
            # Looked up in the sending thread: the connection proxy is per thread.
            self.pool.submit(lambda: connection.close()).result()
            self.pool.shutdown(wait=True)


def run_job(job_id: str, *, worker: str | None = None, poll: float = 0.5) -> str:
    """Send a queued or running job's remaining chunks; return the job's status at the end.

    Several workers may run the same job at once: each claims its own chunks. A worker that
    finds no free chunk while others hold live claims waits, so that the chunk of a worker that
    died is taken over when its lease runs out; the last worker out marks the job finished.
    """
    worker = worker or uuid.uuid4().hex
    job = BulkJob.objects.select_related("started_by").filter(pk=job_id).first()
    if job is None or job.status not in ACTIVE:
        return job.status if job else "missing"
    now = timezone.now()
    BulkJob.objects.filter(pk=job.pk, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, heartbeat_at=now
    )
    sender = _Sender(job, worker, _actor(job))
    try:
        return _run(job, plan_for(job), sender, worker, poll)
    except JobStopped as exc:
        BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
            status=Status.FAILED, error=str(exc), finished_at=timezone.now()
        )
        return Status.FAILED
    except Exception as exc:
        # Anything else ends the job too, with the reason on its page: a job left "running"
        # would only be resumed into the same error, forever at the same percentage.
        log.exception("Bulk job %s stopped by an unexpected error", job.pk)
        reason = _without_write_key(describe_unexpected(exc), job)
        BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
            status=Status.FAILED,
            error=f"An unexpected error stopped this import ({reason}). The rows sent before "
            "it stay sent; the rest were not sent. The server log has the details.",
            finished_at=timezone.now(),
        )
        return Status.FAILED
    finally:
        sender.close()


def _without_write_key(text: str, job: BulkJob) -> str:
    """``text`` with the source's write key masked, as it is or as a Basic authorization
    (an exception's message may quote a header), before it is stored and shown."""
    key = ""
    with contextlib.suppress(Exception):  # no key to mask is better than a second error
        key = job.source.write_key() if job.source_id else ""
    if not key:
        return text
    basic = base64.b64encode(f"{key}:".encode()).decode()
    return text.replace(basic, "****").replace(key, "****")


def _run(job: BulkJob, plan: Plan, sender: _Sender, worker: str, poll: float) -> str:
    while True:
        status = BulkJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        if status not in ACTIVE:
            _wait(sender, job)
            return status or "missing"
        # Before each chunk: the uploader may have lost the right to send it meanwhile.
        problem = uploader_refusal(job)
        if problem:
            raise JobStopped(_stopped_because(problem))
        chunk = _claim(job.pk, worker)
        if chunk is None:
            _wait(sender, job)
            unfinished = BulkChunk.objects.filter(job_id=job.pk).exclude(status=ChunkStatus.DONE)
            if not unfinished.exists():
                BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
                    status=Status.DONE, finished_at=timezone.now(), heartbeat_at=timezone.now()
                )
                return Status.DONE
            time.sleep(poll)  # another worker holds the rest; take over if its lease ends
            continue
        prepared = _prepare(job, plan, chunk)
        try:
            sender.submit(prepared)
        except LostChunk:
            _lost(job)
            sender.submit(prepared)


def _wait(sender: _Sender, job: BulkJob) -> None:
    try:
        sender.wait()
    except LostChunk:
        _lost(job)


def _lost(job: BulkJob) -> None:
    log.warning("Bulk job %s: a chunk's claim ran out and another worker took it over", job.pk)
