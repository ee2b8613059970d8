"""A privacy request's purge of kept import files (issue 15): the named users' rows go from
what segadmin still keeps of each upload.

- an import not started (a draft): the rows in its file whose mapped User ID (or Anonymous ID)
  is named become blank lines (blank lines are skipped and counted, so every other row keeps
  its number), the file's row count drops by as many, and its dry run must be run again;
- every import: the examples shown while mapping, and the cells of rows that were not sent
  (kept for the failed-rows download), for those users.

An import being sent is left alone (its rows leave as they are claimed); an import that ended
keeps no rows of its file but the failed ones (the worker lets each chunk's text go).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.db import transaction

from segadmin.bulk import parsing
from segadmin.bulk.models import BulkChunk, BulkJob, BulkRowResult, Status
from segadmin.bulk.plan import ANONYMOUS_ID, USER_ID


def _id_columns(job: BulkJob, subject_type: str) -> list[str]:
    target = ANONYMOUS_ID if subject_type == "ANONYMOUS_ID" else USER_ID
    return [m["column"] for m in job.mapping or [] if m.get("target") == target]


def _value(job: BulkJob, cells: Any, column: str) -> str:
    if isinstance(cells, dict):
        value = cells.get(column)
    elif isinstance(cells, list) and column in job.columns:
        position = job.columns.index(column)
        value = cells[position] if position < len(cells) else None
    else:
        value = None
    return "" if value is None else str(value).strip()


def _named(job: BulkJob, cells: Any, columns: list[str], ids: set[str]) -> bool:
    return any(_value(job, cells, column) in ids for column in columns)


def _rewrite(job: BulkJob, chunk: BulkChunk, columns: list[str], ids: set[str]) -> int:
    """Blank the chunk's named rows in place; how many."""
    text = bytes(chunk.data).decode()
    if not text:
        return 0
    kept: list[str] = []
    dropped = 0
    row = chunk.first_row
    if job.file_format == parsing.JSONL:
        rows = dict(parsing.chunk_rows(job.file_format, job.delimiter, bytes(chunk.data), row))
        lines = text.split("\n")
        ends_with_newline = bool(lines) and not lines[-1]
        if ends_with_newline:
            lines.pop()
        for offset, line in enumerate(lines):
            cells = rows.get(row + offset)
            if cells is not None and _named(job, cells, columns, ids):
                kept.append("")
                dropped += 1
            else:
                kept.append(line)
        new_text = "\n".join(kept) + ("\n" if ends_with_newline else "")
    else:
        csv.field_size_limit(parsing.MAX_CELL_BYTES)
        out = io.StringIO()
        writer = csv.writer(out, delimiter=job.delimiter or ",", lineterminator="\n")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=job.delimiter or ",")
        for cells in reader:
            blank = not cells or (len(cells) == 1 and not cells[0])
            if blank or _named(job, cells, columns, ids):
                out.write("\n")  # a blank line: skipped and counted, as the scan did
                dropped += 0 if blank else 1
            else:
                writer.writerow(cells)
        new_text = out.getvalue()
    if dropped:
        chunk.data = new_text.encode()
        chunk.row_count -= dropped
        chunk.save(update_fields=["data", "row_count"])
    return dropped


def forget(subject_type: str, ids: set[str]) -> dict[str, Any]:
    """Remove the named users' rows from every kept upload; what was removed, by import."""
    removed: dict[str, Any] = {}
    left_alone: list[str] = []
    for job in BulkJob.objects.filter(file_purged_at__isnull=True).order_by("created_at"):
        columns = _id_columns(job, subject_type)
        if not columns:
            continue
        if job.status in (Status.QUEUED, Status.RUNNING):
            left_alone.append(str(job.pk))
            continue
        with transaction.atomic():
            job = BulkJob.objects.select_for_update().get(pk=job.pk)
            rows = 0
            if job.status == Status.DRAFT:
                for chunk in BulkChunk.objects.filter(job=job).order_by("index"):
                    rows += _rewrite(job, chunk, columns, ids)
            examples = [e for e in job.examples if not _named(job, e, columns, ids)]
            cells = 0
            for result in BulkRowResult.objects.filter(job=job).exclude(cells=[]):
                if _named(job, result.cells, columns, ids):
                    result.cells = []
                    result.save(update_fields=["cells"])
                    cells += 1
            if not (rows or cells or len(examples) != len(job.examples)):
                continue
            changes: dict[str, Any] = {"examples": examples}
            if rows:
                changes.update(total_rows=job.total_rows - rows, dry_run=None)
            BulkJob.objects.filter(pk=job.pk).update(**changes)
            removed[str(job.pk)] = {
                "file": job.file_name,
                "rows_removed": rows,
                "failed_rows_cleared": cells,
            }
    return {"imports": removed, "being_sent_left_alone": left_alone}
