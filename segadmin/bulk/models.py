"""Bulk import jobs: the uploaded file (kept in the database, in chunks of rows), the column
mapping, progress counters, and a record of every row that was not sent.

The file lives in ``BulkChunk`` rows rather than on a disk, so a worker on any machine can
process any job; each chunk is also the unit of work a worker claims and of progress recorded.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Status(models.TextChoices):
    DRAFT = "draft", "not started"
    QUEUED = "queued", "waiting for a worker"
    RUNNING = "running", "sending"
    DONE = "done", "finished"
    CANCELLED = "cancelled", "cancelled"
    FAILED = "failed", "stopped by an error"


ACTIVE = (Status.QUEUED, Status.RUNNING)
FINISHED = (Status.DONE, Status.CANCELLED, Status.FAILED)


class CallType(models.TextChoices):
    IDENTIFY = "identify", "Identify"
    TRACK = "track", "Track"
    GROUP = "group", "Group"


class BulkJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True)
    source = models.ForeignKey(
        "credentials.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_name = models.CharField(max_length=200, blank=True)
    call_type = models.CharField("Call", max_length=16, choices=CallType.choices)
    # Why it is sent, in the uploader's words (optional; secrets masked): on each batch's entry.
    reason = models.CharField(max_length=500, blank=True, default="")

    # The file
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8)  # parsing.CSV or parsing.JSONL
    delimiter = models.CharField(max_length=2, blank=True)
    file_bytes = models.BigIntegerField(default=0)
    total_rows = models.IntegerField(default=0)
    columns = models.JSONField(default=list)
    examples = models.JSONField(default=list)  # the first rows, for the mapping page
    proposals = models.JSONField(default=dict)  # column -> proposed type
    # What the source's tracking plan plans for this import when it was uploaded:
    # {"plan": name, "event": the one event or "", "fields": {name: {"type", "required"}}}
    planned = models.JSONField(default=dict)

    # The mapping: [{"column", "target", "type", "empty_null", "property"?}], see bulk.plan
    mapping = models.JSONField(default=list)
    dry_run = models.JSONField(null=True, blank=True)

    # Running
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.JSONField(default=dict)  # username, role, ip, user_agent of who started it
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the uploaded file (its rows, examples and the failed rows' cells) was purged, after
    # SEGADMIN_BULK_RETENTION_DAYS (bulk/retention.py); the counts and the audit entries stay.
    file_purged_at = models.DateTimeField(null=True, blank=True)
    sent = models.IntegerField(default=0)
    # Rows the checks refused (the dry run's verdict), never sent.
    invalid = models.IntegerField(default=0)
    # Rows sent that Segment refused, or that got no answer (the network).
    failed = models.IntegerField(default=0)
    requests = models.IntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="bulk_job_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_call_type_display()} import of {self.file_name}"

    @property
    def processed(self) -> int:
        return self.sent + self.invalid + self.failed

    @property
    def not_sent(self) -> int:
        """Rows that did not reach Segment or that it refused: invalid and failed ones."""
        return self.invalid + self.failed

    @property
    def remaining(self) -> int:
        return max(0, self.total_rows - self.processed)

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 0
        return min(100, self.processed * 100 // self.total_rows)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def file_kept_until(self) -> datetime | None:
        """When the periodic job purges the uploaded file (None: purged already)."""
        if self.file_purged_at is not None:
            return None
        days = timedelta(days=settings.SEGADMIN_BULK_RETENTION_DAYS)
        if self.status == Status.DRAFT:
            return self.created_at + days
        if self.is_finished and self.finished_at is not None:
            return self.finished_at + days
        return None  # running: kept until it ends, then for the days above


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "pending"
    RUNNING = "running", "claimed by a worker"
    DONE = "done", "done"


class BulkChunk(models.Model):
    """Consecutive rows of the file as raw text (UTF-8, no header), claimed and recorded as one."""

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.IntegerField()
    first_row = models.IntegerField()
    row_count = models.IntegerField()
    data = models.BinaryField()
    status = models.CharField(max_length=16, choices=ChunkStatus.choices, default="pending")
    claimed_by = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    invalid = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="bulk_chunk_unique_index")
        ]
        indexes = [models.Index(fields=["job", "status"], name="bulk_chunk_status_idx")]

    def __str__(self) -> str:
        return f"rows {self.first_row:,} to {self.first_row + self.row_count - 1:,}"


class FailureKind(models.TextChoices):
    # "Invalid": the checks (the dry run's verdict) refused the row, so it was not sent.
    # "Failed": only what Segment or the network refused.
    INVALID = "invalid", "Invalid: not sent"
    REFUSED = "refused", "Failed: refused by Segment"
    NO_ANSWER = "no_answer", "Failed: no answer from Segment"


class BulkRowResult(models.Model):
    """A row that was not sent, or that Segment refused: everything needed to fix it."""

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="failures")
    row = models.IntegerField()
    kind = models.CharField(max_length=16, choices=FailureKind.choices)
    problems = models.JSONField(default=list)  # [[column, reason], ...]
    cells = models.JSONField()  # the row as read: a list of cells (CSV) or an object (JSON Lines)
    audit_entry_id = models.BigIntegerField(null=True, blank=True)  # the batch request

    class Meta:
        ordering = ["job", "row"]
        indexes = [models.Index(fields=["job", "row"], name="bulk_result_row_idx")]

    def __str__(self) -> str:
        return f"row {self.row:,}: {self.reason}"

    @property
    def reason(self) -> str:
        return "; ".join(
            f"{column}: {reason}" if column else reason for column, reason in self.problems
        )
