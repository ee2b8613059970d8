"""Privacy requests (issue 15): what Support or an Admin asked Segment to suppress or delete,
split into calls of at most 5,000 IDs, each one's regulation and its status over time."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from segadmin.segment.client.regulations import ENDED_STATUSES


class Action(models.TextChoices):
    """What a person asks for, in plain words, each mapped to Segment's regulation type."""

    SUPPRESS = "SUPPRESS_ONLY", "Suppress only"
    SUPPRESS_DELETE = "SUPPRESS_WITH_DELETE", "Suppress and delete (Segment and destinations)"
    SUPPRESS_DELETE_INTERNAL = (
        "SUPPRESS_WITH_DELETE_INTERNAL",
        "Suppress and delete inside Segment only",
    )
    DELETE = "DELETE_ONLY", "Delete only"
    UNSUPPRESS = "UNSUPPRESS", "Unsuppress"
    DELETE_ARCHIVE_ONLY = "DELETE_ARCHIVE_ONLY", "Delete from Segment's archive only (a source)"


ACTION_HELP = {
    Action.SUPPRESS: "Segment drops new data for these users from every source; nothing is "
    "deleted.",
    Action.SUPPRESS_DELETE: "Segment drops new data and deletes what it holds, and asks the "
    "destinations that support it to delete too.",
    Action.SUPPRESS_DELETE_INTERNAL: "Segment drops new data and deletes what it holds itself; "
    "destinations keep theirs.",
    Action.DELETE: "Segment deletes what it holds, in warehouses and destinations too, without "
    "suppressing new data.",
    Action.UNSUPPRESS: "Segment stops suppressing these users (the only undo: there is no "
    "deleting a regulation).",
    Action.DELETE_ARCHIVE_ONLY: "Segment deletes what one source holds in its archive; only "
    "for a source, and Segment takes it only from some workspaces.",
}

SUBJECT_TYPES = [
    ("USER_ID", "User ID"),
    ("ANONYMOUS_ID", "Anonymous ID"),
    ("OBJECT_ID", "Object ID"),
]
SUBJECT_HELP = (
    "User IDs: for the whole workspace or a source. Anonymous IDs: for a source, with “Delete "
    "from Segment's archive only”. Object IDs: for the whole workspace (objects of cloud "
    "sources)."
)


def scope_problems(*, source: bool, action: str, subject_type: str) -> dict[str, str]:
    """What Segment refuses in this combination of scope, action and subject type
    (segment-api-more.md §2.2), field -> message; empty when Segment takes it. The form and
    ``services.file_request`` both ask it: the same verdict and words by every path."""
    problems: dict[str, str] = {}
    if action == Action.DELETE_ARCHIVE_ONLY and not source:
        problems["action"] = (
            "“Delete from Segment's archive only” is for one source: choose it under Scope."
        )
    if subject_type == "ANONYMOUS_ID":
        if not source:
            problems["subject_type"] = (
                "Anonymous IDs are taken for one source only: choose it under Scope, or use "
                "User IDs."
            )
        elif action != Action.DELETE_ARCHIVE_ONLY:
            problems["subject_type"] = (
                "Anonymous IDs are taken only with “Delete from Segment's archive only”."
            )
    elif subject_type == "OBJECT_ID" and source:
        problems["subject_type"] = (
            "Object IDs are taken for the whole workspace only: set Scope to the whole "
            "workspace, or use User IDs."
        )
    elif subject_type not in dict(SUBJECT_TYPES):
        problems["subject_type"] = "Choose User ID, Anonymous ID or Object ID."
    return problems


# A call "sending" this long has lost its process (a create answers in seconds): an Admin may
# release it, knowing Segment may have received it.
STUCK_AFTER = timedelta(minutes=30)

STATUS_WORDS = {
    "INITIALIZED": "Initialized",
    "INVALID": "Invalid",
    "NOT_SUPPORTED": "Not supported",
    "RUNNING": "Running",
    "PARTIAL_SUCCESS": "Partial success",
    "FAILED": "Failed",
    "FINISHED": "Finished",
}


class PrivacyRequest(models.Model):
    class State(models.TextChoices):
        WAITING = "waiting", "Waiting for approval"
        REJECTED = "rejected", "Rejected"
        SENDING = "sending", "Approved — sending"
        NOT_SENT = "not_sent", "Approved — not sent"
        SENT = "sent", "Sent to Segment"

    workspace = models.ForeignKey(
        "credentials.Workspace", on_delete=models.PROTECT, related_name="+"
    )
    # The scope: the whole workspace (None), or one source.
    source = models.ForeignKey(
        "credentials.Source", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_segment_id = models.CharField(max_length=100, blank=True)
    action = models.CharField("Action", max_length=40, choices=Action.choices)
    subject_type = models.CharField(
        "Subject type", max_length=16, choices=SUBJECT_TYPES, default="USER_ID"
    )
    ids = models.TextField("IDs")  # one a line, as sent
    id_count = models.PositiveIntegerField()
    reason = models.TextField("Reason")
    purge_kept_files = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    not_sent_reason = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    approval = models.OneToOneField(
        "approvals.Approval", null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        default_permissions = ()

    def __str__(self) -> str:
        return f"Privacy request #{self.pk}"

    @property
    def id_list(self) -> list[str]:
        return [line for line in self.ids.split("\n") if line]

    @property
    def scope_label(self) -> str:
        if self.source_id is None:
            return "The whole workspace"
        return f"Source “{self.source.name if self.source else self.source_segment_id}”"

    def summary(self) -> str:
        count = f"{self.id_count} ID{'s' if self.id_count != 1 else ''}"
        return f"{self.get_action_display()}: {count} in “{self.workspace.name}”"


class Chunk(models.Model):
    """One create call of at most 5,000 IDs. Marked ``sending`` (committed) before it leaves,
    so a chunk is never sent twice: Retry sends only ``pending`` and ``failed`` chunks."""

    class State(models.TextChoices):
        PENDING = "pending", "Not sent yet"
        SENDING = "sending", "Sending (no answer recorded)"
        SENT = "sent", "Sent"
        FAILED = "failed", "Not sent"

    request = models.ForeignKey(PrivacyRequest, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()  # 1, 2, ...
    ids = models.TextField()
    id_count = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    sending_since = models.DateTimeField(null=True, blank=True)  # when last claimed
    error = models.TextField(blank=True)
    audit_entry_id = models.BigIntegerField(null=True, blank=True)  # the last create's entry
    regulate_id = models.CharField("regulation ID", max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)  # Segment's overall status
    status_changed_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    quota_remaining = models.IntegerField(null=True, blank=True)
    quota_reset = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["request", "number"]
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["request", "number"], name="privacy_chunk_number")
        ]
        indexes = [models.Index(fields=["state", "status"], name="privacy_chunk_state_status")]

    def __str__(self) -> str:
        return f"Chunk {self.number} of privacy request {self.request_id}"

    @property
    def ended(self) -> bool:
        return self.status in ENDED_STATUSES

    @property
    def stuck(self) -> bool:
        """Sending, with no answer for STUCK_AFTER (claimed before ``sending_since`` was kept:
        stuck too)."""
        if self.state != Chunk.State.SENDING:
            return False
        return self.sending_since is None or self.sending_since <= timezone.now() - STUCK_AFTER

    @property
    def status_label(self) -> str:
        return STATUS_WORDS.get(self.status, self.status)


class StatusChange(models.Model):
    """Each status Segment reported for a chunk's regulation, when segadmin first saw it."""

    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="changes")
    status = models.CharField(max_length=32)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["chunk", "seen_at", "pk"]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.status} at {self.seen_at}"

    @property
    def status_label(self) -> str:
        return STATUS_WORDS.get(self.status, self.status)
