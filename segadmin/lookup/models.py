from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

# How many recently viewed users each person's lookup page lists.
KEEP = 10


class RecentLookup(models.Model):
    """A user someone looked up, listed on their lookup page (newest first, the last KEEP).

    Only the viewer sees their own list; the identifier is what they typed (a User ID, an
    Anonymous ID or an email), as the audit log holds it for every call anyway.
    """

    viewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    identifier_type = models.CharField(max_length=16)
    identifier = models.CharField(max_length=255)
    viewed_at = models.DateTimeField()

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["viewer", "identifier_type", "identifier"], name="lookup_recent_unique"
            )
        ]
        indexes = [models.Index(fields=["viewer", "-viewed_at"], name="lookup_recent_viewer")]

    def __str__(self) -> str:
        return f"{self.identifier_type}:{self.identifier}"


def remember(viewer_id: int, identifier_type: str, identifier: str) -> None:
    """Put this lookup first in the viewer's list, and forget the ones past KEEP: one UPDATE
    when it was viewed before (the usual case), else an INSERT and one DELETE."""
    identifier = identifier[:255]
    now = timezone.now()
    mine = RecentLookup.objects.filter(viewer_id=viewer_id)
    if mine.filter(identifier_type=identifier_type, identifier=identifier).update(viewed_at=now):
        return
    try:
        with transaction.atomic():
            RecentLookup.objects.create(
                viewer_id=viewer_id,
                identifier_type=identifier_type,
                identifier=identifier,
                viewed_at=now,
            )
    except IntegrityError:
        return  # the same lookup, remembered at the same moment by another request
    past = mine.order_by("-viewed_at", "-pk").values_list("pk", flat=True)[KEEP:]
    mine.filter(pk__in=list(past)).delete()


def recent(viewer_id: int) -> list[RecentLookup]:
    return list(
        RecentLookup.objects.filter(viewer_id=viewer_id).order_by("-viewed_at", "-pk")[:KEEP]
    )
