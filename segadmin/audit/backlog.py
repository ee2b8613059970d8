"""The message index of bulk batches, written after the import (``models.PendingIndex``).

A bulk batch is recorded (entry, chain, counts) and sent without its thousands of index rows;
``catch_up`` writes them afterwards from the stored body, exactly the rows the recorder would
have written (``index.index_body`` over the batch, with the file rows kept beside it), a few
entries a transaction so that a web request waiting for SQLite's write lock waits little.
Several workers may catch up at once: on PostgreSQL each takes rows the others have not
locked; on SQLite the write transaction (IMMEDIATE) serialises them, and each reads what is
still pending only once it holds the lock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Sum

from segadmin.audit.index import IndexedMessage, index_body, path_of, unpack_rows
from segadmin.audit.log import ensure_no_transaction, write_index
from segadmin.audit.models import AuditEntry, PendingIndex, unpack_body

log = logging.getLogger("segadmin.audit")

# Entries indexed per transaction: about 20,000 messages of full bulk batches, a fraction of a
# second of SQLite's write lock.
ENTRIES_PER_TRANSACTION = 12
# The page cache of the connection that catches up, on SQLite (KiB; kept with the connection).
SQLITE_CACHE_KIB = 64 * 1024


@dataclass(frozen=True)
class Backlog:
    """What the message index has not caught up with yet."""

    entries: int
    messages: int

    def __bool__(self) -> bool:
        return self.entries > 0


def backlog() -> Backlog:
    """The entries (and their messages) still waiting for their index rows: one small
    aggregate over a table that is empty but during and just after a large import."""
    found = PendingIndex.objects.aggregate(entries=Count("pk"), messages=Sum("messages"))
    return Backlog(entries=found["entries"] or 0, messages=found["messages"] or 0)


def catch_up(*, most: int | None = None, stop: Callable[[], bool] | None = None) -> int:
    """Write the index rows of every pending entry (at most ``most`` entries); return how
    many entries were indexed. ``stop`` is asked before each transaction: True leaves the
    rest for later (the bulk worker's: an import started sending meanwhile)."""
    ensure_no_transaction()
    if connection.vendor == "sqlite":
        # Each message adds three entries at random places of B-trees as large as the log's
        # index (tens of MB a million messages): SQLite's default 2 MB page cache reads most
        # of them from the file again for every transaction.
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    done = 0
    while (most is None or done < most) and not (stop is not None and stop()):
        size = (
            ENTRIES_PER_TRANSACTION if most is None else min(ENTRIES_PER_TRANSACTION, most - done)
        )
        with transaction.atomic(durable=True):
            taken = _take(size)
            if not taken:
                break
            for pk, seq, rows in taken:
                write_index(pk, seq, _messages(pk, rows))
            PendingIndex.objects.filter(pk__in=[pk for pk, _, _ in taken]).delete()
        done += len(taken)
    return done


def _take(size: int) -> list[tuple[int, int, str]]:
    pending = PendingIndex.objects.order_by("seq")
    if connection.features.has_select_for_update_skip_locked:
        pending = pending.select_for_update(skip_locked=True)
    return list(pending.values_list("entry_id", "seq", "rows")[:size])


def _messages(pk: int, rows: str) -> list[IndexedMessage]:
    """The index rows of entry ``pk`` from its stored (already redacted) body."""
    found = AuditEntry.objects.filter(pk=pk).values_list("request_body", "call_type", "url").first()
    if found is None:
        return []
    body, call_type, url = found
    try:
        parsed = json.loads(unpack_body(body))
    except ValueError:
        # A body the client built is JSON; were it not, its messages cannot be indexed.
        log.warning("Audit entry %s: its body is not JSON, so its messages are not indexed", pk)
        return []
    return index_body(parsed, call_type=call_type, path=path_of(url), rows=unpack_rows(rows))
