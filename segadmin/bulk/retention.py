"""What segadmin keeps of an upload, and for how long (issue 15): an import's file (its rows in
``BulkChunk.data``, the examples shown while mapping, the failed rows' cells) is purged
SEGADMIN_BULK_RETENTION_DAYS after the import ends, or after a draft was uploaded and never
started (the draft is then cancelled, saying why). Counts, row numbers, problems and the audit
log stay: the record must survive. Run by the ``bulk.retention`` periodic job."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from segadmin.audit.log import Actor, record_event
from segadmin.bulk.models import FINISHED, BulkChunk, BulkJob, BulkRowResult, Status

PURGED_DRAFT = (
    "The uploaded file was purged {days} days after it was uploaded without being started "
    "(SEGADMIN_BULK_RETENTION_DAYS): upload it again to import it."
)


def expired(now: datetime | None = None) -> list[BulkJob]:
    cutoff = (now or timezone.now()) - timedelta(days=settings.SEGADMIN_BULK_RETENTION_DAYS)
    return list(
        BulkJob.objects.filter(file_purged_at__isnull=True).filter(
            Q(status__in=FINISHED, finished_at__lt=cutoff)
            | Q(status=Status.DRAFT, created_at__lt=cutoff)
        )
    )


def purge(job: BulkJob, *, actor: Actor, reason: str) -> bool:
    """Purge one import's file, recorded; False when it was purged (or started) meanwhile."""
    now = timezone.now()
    with transaction.atomic():
        draft = job.status == Status.DRAFT
        changes: dict[str, object] = {"file_purged_at": now, "examples": []}
        if draft:
            days = settings.SEGADMIN_BULK_RETENTION_DAYS
            changes.update(
                status=Status.CANCELLED, finished_at=now, error=PURGED_DRAFT.format(days=days)
            )
        won = BulkJob.objects.filter(
            pk=job.pk, file_purged_at__isnull=True, status=job.status
        ).update(**changes)
        if won != 1:
            return False
        BulkChunk.objects.filter(job=job).update(data=b"")
        BulkRowResult.objects.filter(job=job).update(cells=[])
        record_event(
            actor=actor,
            action="bulk.files_purged",
            target_type="bulk_import",
            target_id=str(job.pk),
            target_name=job.file_name,
            details={
                "import": str(job.pk),
                "file": job.file_name,
                "rows": job.total_rows,
                "reason": reason,
                "was_draft": draft,
            },
        )
    return True


def purge_expired() -> int:
    """The periodic job: purge every file past its retention. Returns how many were purged."""
    actor = Actor.system("bulk.retention")
    days = settings.SEGADMIN_BULK_RETENTION_DAYS
    reason = f"kept {days} days (SEGADMIN_BULK_RETENTION_DAYS)"
    return sum(purge(job, actor=actor, reason=reason) for job in expired())
