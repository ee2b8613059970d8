"""Counts of delivering requests kept as entries are written, for the home dashboard.

Each request entry that delivers something (not a read: ``READ_METHODS``) adds one to its
quarter hour's RequestCount row for "all" and for "user:<id>" (its actor), outcome "" (no
answer yet), in the transaction that appends it (``chain.append``); its outcome moves that
one from "" to the outcome in the outcome's transaction (``log.record_outcome``). Each change
is one ``INSERT ... ON CONFLICT DO UPDATE SET count = count + n``: atomic on SQLite and
PostgreSQL, so writers at the same time never lose a count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction

from segadmin.audit.models import READ_METHODS, AuditEntry, Kind, RequestCount
from segadmin.audit.writes import Statement

BUCKET = timedelta(minutes=15)
_BUCKET_SECONDS = int(BUCKET.total_seconds())
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_UPSERT = (
    'INSERT INTO "audit_requestcount" ("bucket", "scope", "outcome", "count") VALUES {rows} '
    'ON CONFLICT ("scope", "bucket", "outcome") DO UPDATE SET '
    '"count" = "audit_requestcount"."count" + excluded."count"'
)


def bucket_of(moment: datetime) -> datetime:
    """The start (UTC) of the quarter hour ``moment`` falls in."""
    seconds = int((moment - _EPOCH).total_seconds() // _BUCKET_SECONDS) * _BUCKET_SECONDS
    return _EPOCH + timedelta(seconds=seconds)


def delivers(entry: AuditEntry) -> bool:
    """A request that delivers something: what the dashboard counts."""
    return entry.kind == Kind.REQUEST and (entry.method or "").upper() not in READ_METHODS


def _scopes(user_id: int | None) -> list[str]:
    return ["all"] if user_id is None else ["all", f"user:{user_id}"]


def _statements(changes: Counter[tuple[datetime, str, str]]) -> list[Statement]:
    """The one upsert that makes ``changes`` (none when nothing changes)."""
    rows = [(b, s, o, n) for (b, s, o), n in sorted(changes.items()) if n]
    if not rows:
        return []
    params: list[Any] = []
    for bucket, scope, outcome, n in rows:
        params += (connection.ops.adapt_datetimefield_value(bucket), scope, outcome, n)
    sql = _UPSERT.format(rows=", ".join(["(%s, %s, %s, %s)"] * len(rows)))
    return [Statement(sql, params)]


def _apply(changes: Counter[tuple[datetime, str, str]]) -> None:
    with connection.cursor() as cursor:
        for statement in _statements(changes):
            cursor.execute(statement.sql, statement.params)


def _added(entries: Iterable[AuditEntry]) -> Counter[tuple[datetime, str, str]]:
    changes: Counter[tuple[datetime, str, str]] = Counter()
    for entry in entries:
        if delivers(entry) and entry.created_at is not None:
            bucket = bucket_of(entry.created_at)
            for scope in _scopes(entry.actor_user_id):
                changes[(bucket, scope, entry.outcome or "")] += 1
    return changes


def added(entries: Iterable[AuditEntry]) -> None:
    """Count newly appended ``entries`` (inside their append's transaction)."""
    _apply(_added(entries))


def added_statements(entries: Iterable[AuditEntry]) -> list[Statement]:
    """``added(entries)`` as the statements to run (``chain.append`` runs them with the row)."""
    return _statements(_added(entries))


def _answered(entry: AuditEntry, outcome: str) -> Counter[tuple[datetime, str, str]]:
    changes: Counter[tuple[datetime, str, str]] = Counter()
    if not delivers(entry) or entry.created_at is None:
        return changes
    bucket = bucket_of(entry.created_at)
    for scope in _scopes(entry.actor_user_id):
        changes[(bucket, scope, "")] -= 1
        changes[(bucket, scope, outcome)] += 1
    return changes


def answered(entry: AuditEntry, outcome: str) -> None:
    """Move request ``entry`` from "no answer" to ``outcome`` (inside the outcome's
    transaction, after its copy was filled)."""
    _apply(_answered(entry, outcome))


def answered_statements(entry: AuditEntry, outcome: str) -> list[Statement]:
    """``answered(entry, outcome)`` as the statements to run with the outcome's row."""
    return _statements(_answered(entry, outcome))


def recount(since: datetime) -> int:
    """Count again every request stamped from ``since``'s quarter hour on (after a bulk load
    that bypassed ``chain.append``, or to start the counts on an existing log); returns the
    rows written. Runs in one transaction with the counts it replaces."""
    start = bucket_of(since)
    changes: Counter[tuple[datetime, str, str]] = Counter()
    rows = (
        AuditEntry.objects.filter(kind=Kind.REQUEST, created_at__gte=start)
        .values_list("created_at", "method", "outcome", "actor_user_id")
        .order_by()
        .iterator(chunk_size=20_000)
    )
    for created_at, method, outcome, user_id in rows:
        if (method or "").upper() in READ_METHODS:
            continue
        bucket = bucket_of(created_at)
        for scope in _scopes(user_id):
            changes[(bucket, scope, outcome or "")] += 1
    with transaction.atomic():
        RequestCount.objects.filter(bucket__gte=start).delete()
        items = list(changes.items())
        for first in range(0, len(items), 500):
            _apply(Counter(dict(items[first : first + 500])))
    return len(changes)


def by_bucket(scope: str, start: datetime, end: datetime) -> list[tuple[datetime, str, int]]:
    """``(bucket, outcome, n)`` kept for ``scope`` in quarter hours from ``start`` to before
    ``end`` (outcome "" for no answer)."""
    return list(
        RequestCount.objects.filter(scope=scope, bucket__gte=start, bucket__lt=end)
        .exclude(count=0)
        .values_list("bucket", "outcome", "count")
    )


def first_bucket() -> datetime | None:
    """The earliest quarter hour with a kept count: requests from then on are all counted.
    (Every request counts under "all": its rows are the (scope, bucket) index's first.)"""
    kept = RequestCount.objects.filter(scope="all").order_by("bucket")
    return kept.values_list("bucket", flat=True).first()
