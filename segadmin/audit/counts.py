"""Counts of delivering requests kept as entries are written, for the home dashboard.

Each request entry that delivers something (not a read: ``READ_METHODS``) adds one to its
quarter hour's RequestCount row for "all" and for "user:<id>" (its actor), outcome "" (no
answer yet), in the transaction that appends it (``chain.append``); its outcome moves that
one from "" to the outcome in the outcome's transaction (``log.record_outcome``). Each change
is one ``INSERT ... ON CONFLICT DO UPDATE SET count = count + n``: atomic on SQLite and
PostgreSQL, so writers at the same time never lose a count.

Rows older than anything the home page reads (``KEPT_FOR``) are deleted by ``prune``, the
periodic job ``audit.prune_request_counts``; the days they counted are kept in the home
page's DailyCount, or counted in the log again (``first_bucket`` says where the rows begin).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from segadmin.audit.models import READ_METHODS, AuditEntry, Kind, RequestCount
from segadmin.audit.writes import Statement

BUCKET = timedelta(minutes=15)
# How long the counts are kept. The home page reads the last 30 local days of them (the chart,
# segadmin/home/dashboard.py DAYS; a day in a zone ahead of UTC starts up to 14 hours before
# UTC's) and the last 24 hours (the failures); a few days more, so that a setting or zone
# change never makes a page read a pruned quarter hour.
KEPT_FOR = timedelta(days=35)
# Rows deleted per transaction by ``prune``, so that writers appending counts (every send)
# never wait long for it.
PRUNE_CHUNK = 5_000
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
    if bucket < _oldest_kept():
        # An answer recorded after its quarter hour was pruned (or is about to be): no page
        # reads that quarter hour, and the move would write its rows again.
        return changes
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


def _oldest_kept() -> datetime:
    return bucket_of(timezone.now() - KEPT_FOR)


def prune() -> int:
    """Delete the counts of quarter hours older than ``KEPT_FOR`` (the periodic job
    ``audit.prune_request_counts``); returns the rows deleted. ``PRUNE_CHUNK`` rows per
    transaction, so an append waiting to count its entry is never held up for long."""
    cutoff = _oldest_kept()
    deleted = 0
    while True:
        with transaction.atomic():
            old = RequestCount.objects.filter(bucket__lt=cutoff).order_by()
            ids = list(old.values_list("pk", flat=True)[:PRUNE_CHUNK])
            if not ids:
                return deleted
            deleted += RequestCount.objects.filter(pk__in=ids).delete()[0]


def by_bucket(scope: str, start: datetime, end: datetime) -> list[tuple[datetime, str, int]]:
    """``(bucket, outcome, n)`` kept for ``scope`` in quarter hours from ``start`` to before
    ``end`` (outcome "" for no answer)."""
    return list(
        RequestCount.objects.filter(scope=scope, bucket__gte=start, bucket__lt=end)
        .exclude(count=0)
        .values_list("bucket", "outcome", "count")
    )


def first_bucket() -> datetime | None:
    """The earliest quarter hour with a kept count: requests from then on are all counted
    (``prune`` deletes every row before a quarter hour, never some of one's, so this stays
    true after it). Every request counts under "all": its rows are the (scope, bucket)
    index's first."""
    kept = RequestCount.objects.filter(scope="all").order_by("bucket")
    return kept.values_list("bucket", flat=True).first()
