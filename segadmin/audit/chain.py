"""The hash chain of the audit log: appending rows and verifying the whole log.

Each row's ``hash`` is SHA-256 over the previous row's hash, its ``seq`` and a canonical
encoding of its content (see ``HASHED_FIELDS``). Appends run in one short transaction that
locks the single ``ChainHead`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serialises writers), so concurrent writers on any number of
machines still produce one contiguous chain.

Not hashed, on purpose: the user/source/workspace foreign keys (the database empties them
when the user, source or workspace is deleted; the name and id snapshots are hashed), and on
request rows the outcome copy columns (filled once, after sending; checked against the
chained outcome row instead).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from segadmin.audit.models import AuditEntry, ChainHead, Kind

GENESIS_HASH = "0" * 64

# Content columns, in the order they are encoded. Changing this list breaks every chain.
HASHED_FIELDS = (
    "kind",
    "created_at",
    "username",
    "role",
    "ip",
    "user_agent",
    "action",
    "target_type",
    "target_id",
    "target_name",
    "details",
    "source_ref",
    "source_name",
    "workspace_ref",
    "workspace_name",
    "api",
    "call_type",
    "method",
    "url",
    "request_headers",
    "user_id",
    "anonymous_id",
    "event",
    "message_id",
    "related_to_id",
    "relation",
    "bulk_job_id",
    "request_entry_id",
    "response_headers",
)
# An outcome row's own answer; on a request row, the copy (not hashed there).
OUTCOME_FIELDS = ("outcome", "error", "response_status", "attempts", "duration_ms")
BLOB_FIELDS = ("request_body", "response_body")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# SQLite hands back the UTC values Django stored as naive datetimes: compare like with like.
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_KIND_REQUEST = str(Kind.REQUEST)
_KIND_OUTCOME = str(Kind.OUTCOME)


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _micros(value: datetime) -> int:
    """created_at as integer microseconds since the epoch: exact, the same on every database
    (verification has the database compute the same number, see _CREATED_US)."""
    if value.tzinfo is None:
        return (value - _NAIVE_EPOCH) // _MICROSECOND
    return (value - _EPOCH) // _MICROSECOND


def _digest(seq: int, prev_hash: str, values: Sequence[Any], blobs: Sequence[Any]) -> str:
    """The SHA-256 of one row: previous hash, seq, the values as one JSON array, then each
    body as its length and bytes."""
    parts = [f"{prev_hash}\n{seq}\n{_JSON.encode(values)}".encode()]
    for blob in blobs:
        data = bytes(blob) if blob else b""
        parts.append(b"\n%d:" % len(data))
        parts.append(data)
    return hashlib.sha256(b"".join(parts)).hexdigest()


def _values(content: Sequence[Any], outcome: Sequence[Any]) -> list[Any]:
    """The hashed values of a row: its content columns (created_at in microseconds), plus its
    outcome columns unless it is a request row (there they are the later copy)."""
    values = list(content)
    values[1] = _micros(values[1])
    if values[0] != _KIND_REQUEST:
        values.extend(outcome)
    return values


def row_hash(entry: AuditEntry) -> str:
    return _digest(
        entry.seq,
        entry.prev_hash,
        _values(
            [getattr(entry, name) for name in HASHED_FIELDS],
            [getattr(entry, name) for name in OUTCOME_FIELDS],
        ),
        [getattr(entry, name) for name in BLOB_FIELDS],
    )


def _locked_head() -> ChainHead:
    """The chain head, locked until the surrounding transaction ends."""
    try:
        return ChainHead.objects.select_for_update().get(pk=1)
    except ChainHead.DoesNotExist:
        # Gone (a test flush, a restore without it): rebuild it from the last row.
        last = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, digest = last or (0, GENESIS_HASH)
        try:
            with transaction.atomic():
                ChainHead.objects.create(pk=1, last_seq=seq, last_hash=digest)
        except IntegrityError:
            pass  # another writer made it first
        return ChainHead.objects.select_for_update().get(pk=1)


def append(entries: Sequence[AuditEntry], *, batch_size: int = 2000) -> Sequence[AuditEntry]:
    """Number, hash and insert ``entries`` at the end of the chain, in one transaction.

    Runs inside the caller's transaction when there is one (its rows then commit with it);
    otherwise commits before returning. ``created_at`` is set here, under the lock, unless
    the caller set it, so the log's order and its clock agree.
    """
    with transaction.atomic():
        head = _locked_head()
        seq, previous = head.last_seq, head.last_hash
        now = timezone.now()
        for entry in entries:
            seq += 1
            entry.seq = seq
            entry.prev_hash = previous
            if entry.created_at is None:
                entry.created_at = now
            entry.hash = previous = row_hash(entry)
        AuditEntry.objects.bulk_create(entries, batch_size=batch_size)
        ChainHead.objects.filter(pk=head.pk).update(last_seq=seq, last_hash=previous)
    return entries


# --- verification ---------------------------------------------------------------------------

CHANGED = "changed row"
MISSING = "missing row"
INSERTED = "inserted row"
OUTCOME_MISMATCH = "outcome copy mismatch"


@dataclass(frozen=True)
class Break:
    """The first place where the log does not hold together."""

    seq: int
    id: int | None
    problem: str  # CHANGED, MISSING, INSERTED or OUTCOME_MISMATCH
    detail: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" + (f" (id {self.id})" if self.id is not None else "")
        return f"{where}: {self.problem}: {self.detail}"


@dataclass(frozen=True)
class VerifyReport:
    count: int
    last_seq: int
    last_hash: str
    broken: Break | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.broken is None

    def __str__(self) -> str:
        if self.broken is None:
            return f"OK: {self.count} entries"
        return f"BROKEN at {self.broken}"


# created_at as integer microseconds since the epoch, computed by the database: exact, and it
# spares Python a datetime per row. SQLite holds the UTC text Django wrote
# ("YYYY-MM-DD HH:MM:SS[.ffffff]"): whole seconds from the first 19 characters only, since
# strftime('%s') rounds a fraction of .9995 or more up to the next second. PostgreSQL's
# EXTRACT gives an exact numeric.
_CREATED_US = {
    "sqlite": "CAST(strftime('%%s', substr(created_at, 1, 19)) AS INTEGER) * 1000000"
    " + CAST(substr(created_at, 21, 6) AS INTEGER)",
    "postgresql": "(EXTRACT(EPOCH FROM created_at) * 1000000)::bigint",
}


def _rows(chunk_size: int) -> Iterator[tuple[Any, ...]]:
    """Every row in seq order, streamed: the ORM writes the SQL, and a chunked cursor (a
    server-side cursor on PostgreSQL) reads it without the ORM's per-value converters, which
    would otherwise take most of the time on a million rows."""
    connection = connections[AuditEntry.objects.db]
    queryset = AuditEntry.objects.order_by("seq")
    created = "created_at"
    if connection.vendor in _CREATED_US:
        # A constant expression from the table above, no input in it.
        expression = RawSQL(_CREATED_US[connection.vendor], ())  # noqa: S611
        queryset = queryset.annotate(created_us=expression)
        created = "created_us"
    fields = [created if name == "created_at" else name for name in HASHED_FIELDS]
    columns = ("id", "seq", "prev_hash", "hash", *fields, *OUTCOME_FIELDS, *BLOB_FIELDS)
    sql, params = queryset.values_list(*columns).query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            if created == "created_at":  # another database: convert in Python
                rows = [(*r[:5], _micros(r[5]), *r[6:]) for r in rows]
            yield from rows


def _head() -> tuple[int, str] | None:
    return ChainHead.objects.filter(pk=1).values_list("last_seq", "last_hash").first()


def verify_chain(*, chunk_size: int = 5000) -> VerifyReport:
    """Walk the whole log in seq order, streaming, and report the first break (or OK).

    Finds: a row whose content no longer matches its hash (changed), a gap in seq or rows
    missing from the end (missing), a row that does not follow the one before it or lies
    beyond the chain head (inserted), and an outcome copy on a request row that differs from
    its chained outcome row (outcome copy mismatch).
    """
    started = time.perf_counter()
    # The head as verification starts: every row up to it must be there. Rows appended while
    # the walk runs may lie beyond it; the head is then read again before calling them forged.
    head = _head()
    head_seq = head[0] if head else None
    newest_head_seq = head_seq

    n_content = len(HASHED_FIELDS)
    content_end = 4 + n_content
    outcome_end = content_end + len(OUTCOME_FIELDS)
    kind_at = 4
    request_entry_at = 4 + HASHED_FIELDS.index("request_entry_id")

    expected, previous, count = 1, GENESIS_HASH, 0
    # Request rows still waiting for their outcome row: id -> (seq, outcome copy).
    waiting: dict[int, tuple[int, tuple[Any, ...]]] = {}

    def report(broken: Break | None, last_seq: int) -> VerifyReport:
        return VerifyReport(count, last_seq, previous, broken, time.perf_counter() - started)

    for row in _rows(chunk_size):
        row_id, seq, prev_hash, stored = row[0], row[1], row[2], row[3]
        outcome = row[content_end:outcome_end]
        if seq < expected:
            return report(
                Break(seq, row_id, INSERTED, f"seq {seq} is outside the chain, which starts at 1"),
                expected - 1,
            )
        if seq > expected:
            gap = f"seq {expected}" if seq == expected + 1 else f"seq {expected} to {seq - 1}"
            return report(
                Break(seq, row_id, MISSING, f"{gap} is absent just before this entry"),
                expected - 1,
            )
        if newest_head_seq is not None and seq > newest_head_seq:
            newest = _head()
            newest_head_seq = newest[0] if newest else None
            if newest_head_seq is not None and seq > newest_head_seq:
                return report(
                    Break(
                        seq,
                        row_id,
                        INSERTED,
                        f"it lies beyond the last entry the app wrote (seq {newest_head_seq})",
                    ),
                    seq - 1,
                )
        kind = row[kind_at]
        values = row[4:content_end] if kind == _KIND_REQUEST else row[4:outcome_end]
        computed = _digest(seq, prev_hash, values, row[outcome_end:])
        if computed != stored:
            return report(
                Break(seq, row_id, CHANGED, "its content no longer matches its hash"), seq - 1
            )
        if prev_hash != previous:
            return report(
                Break(
                    seq,
                    row_id,
                    INSERTED,
                    "it does not follow the entry before it (one of them was inserted or "
                    "replaced behind the app's back)",
                ),
                seq - 1,
            )
        if kind == _KIND_REQUEST:
            waiting[row_id] = (seq, tuple(outcome))
        elif kind == _KIND_OUTCOME:
            request_id = row[request_entry_at]
            request = waiting.pop(request_id, None)
            if request is None:
                return report(
                    Break(
                        seq,
                        row_id,
                        INSERTED,
                        f"it answers entry id {request_id}, which is not an earlier request "
                        "without an answer",
                    ),
                    seq - 1,
                )
            if request[1] != tuple(outcome):
                return report(
                    Break(
                        request[0],
                        request_id,
                        OUTCOME_MISMATCH,
                        f"the outcome shown on the entry {_describe(request[1])} differs from "
                        f"its recorded outcome (seq {seq}) {_describe(tuple(outcome))}",
                    ),
                    seq - 1,
                )
        previous, expected, count = stored, seq + 1, count + 1

    for request_id, (seq, copy) in waiting.items():
        if any(value not in (None, "") for value in copy):
            return report(
                Break(
                    seq,
                    request_id,
                    OUTCOME_MISMATCH,
                    f"the entry shows an outcome {_describe(copy)} but no outcome was recorded",
                ),
                expected - 1,
            )
    if head is not None and head_seq is not None and expected - 1 < head_seq:
        return report(
            Break(
                expected,
                None,
                MISSING,
                f"the log ends at seq {expected - 1} but the app wrote up to seq {head_seq}",
            ),
            expected - 1,
        )
    if head is not None and count and head_seq == expected - 1 and head[1] != previous:
        return report(
            Break(
                expected - 1,
                None,
                CHANGED,
                "the last entry is not the one the app wrote (its hash differs from the "
                "chain head)",
            ),
            expected - 1,
        )
    return report(None, expected - 1)


def _describe(outcome: tuple[Any, ...]) -> str:
    status, error, code, attempts, duration = outcome
    if status is None:
        return "(none)"
    parts = [str(status)]
    if code is not None:
        parts.append(f"HTTP {code}")
    if error:
        parts.append(str(error))
    if attempts is not None:
        parts.append(f"{attempts} attempt(s)")
    if duration is not None:
        parts.append(f"{duration:.0f} ms")
    return "(" + ", ".join(parts) + ")"
