"""Reading a job's stored rows and checking them with its mapping, as the worker will send them:
the dry run (inline for a small file, or the body of the background task for a large one) and
the downloadable error report. Sends nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from segadmin.bulk import parsing
from segadmin.bulk.models import BulkJob
from segadmin.bulk.plan import Plan, RowProblem
from segadmin.segment import rules

log = logging.getLogger("segadmin.bulk")

FIRST_ERRORS = 20
FIRST_MESSAGES = 3
# dry_run["status"] of a dry run that broke off: Start waits for one that finishes.
DRY_RUN_FAILED = "failed"


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


@dataclass
class DryRun:
    valid: int = 0
    invalid: int = 0
    warned: int = 0  # valid rows (sent) with a warning, counted apart
    violations: int = 0  # rows sent with tracking-plan violations (under Warn)
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
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
        result = failed_dry_run(job, exc)
    mine.update(dry_run={**result, "token": token})


def failed_dry_run(job: BulkJob, exc: Exception) -> dict[str, Any]:
    log.exception("Bulk job %s: the dry run stopped", job.pk)
    return {
        "status": DRY_RUN_FAILED,
        "error": describe_unexpected(exc),
        "at": timezone.now().isoformat(),
    }


def dry_run_failed(job: BulkJob) -> bool:
    return isinstance(job.dry_run, dict) and job.dry_run.get("status") == DRY_RUN_FAILED


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
