"""One approvals model for every wide or destructive action (issue 15, DESIGN.md "How a call
flows"): a privacy request, a bulk import above SEGADMIN_APPROVAL_ROWS rows, a Public API call
that is not a GET. An approval is asked for by one person and decided (approved or rejected,
with a comment) by an Admin other than them; once decided it never changes again."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class Decided(Exception):
    """An approval that is approved or rejected already: it does not change again."""


class Approval(models.Model):
    class Kind(models.TextChoices):
        PRIVACY = "privacy", "Privacy request"
        BULK = "bulk", "Bulk import"
        API_CALL = "api_call", "Public API call"

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    # What is asked for: a privacy request's or bulk import's id, or "" (the call is in payload).
    target_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField("what", max_length=500)
    amount = models.PositiveIntegerField("how many", default=0)  # IDs, rows, calls
    reason = models.TextField("Reason")
    payload = models.JSONField(default=dict, blank=True)  # a Public API call, as asked
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["requested_at", "pk"]
        default_permissions = ()
        indexes = [
            models.Index(fields=["state", "requested_at"], name="approval_state_requested"),
            models.Index(fields=["kind", "target_id"], name="approval_kind_target"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}: {self.summary}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Decided approvals never change: a save over one is refused (the decision itself is a
        # conditional UPDATE in services.decide, not a save).
        if self.pk is not None and not kwargs.get("force_insert"):
            stored = Approval.objects.filter(pk=self.pk).values_list("state", flat=True).first()
            if stored is not None and stored != self.State.WAITING:
                raise Decided(f"Approval {self.pk} is {stored} and does not change again.")
        super().save(*args, **kwargs)

    @property
    def waiting(self) -> bool:
        return self.state == self.State.WAITING
