"""The audit log: one append-only, hash-chained table.

Three kinds of rows share the table and one chain (``seq`` 1, 2, 3 ... with no gaps):

- ``request``: one HTTP request to Segment, written and committed *before* it leaves;
- ``outcome``: what came back (or why nothing did), its own chained row pointing at the request;
- ``event``: a credential or role change.

The outcome is also copied once onto its request row (``outcome``, ``error``,
``response_status``, ``attempts``, ``duration_ms``) so the audit list can filter without a
join; those copy columns are the only thing ever written to an existing row, and
``verify_chain`` checks them against the chained outcome row.

Rows are written only by ``segadmin.audit.chain.append`` (through ``segadmin.audit.log``):
``save()``, ``delete()`` and queryset ``update()``/``delete()`` refuse, and on PostgreSQL a
trigger refuses UPDATE, DELETE and TRUNCATE whoever runs them (migration 0002).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from django.conf import settings
from django.db import connections, models

from segadmin.audit.writes import Statement
from segadmin.lib import userjson

# Searchable ID columns keep this many characters; the full value stays in the request body.
SEARCH_KEY_LENGTH = 255
# Bodies bigger than this are stored zlib-compressed: kept whole, never cut.
COMPRESS_ABOVE = 2048
_RAW, _ZLIB = b"r", b"z"


class AppendOnly(Exception):
    """Raised on any attempt to change or delete an audit entry."""

    def __init__(self, what: str = "changed or deleted") -> None:
        super().__init__(f"The audit log is append-only: entries cannot be {what}.")


class Kind(models.TextChoices):
    REQUEST = "request", "request to Segment"
    OUTCOME = "outcome", "outcome of a request"
    EVENT = "event", "event"


class Outcome(models.TextChoices):
    SENT = "sent", "sent"
    REJECTED = "rejected", "rejected by Segment"
    FAILED = "failed", "failed"


NO_ANSWER = "no answer recorded"

# Requests that only read (Test connection, listing sources and plans, the Profile API's traits
# in a lookup, a GET made with Make an API call): on the record like every request, but not
# calls that deliver anything, so the home page's counts of sent, rejected and failed calls
# leave them out (a Profile API "not found" is no rejection of a call).
READ_METHODS = ("GET", "HEAD")


def pack_body(data: bytes) -> bytes:
    """Store small bodies as they are (readable in the raw database), large ones compressed.

    zlib's level 1: a bulk batch of 460 KB compresses in 1.9 ms instead of 3.4 ms at level 6
    (the sending thread's single largest cost after the message index), 12 % larger."""
    if len(data) > COMPRESS_ABOVE:
        return _ZLIB + zlib.compress(data, 1)
    return _RAW + data


def unpack_body(stored: bytes | memoryview | None) -> bytes:
    if not stored:
        return b""
    stored = bytes(stored)
    if stored[:1] == _ZLIB:
        return zlib.decompress(stored[1:])
    return stored[1:]


class _AppendOnlyQuerySet[M: models.Model](models.QuerySet[M]):
    """A queryset that refuses every bulk change and deletion of existing rows."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("deleted")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise AppendOnly("changed")

    def update_or_create(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnly("changed")


class AuditEntryQuerySet(_AppendOnlyQuerySet["AuditEntry"]):
    def _fill_outcome_copy(self, **columns: Any) -> int:
        """The one permitted write to existing rows: the outcome copy, while it is still empty."""
        return models.QuerySet.update(
            self.filter(kind=Kind.REQUEST, outcome__isnull=True), **columns
        )

    def listed(self) -> AuditEntryQuerySet:
        """The entries a person reads: requests (with their outcome copy) and events."""
        return self.exclude(kind=Kind.OUTCOME)


# The same write as ``_fill_outcome_copy`` for one entry, as plain SQL (a send's outcome).
_FILL_OUTCOME_COPY = (
    'UPDATE "audit_auditentry" SET "outcome" = %s, "error" = %s, "response_status" = %s, '
    '"attempts" = %s, "duration_ms" = %s WHERE "id" = %s AND "kind" = %s AND "outcome" IS NULL'
)


def fill_outcome_statement(pk: int, copy: dict[str, Any]) -> Statement:
    """The outcome copy (outcome, error, response_status, attempts, duration_ms) written onto
    request entry ``pk`` while it is still empty, as a write ``chain.append`` makes with the
    outcome's row; its ``rowcount`` is then 1, or 0 when the entry already has one."""
    params = [copy["outcome"], copy["error"], copy["response_status"], copy["attempts"]]
    params += [copy["duration_ms"], pk, str(Kind.REQUEST)]
    return Statement(_FILL_OUTCOME_COPY, params, counted=True)


def fill_outcome_copy(pk: int, copy: dict[str, Any]) -> int:
    """``fill_outcome_statement`` made at once: the rows changed (1, or 0 when the entry
    already has an outcome)."""
    statement = fill_outcome_statement(pk, copy)
    with connections[AuditEntry.objects.db].cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        return int(cursor.rowcount)


class AuditEntry(models.Model):
    # --- the chain
    seq = models.BigIntegerField("sequence number", unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)
    # The id of the SEGADMIN_AUDIT_KEY key whose HMAC ``hash`` is; "" on entries written before
    # the chain was keyed (plain SHA-256, accepted only up to the sealed ChainSeal).
    key_id = models.CharField(max_length=16, blank=True, default="", editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField("when")

    # --- who (the FK is emptied when the user is deleted; the text stays). Not "user": that
    # would clash with the Segment user_id column below.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # covered by the (actor_user, seq) index
    )
    username = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=32, blank=True)
    ip = models.CharField("IP address", max_length=45, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)

    # --- events (credential and role changes)
    action = models.CharField(max_length=64, blank=True)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_name = models.CharField(max_length=255, blank=True)
    details = models.TextField(blank=True, help_text="JSON; never a secret")

    # --- where (snapshots survive deletion of the source or workspace)
    source = models.ForeignKey(
        "credentials.Source",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    source_ref = models.CharField("source id", max_length=64, blank=True)
    source_name = models.CharField(max_length=255, blank=True)
    workspace = models.ForeignKey(
        "credentials.Workspace",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    workspace_ref = models.CharField("workspace id", max_length=64, blank=True)
    workspace_name = models.CharField(max_length=255, blank=True)

    # --- the request, redacted
    api = models.CharField(max_length=16, blank=True)
    call_type = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=16, blank=True)
    url = models.TextField(blank=True)
    request_headers = models.TextField(blank=True, help_text="JSON, Authorization masked")
    request_body = models.BinaryField(default=b"", blank=True, help_text="packed JSON")
    user_id = models.CharField("user ID", max_length=SEARCH_KEY_LENGTH, blank=True)
    anonymous_id = models.CharField("anonymous ID", max_length=SEARCH_KEY_LENGTH, blank=True)
    event = models.CharField("event name", max_length=SEARCH_KEY_LENGTH, blank=True)
    message_id = models.CharField("message ID", max_length=SEARCH_KEY_LENGTH, blank=True)
    related_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="related_entries"
    )
    relation = models.CharField(max_length=32, blank=True)
    # Why the person sent it, in their words (e.g. a ticket reference), secrets masked
    # (redaction.redact_note). Hashed by the chain when not empty (chain.OPTIONAL_FIELDS).
    reason = models.CharField(max_length=500, blank=True, default="")
    # NULL, not "": most entries belong to no bulk job, and the index stays small.
    bulk_job_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    # How many tracking-plan violations the request carried when it was sent (under Warn),
    # written at INSERT from the findings kept in ``details`` (which the chain hashes); a
    # column so the list's "sent with violations" filter takes a small partial index.
    plan_violations = models.PositiveIntegerField(default=0)
    request_entry = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="outcome_record",
        help_text="On an outcome row: the request it answers.",
    )

    # --- the answer: own columns on outcome rows; the first five are copied onto the request
    # NULL means "no answer recorded", and only a NULL outcome may ever be filled in.
    outcome = models.CharField(  # noqa: DJ001
        max_length=16, choices=Outcome.choices, null=True, blank=True
    )
    error = models.CharField(max_length=500, blank=True)
    response_status = models.IntegerField("HTTP status", null=True, blank=True)
    attempts = models.IntegerField(null=True, blank=True)
    duration_ms = models.FloatField("duration (ms)", null=True, blank=True)
    response_headers = models.TextField(blank=True, help_text="JSON")
    response_body = models.BinaryField(default=b"", blank=True, help_text="packed bytes")

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-seq"]
        default_permissions = ("view",)
        # The audit list pages newest-first by seq (keyset: WHERE seq < cursor ORDER BY seq
        # DESC), so every equality filter gets a (column, seq) index.
        indexes = [
            models.Index(fields=["created_at"], name="audit_created_at"),
            models.Index(fields=["kind", "seq"], name="audit_kind_seq"),
            models.Index(fields=["actor_user", "seq"], name="audit_actor_user_seq"),
            models.Index(fields=["username", "seq"], name="audit_username_seq"),
            models.Index(fields=["role", "seq"], name="audit_role_seq"),
            models.Index(fields=["action", "seq"], name="audit_action_seq"),
            models.Index(fields=["call_type", "seq"], name="audit_call_type_seq"),
            models.Index(fields=["source", "seq"], name="audit_source_seq"),
            models.Index(fields=["workspace", "seq"], name="audit_workspace_seq"),
            models.Index(fields=["outcome", "seq"], name="audit_outcome_seq"),
            models.Index(fields=["response_status", "seq"], name="audit_status_seq"),
            models.Index(fields=["user_id", "seq"], name="audit_user_id_seq"),
            models.Index(fields=["anonymous_id", "seq"], name="audit_anonymous_id_seq"),
            models.Index(fields=["event", "seq"], name="audit_event_seq"),
            models.Index(fields=["message_id", "seq"], name="audit_message_id_seq"),
            models.Index(fields=["bulk_job_id", "seq"], name="audit_bulk_job_seq"),
            models.Index(
                fields=["seq"],
                condition=models.Q(plan_violations__gt=0),
                name="audit_plan_violations_seq",
            ),
            # Partial indexes the pages read by (migrations 0003, 0004, 0009): declared here so
            # that SQLite's table rebuilds keep them. The entry page's related entries:
            models.Index(
                fields=["related_to", "seq"],
                name="audit_related_to_set",
                condition=models.Q(related_to__isnull=False),
            ),
            # The list's "No answer recorded" (a few requests in a million):
            models.Index(
                fields=["seq"],
                name="audit_no_answer",
                condition=models.Q(kind="request", outcome__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.summary_line}"

    # --- append-only

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise AppendOnly("saved directly (segadmin.audit.log writes them)")

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("deleted")

    # --- reading

    @property
    def summary_line(self) -> str:
        if self.kind == Kind.EVENT:
            return f"{self.action} {self.target_type} {self.target_name}".strip()
        if self.kind == Kind.OUTCOME:
            return f"outcome of #{self.request_entry_id}: {self.outcome_label}"
        return f"{self.call_type} {self.method} {self.url}"

    @property
    def outcome_label(self) -> str:
        """'sent', 'rejected by Segment (HTTP 400)', 'failed: <reason>' or 'no answer recorded'."""
        if self.kind == Kind.EVENT:
            return ""
        if self.outcome == Outcome.SENT:
            return "sent"
        if self.outcome == Outcome.REJECTED:
            return f"rejected by Segment (HTTP {self.response_status})"
        if self.outcome == Outcome.FAILED:
            return f"failed: {self.error or 'no reason given'}"
        return NO_ANSWER

    @property
    def details_data(self) -> Any:
        return json.loads(self.details) if self.details else None

    @property
    def request_headers_data(self) -> dict[str, str]:
        return json.loads(self.request_headers) if self.request_headers else {}

    @property
    def request_body_data(self) -> Any:
        """The redacted request body: a JSON object, or text, or None."""
        raw = unpack_body(self.request_body)
        return userjson.body(raw) if raw else None

    @property
    def response_headers_data(self) -> dict[str, str]:
        return json.loads(self.response_headers) if self.response_headers else {}

    @property
    def response_body_bytes(self) -> bytes:
        return unpack_body(self.response_body)

    def response_body_text(self) -> str:
        return self.response_body_bytes.decode("utf-8", errors="replace")


class ChainHead(models.Model):
    """One row: the last seq and hash, locked (SELECT ... FOR UPDATE) to serialise appends.

    It also lets ``verify_chain`` notice rows removed from the end of the log.
    """

    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"chain head at {self.last_seq}"


class ChainSeal(models.Model):
    """A keyed checkpoint over the entries written before the chain was keyed.

    Written once, by the migration that keyed the chain: entries up to ``seq`` carry plain
    SHA-256 hashes, and ``verify_chain`` accepts those only up to here, and only when the entry
    at ``seq`` still has ``hash`` and ``mac`` (an HMAC over both, see chain.seal_message)
    verifies under the key ``key_id``.
    """

    seq = models.BigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    mac = models.CharField(max_length=64)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"unkeyed entries sealed up to seq {self.seq}"


class AuditMessageQuerySet(_AppendOnlyQuerySet["AuditMessage"]):
    """Append-only, like the log it indexes."""


class AuditMessage(models.Model):
    """One message inside a recorded request: the index that finds every message.

    A request entry's own ID columns hold its first message only; a batch carries up to
    thousands. One row per message, written with the entry in the same transaction by
    ``segadmin.audit.log.record_request`` (``bulk_create``, the only way in). Derived from the
    stored body, so not chained, but append-only like the log: ``save()``, ``delete()`` and
    queryset ``update()``/``delete()`` refuse, and on PostgreSQL a trigger refuses UPDATE,
    DELETE and TRUNCATE (migration 0006).
    """

    entry = models.ForeignKey(
        AuditEntry, on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    # The entry's seq, copied: the audit list pages by seq, and every filter below is a
    # (column, seq) index walk.
    seq = models.BigIntegerField("sequence number")
    position = models.PositiveIntegerField(
        help_text="0 for a single call; the message's place in a batch body"
    )
    call_type = models.CharField(max_length=64, blank=True)
    # NULL, not "", for a message without that ID: the partial indexes below then skip it
    # (an Identify import has no event and mostly no anonymous ID: two index writes a row
    # fewer, a third off the bulk worker's cost of indexing).
    user_id = models.CharField(  # noqa: DJ001
        "user ID", max_length=SEARCH_KEY_LENGTH, null=True, blank=True
    )
    anonymous_id = models.CharField(  # noqa: DJ001
        "anonymous ID", max_length=SEARCH_KEY_LENGTH, null=True, blank=True
    )
    message_id = models.CharField(  # noqa: DJ001
        "message ID", max_length=SEARCH_KEY_LENGTH, null=True, blank=True
    )
    event = models.CharField(  # noqa: DJ001
        "event name", max_length=SEARCH_KEY_LENGTH, null=True, blank=True
    )
    # For a message of a bulk import, the file's row (the job is the entry's bulk_job_id).
    row = models.PositiveIntegerField(null=True, blank=True)
    # The person's email from the message's traits (Identify's traits.email, else
    # context.traits.email), trimmed and lower-cased (index.email_key): User lookup by email.
    email = models.CharField(  # noqa: DJ001
        "email", max_length=SEARCH_KEY_LENGTH, null=True, blank=True
    )

    objects = AuditMessageQuerySet.as_manager()

    class Meta:
        verbose_name = "indexed message"
        ordering = ["-seq", "position"]
        default_permissions = ()
        # An equality on the column implies IS NOT NULL, so SQLite and PostgreSQL both use
        # these partial indexes for the filters.
        indexes = [
            models.Index(
                fields=[name, "seq"],
                name=f"audit_msg_{name}_seq",
                condition=models.Q(**{f"{name}__isnull": False}),
            )
            for name in ("user_id", "anonymous_id", "message_id", "event", "email")
        ]

    def __str__(self) -> str:
        return f"#{self.seq}.{self.position} {self.call_type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise AppendOnly("saved directly (segadmin.audit.log writes them)")

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("deleted")

    def traits(self, body: Any) -> dict[str, Any]:
        """This message's traits inside its entry's stored request body (``body``)."""
        message = body
        if isinstance(body, dict) and isinstance(body.get("batch"), list):
            items = body["batch"]
            message = items[self.position] if self.position < len(items) else None
        traits = message.get("traits") if isinstance(message, dict) else None
        return traits if isinstance(traits, dict) else {}


class RequestCount(models.Model):
    """Delivering requests (reads left out) per quarter hour, scope and outcome, kept as
    entries are written (``segadmin.audit.counts``): the home dashboard adds up these rows
    instead of counting the day's entries, so it costs the same whatever the day's volume.

    ``bucket``: the start (UTC) of the quarter hour the request entry was stamped in; every
    timezone's midnight falls on one. ``outcome`` "" is a request without an answer yet; its
    outcome moves it to "sent", "rejected" or "failed" in the outcome's own transaction.
    """

    bucket = models.DateTimeField()
    scope = models.CharField(max_length=32, help_text='"all", or "user:<id>" for own entries')
    outcome = models.CharField(max_length=16, blank=True)
    count = models.IntegerField(default=0)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "bucket", "outcome"], name="audit_request_count_unique"
            )
        ]

    def __str__(self) -> str:
        outcome = self.outcome or "no answer"
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.scope} {outcome}: {self.count}"


class PendingIndex(models.Model):
    """A request entry whose messages are not in the message index yet.

    A bulk import's batches (up to thousands of messages each) are recorded and sent without
    their index rows: writing three random-key index entries a message into B-trees that grow
    with the log was most of a large import's cost (a 1,000,000-row import ran at a third of
    its speed). Their index is written after the import, a few thousand messages a
    transaction, by ``segadmin.audit.backlog.catch_up`` (the worker that ends the import, the
    ``audit.index_backlog`` periodic job after a crash), from the stored body, exactly as the
    recorder would have written it. A row here is removed in the transaction that indexes it;
    until then the pages that search by ID say that an import is still being indexed.

    Not part of the chained log (the entry is); a queue, so its rows are deleted when done.
    """

    entry = models.OneToOneField(
        AuditEntry, on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    seq = models.BigIntegerField("sequence number")
    # The bulk file's row of each message in the body, as runs: "2-1701,1703-1800" ("" when
    # the messages have no rows).
    rows = models.TextField(blank=True)
    messages = models.PositiveIntegerField(help_text="messages in the entry's body")

    class Meta:
        verbose_name = "entry waiting for the message index"
        default_permissions = ()
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq}: {self.messages} messages to index"
