"""The keyed hash chain of the audit log: appending rows and verifying the whole log.

Each row's ``hash`` is an HMAC-SHA256, under the audit key named by the row's ``key_id`` (see
keys.py), over the previous row's hash, its ``seq`` and a canonical encoding of its content
(see ``HASHED_FIELDS``): without the key, nobody can make a row that verifies. Rows written
before the chain was keyed have ``key_id`` "" and a plain SHA-256 hash; they verify only up to
the keyed seal the migration put on them (``ChainSeal``). Appends run in one short transaction that
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
import hmac
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connections, models, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from segadmin.audit import anchor, counts
from segadmin.audit import processes as part_processes
from segadmin.audit.anchor import Checkpoint
from segadmin.audit.keys import Keyring, keyring
from segadmin.audit.models import AuditEntry, ChainHead, ChainSeal, Kind
from segadmin.audit.writes import ENTRY_ID, Statement

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
# Columns added after the chain began: hashed only when not empty, as one last value
# {"name": value, ...}, so every row written before them keeps its hash.
OPTIONAL_FIELDS = ("reason",)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# SQLite hands back the UTC values Django stored as naive datetimes: compare like with like.
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_KIND_REQUEST = str(Kind.REQUEST)
_KIND_OUTCOME = str(Kind.OUTCOME)


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _make_encode() -> Callable[[Any], str]:
    """``_JSON.encode``, made once: JSONEncoder.encode builds a new C encoder on every call,
    which was a quarter of the time of a full check. Same arguments, so the same text (the
    chain's own tests and every intact row of the benchmark compare them)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the plain encoder
        return _JSON.encode
    encoder = make(
        None,  # markers: no cycle check (values are flat, from the database)
        _JSON.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,  # indent
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )

    def encode(values: Any) -> str:
        return "".join(encoder(values, 0))

    return encode


_encode = _make_encode()


def _micros(value: datetime) -> int:
    """created_at as integer microseconds since the epoch: exact, the same on every database
    (verification has the database compute the same number, see _CREATED_US)."""
    if value.tzinfo is None:
        return (value - _NAIVE_EPOCH) // _MICROSECOND
    return (value - _EPOCH) // _MICROSECOND


def _digest(
    seq: int,
    prev_hash: str,
    values: Sequence[Any],
    blobs: Sequence[Any],
    key: bytes | None = None,
) -> str:
    """The hash of one row over: previous hash, seq, the values as one JSON array, then each
    body as its length and bytes. HMAC-SHA256 under ``key``; plain SHA-256 without (only the
    entries written before the chain was keyed)."""
    message = _message(seq, prev_hash, values, blobs)
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.digest(key, message, "sha256").hex()


def _message(seq: int, prev_hash: str, values: Sequence[Any], blobs: Sequence[Any]) -> bytes:
    message = f"{prev_hash}\n{seq}\n{_encode(values)}".encode()
    for blob in blobs:
        data = bytes(blob) if blob else b""
        message += b"\n%d:%b" % (len(data), data)
    return message


def _values(
    content: Sequence[Any], outcome: Sequence[Any], optional: Sequence[Any] = ()
) -> list[Any]:
    """The hashed values of a row: its content columns (created_at in microseconds), plus its
    outcome columns unless it is a request row (there they are the later copy), plus its
    optional columns that are not empty."""
    values = list(content)
    values[1] = _micros(values[1])
    if values[0] != _KIND_REQUEST:
        values.extend(outcome)
    extra = _optional(optional)
    if extra:
        values.append(extra)
    return values


def _optional(optional: Sequence[Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in zip(OPTIONAL_FIELDS, optional, strict=False)
        if value not in (None, "")
    }


class UnknownKey(Exception):
    """A row or checkpoint signed with a key that is not configured."""


def row_hash(entry: AuditEntry, ring: Keyring | None = None) -> str:
    """The hash ``entry`` must have, under the key its ``key_id`` names ("" = plain SHA-256)."""
    key = None
    if entry.key_id:
        ring = ring or keyring()
        key = ring.keys.get(entry.key_id)
        if key is None:
            raise UnknownKey(f"Key id {entry.key_id} is not configured in SEGADMIN_AUDIT_KEY.")
    return _digest(
        entry.seq,
        entry.prev_hash,
        _values(
            [getattr(entry, name) for name in HASHED_FIELDS],
            [getattr(entry, name) for name in OUTCOME_FIELDS],
            [getattr(entry, name) for name in OPTIONAL_FIELDS],
        ),
        [getattr(entry, name) for name in BLOB_FIELDS],
        key,
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


def append(
    entries: Sequence[AuditEntry],
    *,
    batch_size: int = 2000,
    then: Callable[[AuditEntry], Sequence[Statement]] | None = None,
) -> Sequence[AuditEntry]:
    """Number, hash and insert ``entries`` at the end of the chain, in one transaction.

    Runs inside the caller's transaction when there is one (its rows then commit with it, and
    no savepoint is made: an error here fails the caller's transaction as a whole); otherwise
    commits before returning. ``created_at`` is set here, under the lock, unless the caller
    set it, so the log's order and its clock agree.

    One entry (every send's request and outcome, every event) is written by plain SQL: the
    head read (and locked) and written by one statement each, the row inserted by one
    prepared INSERT; the ORM's query building was most of the time of a send's two appends.
    On PostgreSQL the INSERT, the kept counts, the head's UPDATE and the caller's ``then``
    statements (given the entry, hashed) travel as one statement (data-modifying WITH
    queries): a send's two appends went from seven round trips each to four (BEGIN, the
    head, the writes, COMMIT). More entries (a bulk import) go through ``bulk_create``; then
    ``then`` is not taken.
    """
    ring = keyring()
    connection = connections[AuditEntry.objects.db]
    with transaction.atomic(using=connection.alias, savepoint=False):
        seq, previous = _head_for_update(connection)
        now = timezone.now()
        for entry in entries:
            seq += 1
            entry.seq = seq
            entry.prev_hash = previous
            entry.key_id = ring.signing_id
            if entry.created_at is None:
                entry.created_at = now
            entry.hash = previous = row_hash(entry, ring)
        if len(entries) == 1:
            entry = entries[0]
            # the dashboard's kept counts, in the same transaction
            writes = [*counts.added_statements(entries)]
            writes.append(Statement(_UPDATE_HEAD, [seq, previous]))
            if then is not None:
                writes += then(entry)
            _insert_one(connection, entry, writes)
        else:
            if then is not None:
                raise ValueError("append(then=...) is for one entry")
            AuditEntry.objects.bulk_create(entries, batch_size=batch_size)
            counts.added(entries)  # the dashboard's kept counts, in the same transaction
            with connection.cursor() as cursor:
                cursor.execute(_UPDATE_HEAD, [seq, previous])
    return entries


_SELECT_HEAD = 'SELECT "last_seq", "last_hash" FROM "audit_chainhead" WHERE "id" = 1'
_UPDATE_HEAD = 'UPDATE "audit_chainhead" SET "last_seq" = %s, "last_hash" = %s WHERE "id" = 1'


def _head_for_update(connection: Any) -> tuple[int, str]:
    """The chain head's (last seq, last hash), locked until the transaction ends: FOR UPDATE
    where the database has it; SQLite's writers are serialised by its BEGIN IMMEDIATE."""
    sql = _SELECT_HEAD
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        found = cursor.fetchone()
    if found is None:
        head = _locked_head()  # rebuilt from the last row
        return head.last_seq, head.last_hash
    return int(found[0]), str(found[1])


# Per database vendor: the INSERT of one entry, and its fields in column order, each with
# whether it is plain text (see _insert_one).
_INSERTS: dict[str, tuple[str, list[tuple[Any, bool]]]] = {}
_PLAIN_TEXT = (models.CharField, models.TextField)


def _insert_one(connection: Any, entry: AuditEntry, writes: Sequence[Statement] = ()) -> None:
    """INSERT one entry, every column prepared as the ORM would (``get_db_prep_save``), and
    make ``writes`` after it: one statement on PostgreSQL, one by one elsewhere.

    The 32 text columns holding text (or NULL) are passed as they are: for a plain CharField or
    TextField that is what ``get_db_prep_save`` gives back, through four calls per column
    (a third of the Python time of building the row's parameters)."""
    prepared = _INSERTS.get(connection.vendor)
    if prepared is None:
        fields = [f for f in AuditEntry._meta.local_concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        # From the model's own table and column names: no input in it.
        sql = (
            f"INSERT INTO {quote(AuditEntry._meta.db_table)} "  # noqa: S608
            f"({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})"
        )
        if _returns_id(connection):
            sql += f" RETURNING {quote(AuditEntry._meta.pk.column)}"
        columns = [(f, type(f) in _PLAIN_TEXT) for f in fields]
        prepared = _INSERTS[connection.vendor] = (sql, columns)
    sql, columns = prepared
    params = []
    for column, plain in columns:
        value = getattr(entry, column.attname)
        if not (plain and (value is None or isinstance(value, str))):
            value = column.get_db_prep_save(value, connection)
        params.append(value)
    if writes and connection.vendor == "postgresql":
        _insert_with(connection, entry, sql, params, writes)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if _returns_id(connection):
                entry.pk = cursor.fetchone()[0]
            else:
                entry.pk = connection.ops.last_insert_id(
                    cursor, AuditEntry._meta.db_table, AuditEntry._meta.pk.column
                )
            for write in writes:
                cursor.execute(write.sql, [entry.pk if p is ENTRY_ID else p for p in write.params])
                if write.counted:
                    write.rowcount = int(cursor.rowcount)
    entry._state.adding = False
    entry._state.db = connection.alias


def _returns_id(connection: Any) -> bool:
    """Whether the INSERT hands back the new id by RETURNING: where the database can, except
    SQLite, whose ``lastrowid`` has it anyway. There the same INSERT with RETURNING took 0.2
    ms instead of 0.05 (measured on the audit table with its indexes, sqlite3 3.40 through
    Python's module, outside Django too), and a send makes two."""
    return (
        bool(connection.features.can_return_columns_from_insert) and connection.vendor != "sqlite"
    )


def _insert_with(
    connection: Any, entry: AuditEntry, insert: str, params: list[Any], writes: Sequence[Statement]
) -> None:
    """PostgreSQL: the INSERT (RETURNING the id) and ``writes`` as one statement, each write a
    data-modifying WITH query (``ENTRY_ID`` the inserted row's id; a counted one RETURNING 1
    and counted in the answer). They see one snapshot: none of them writes the row another
    writes, and none reads what another wrote but the id."""
    parts = [f'"e" AS ({insert})']
    values = list(params)
    counted = []
    for number, write in enumerate(writes):
        pieces = write.sql.split("%s")
        if len(pieces) != len(write.params) + 1:
            raise ValueError(f"{write.sql!r} does not take {len(write.params)} parameters")
        text = pieces[0]
        for param, piece in zip(write.params, pieces[1:], strict=True):
            if param is ENTRY_ID:
                text += '(SELECT "id" FROM "e")' + piece  # noqa: S608 (our constant SQL)
            else:
                text += "%s" + piece
                values.append(param)
        if write.counted:
            text += " RETURNING 1"
            counted.append((write, f'"w{number}"'))
        parts.append(f'"w{number}" AS ({text})')
    answer = ", ".join(
        ['(SELECT "id" FROM "e")', *(f"(SELECT count(*) FROM {n})" for _w, n in counted)]  # noqa: S608
    )
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT {answer}", values)
        found = cursor.fetchone()
    entry.pk = found[0]
    for (write, _name), rowcount in zip(counted, found[1:], strict=True):
        write.rowcount = int(rowcount)


# --- verification ---------------------------------------------------------------------------

CHANGED = "changed row"
MISSING = "missing row"
INSERTED = "inserted row"
OUTCOME_MISMATCH = "outcome copy mismatch"
UNKNOWN_KEY = "unknown key"
UNKEYED = "unkeyed row"
BAD_CHECKPOINT = "bad checkpoint"
UNREADABLE = "unreadable export"  # verify_audit --file: a line that is not what belongs there


@dataclass(frozen=True)
class Break:
    """The first place where the log does not hold together."""

    seq: int
    id: int | None
    problem: str  # CHANGED, MISSING, INSERTED, OUTCOME_MISMATCH, UNKNOWN_KEY, UNKEYED, ...
    detail: str

    def __str__(self) -> str:
        if self.problem == UNREADABLE:
            return f"{self.problem}: {self.detail}"
        where = f"seq {self.seq}" + (f" (id {self.id})" if self.id is not None else "")
        return f"{where}: {self.problem}: {self.detail}"


@dataclass(frozen=True)
class VerifyReport:
    count: int
    last_seq: int
    last_hash: str
    broken: Break | None
    seconds: float
    # The checkpoint an incremental check started from (its entries up to it not read).
    start: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def __str__(self) -> str:
        if self.broken is None:
            if self.start is not None:
                return f"OK: {self.count} entries after seq {self.start.seq} ({self.start.label()})"
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


# The layout of a row as the walk reads it, from the database or from an export.
ROW_COLUMNS = (
    "id",
    "seq",
    "prev_hash",
    "hash",
    "key_id",
    *HASHED_FIELDS,
    *OUTCOME_FIELDS,
    *BLOB_FIELDS,
    *OPTIONAL_FIELDS,
)
_CREATED_AT = ROW_COLUMNS.index("created_at")


def rows(
    chunk_size: int = 5000, after_seq: int = 0, up_to: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """Every row after ``after_seq`` (and up to ``up_to``) in seq order (``ROW_COLUMNS``,
    created_at in microseconds), streamed: the ORM writes the SQL, and a chunked cursor (a
    server-side cursor on PostgreSQL) reads it without the ORM's per-value converters, which
    would otherwise take most of the time on a million rows."""
    connection = connections[AuditEntry.objects.db]
    queryset = AuditEntry.objects.order_by("seq")
    if after_seq:
        queryset = queryset.filter(seq__gt=after_seq)
    if up_to is not None:
        queryset = queryset.filter(seq__lte=up_to)
    created = "created_at"
    if connection.vendor in _CREATED_US:
        # A constant expression from the table above, no input in it.
        expression = RawSQL(_CREATED_US[connection.vendor], ())  # noqa: S611
        queryset = queryset.annotate(created_us=expression)
        created = "created_us"
    columns = [created if name == "created_at" else name for name in ROW_COLUMNS]
    sql, params = queryset.values_list(*columns).query.sql_with_params()
    at = _CREATED_AT
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(chunk_size):
            if created == "created_at":  # another database: convert in Python
                chunk = [(*r[:at], _micros(r[at]), *r[at + 1 :]) for r in chunk]
            yield from chunk


# The layout of a row as the walk reads it from SQLite, which writes the JSON array of its
# hashed values itself (``json_array``, in C: a third of the walk's time was fetching 34
# columns into Python objects and encoding them again): the columns the walk needs besides,
# then the text of every hashed value but ``duration_ms`` (a float: Python writes it, as
# SQLite's JSON does not write floats the way Python does), the bodies, the optional columns.
ENCODED_COLUMNS = (
    "id",
    "seq",
    "prev_hash",
    "hash",
    "key_id",
    "kind",
    "request_entry_id",
    *OUTCOME_FIELDS,
    "encoded",
    *BLOB_FIELDS,
    *OPTIONAL_FIELDS,
)


def encoded_rows(
    chunk_size: int = 5000, after_seq: int = 0, up_to: int | None = None
) -> Iterator[tuple[Any, ...]] | None:
    """Like ``rows`` in the ``ENCODED_COLUMNS`` layout, on SQLite with its JSON functions;
    None elsewhere. SQLite writes text, integers and NULL exactly as ``_encode`` does (the
    same escapes; tests compare them); a row whose text differs anyway is checked again the
    Python way before it is called changed (``_walk_part``), so the findings do not depend on
    it."""
    connection = connections[AuditEntry.objects.db]
    if connection.vendor != "sqlite" or not connection.features.supports_json_field:
        return None
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    column = {field.attname: field.column for field in AuditEntry._meta.concrete_fields}

    def quoted(name: str) -> str:
        if name == "created_at":
            return _CREATED_US["sqlite"]
        return f"{table}.{connection.ops.quote_name(str(column[name]))}"

    content = ", ".join(quoted(name) for name in HASHED_FIELDS)
    answer = ", ".join(quoted(name) for name in OUTCOME_FIELDS[:-1])
    assert OUTCOME_FIELDS[-1] == "duration_ms"  # the float, written by Python
    encoded = (
        f"CASE WHEN {quoted('kind')} = '{_KIND_REQUEST}' THEN json_array({content}) "
        f"ELSE json_array({content}, {answer}) END"
    )
    queryset = AuditEntry.objects.order_by("seq")
    if after_seq:
        queryset = queryset.filter(seq__gt=after_seq)
    if up_to is not None:
        queryset = queryset.filter(seq__lte=up_to)
    # Model column names and constants only, no input.
    queryset = queryset.annotate(encoded=RawSQL(encoded, ()))  # noqa: S611
    sql, params = queryset.values_list(*ENCODED_COLUMNS).query.sql_with_params()

    def read() -> Iterator[tuple[Any, ...]]:
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while chunk := cursor.fetchmany(chunk_size):
                yield from chunk

    return read()


def _row_at(seq: int) -> tuple[Any, ...] | None:
    """The row at ``seq`` in ``ROW_COLUMNS`` layout (None when there is none)."""
    return next((row for row in rows(10, after_seq=seq - 1, up_to=seq) if row[1] == seq), None)


def _rows_for_walk(
    chunk_size: int, after_seq: int = 0, up_to: int | None = None
) -> tuple[Iterator[tuple[Any, ...]], bool]:
    """The rows to walk, and whether in ``ENCODED_COLUMNS`` layout."""
    encoded = encoded_rows(chunk_size, after_seq=after_seq, up_to=up_to)
    if encoded is not None:
        return encoded, True
    return rows(chunk_size, after_seq=after_seq, up_to=up_to), False


def _head() -> tuple[int, str] | None:
    return ChainHead.objects.filter(pk=1).values_list("last_seq", "last_hash").first()


def seals() -> list[Checkpoint]:
    """The seals of the unkeyed entries, as checkpoints (normally one, or none)."""
    found = ChainSeal.objects.order_by("seq").values_list("seq", "hash", "key_id", "mac")
    return [
        Checkpoint(seq, digest, "", key_id, mac, where=f"seal of seq {seq} in the database")
        for seq, digest, key_id, mac in found
    ]


def start_checkpoint(checkpoints: Iterable[Checkpoint]) -> Checkpoint | None:
    """The last good checkpoint to start an incremental check from: the highest one whose HMAC
    verifies and whose entry is still there, with that hash, and still hashes to it. None when
    there is none (the check then reads the whole log)."""
    ring = keyring()
    for given in sorted(checkpoints, key=lambda c: c.seq, reverse=True):
        if given.seq <= 0 or given.problem(ring) is not None:
            continue
        entry = AuditEntry.objects.filter(seq=given.seq).first()
        if entry is None or entry.hash != given.hash:
            continue
        try:
            if row_hash(entry, ring) != given.hash:
                continue
        except UnknownKey:
            continue
        return given
    return None


def _request_before(start_seq: int) -> Callable[[int, int], tuple[int, tuple[Any, ...]] | None]:
    """For an incremental check: the request row (seq, outcome copy) at or before ``start_seq``
    that an outcome row after it answers, when no earlier outcome row answered it."""

    def lookup(request_id: int, outcome_seq: int) -> tuple[int, tuple[Any, ...]] | None:
        found = (
            AuditEntry.objects.filter(pk=request_id, kind=Kind.REQUEST, seq__lte=start_seq)
            .values_list("seq", *OUTCOME_FIELDS)
            .first()
        )
        if found is None:
            return None
        answered = AuditEntry.objects.filter(
            kind=Kind.OUTCOME, request_entry_id=request_id, seq__lt=outcome_seq
        ).exists()
        return None if answered else (found[0], tuple(found[1:]))

    return lookup


# A full check of at least this many entries is split across processes (``workers``); below
# it, starting them costs more than they save.
PARALLEL_FROM = 50_000


def verify_chain(
    *,
    chunk_size: int = 5000,
    checkpoints: Iterable[Checkpoint] = (),
    incremental: bool = False,
    workers: int = 1,
    parallel_from: int = PARALLEL_FROM,
    processes: bool = True,
) -> VerifyReport:
    """Walk the log in seq order, streaming, and report the first break (or OK).

    With ``incremental``, the walk starts after the last good checkpoint (``start_checkpoint``)
    and reads only the entries after it; without one, or without ``incremental``, it reads
    the whole log. A change to an entry before that checkpoint is then not seen: only the
    full walk finds it.

    With ``workers`` above 1 and at least ``parallel_from`` entries to read, the seq range is
    cut into that many contiguous parts, each walked by its own process (``processes``, started
    by "forkserver" or "spawn", never fork: see processes.py; False walks them one after the
    other in this one, which the tests use), and the parts' findings
    are joined in seq order: the report is the one the single walk gives. Outside a
    transaction only, and not on an in-memory database (the processes open their own
    connections); otherwise, one walk.

    Finds: a row whose content no longer matches its HMAC (changed), one signed with a key
    that is not configured (unknown key), an unkeyed row after the sealed ones (unkeyed), a
    gap in seq or rows missing from the end (missing), a row that does not follow the one
    before it or lies beyond the chain head (inserted), and an outcome copy on a request row
    that differs from its chained outcome row (outcome copy mismatch). Given ``checkpoints``
    (from an anchor), also rows missing after or changed up to a checkpoint, and a checkpoint
    whose HMAC does not verify (bad checkpoint).
    """
    # The head as verification starts: every row up to it must be there. Rows appended while
    # the walk runs may lie beyond it; the head is then read again before calling them forged.
    checkpoints = list(checkpoints)
    start = start_checkpoint(checkpoints) if incremental else None
    after = start.seq if start is not None else 0
    options: dict[str, Any] = {
        "head": _head(),
        "seals": seals(),
        "checkpoints": checkpoints,
        "start": start,
        "earlier_request": _request_before(after) if start is not None else None,
        **_DATABASE_MESSAGES,
    }
    bounds = _split(after, workers, parallel_from, processes) if workers > 1 else None
    if bounds is not None:
        return _walk_parts(bounds, chunk_size=chunk_size, processes=processes, **options)
    source, encoded = _rows_for_walk(chunk_size, after_seq=after)
    return walk(source, reread_head=_head, encoded=encoded, **options)


_DATABASE_MESSAGES = {
    "beyond_head": "it lies beyond the last entry the app wrote (seq {head})",
    "short_of_head": "the log ends at seq {last} but the app wrote up to seq {head}",
    "head_differs": "the last entry is not the one the app wrote (its hash differs from the "
    "chain head)",
}


def _split(after: int, workers: int, parallel_from: int, processes: bool) -> list[int] | None:
    """The seqs that end each part but the last (which has no end), or None for one walk."""
    connection = connections[AuditEntry.objects.db]
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()  # type: ignore[attr-defined]
    if processes and (
        connection.in_atomic_block or in_memory or part_processes.settings_module() is None
    ):
        return None
    top = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    span = top - after
    if span < max(parallel_from, workers):
        return None
    return [after + span * i // workers for i in range(1, workers)]


@dataclass(frozen=True)
class _Pins:
    """What the checkpoints and seals given to a walk pin, once their HMACs verified."""

    pinned: dict[int, Checkpoint]  # seq -> the checkpoint or seal that records its hash
    sealed: dict[int, Checkpoint]
    sealed_seq: int  # unkeyed rows are accepted up to here
    latest: Checkpoint | None  # the latest checkpoint: the log must reach it


def _pins(
    ring: Keyring, seals: Sequence[Checkpoint], checkpoints: Iterable[Checkpoint]
) -> _Pins | Break:
    """The pins, or the first seal or checkpoint whose HMAC does not verify."""
    # Unkeyed rows are accepted up to the highest seal, whose HMAC must verify.
    sealed_seq = 0
    sealed: dict[int, Checkpoint] = {}
    for seal in seals:
        problem = seal.problem(ring, purpose=anchor.SEAL)
        if problem:
            return Break(seal.seq, None, BAD_CHECKPOINT, f"{seal.label()}: {problem}")
        sealed_seq = max(sealed_seq, seal.seq)
        sealed[seal.seq] = seal
    # Checkpointed seq -> the checkpoint; the latest one decides how far the log must go.
    pinned: dict[int, Checkpoint] = {}
    latest: Checkpoint | None = None
    for given in checkpoints:
        problem = given.problem(ring)
        if problem:
            return Break(given.seq, None, BAD_CHECKPOINT, f"{given.label()}: {problem}")
        pinned.setdefault(given.seq, given)
        if latest is None or given.seq > latest.seq:
            latest = given
    pinned.update(sealed)
    return _Pins(pinned, sealed, sealed_seq, latest)


def walk(
    source: Iterable[tuple[Any, ...]],
    *,
    head: tuple[int, str] | None,
    reread_head: Callable[[], tuple[int, str] | None],
    seals: Sequence[Checkpoint],
    checkpoints: Iterable[Checkpoint],
    beyond_head: str,
    short_of_head: str,
    head_differs: str,
    start: Checkpoint | None = None,
    earlier_request: Callable[[int, int], tuple[int, tuple[Any, ...]] | None] | None = None,
    encoded: bool = False,
) -> VerifyReport:
    """The check itself, over rows in ``ROW_COLUMNS`` layout from the database or an export
    (``ENCODED_COLUMNS`` with ``encoded``, from the database).

    ``head`` is where the writer says the chain ends (the chain head, or an export's closing
    checkpoint); ``reread_head`` reads it again when a row lies beyond it. With ``start`` (a
    checkpoint already found good), ``source`` holds the rows after it, which chain from its
    hash; ``earlier_request`` then finds the request rows before it that they answer. Stops
    at the first break (an export's reader then names its line).
    """
    started = time.perf_counter()
    ring = keyring()
    expected, previous = (start.seq + 1, start.hash) if start is not None else (1, GENESIS_HASH)
    pins = _pins(ring, seals, checkpoints)
    if isinstance(pins, Break):
        return VerifyReport(0, 0, previous, pins, time.perf_counter() - started, start)
    part = _walk_part(
        source,
        ring=ring,
        expected=expected,
        previous=previous,
        pins=pins,
        head_seq=head[0] if head else None,
        reread_head=reread_head,
        beyond_head=beyond_head,
        earlier_request=earlier_request,
        defer=False,
        encoded=encoded,
    )
    return _conclude(
        [part],
        pins=pins,
        head=head,
        start=start,
        started=started,
        earlier_request=earlier_request,
        short_of_head=short_of_head,
        head_differs=head_differs,
    )


@dataclass
class _Part:
    """What a walk over a contiguous run of the log found."""

    count: int  # rows verified
    expected: int  # the seq that should come next
    previous: str  # the hash of the last row verified (or the one the walk started from)
    broken: Break | None = None
    broken_last: int = 0  # the last seq to report with ``broken``
    # Requests left without an answer in the run: (id, (seq, outcome copy)), in seq order.
    waiting: list[tuple[int, tuple[int, tuple[Any, ...]]]] = field(default_factory=list)
    # Outcome rows answering no request of the run (with ``defer``), left to the caller:
    # (seq, id, request id, outcome, rows verified before it, hash before it), in seq order.
    unresolved: list[tuple[int, int, int, tuple[Any, ...], int, str]] = field(default_factory=list)


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def _hmac_sha256(key: bytes) -> Callable[[bytes], str]:
    """Hex HMAC-SHA256 under ``key`` (RFC 2104), its two padded key blocks hashed once: the
    same as ``hmac.digest(key, message, "sha256").hex()`` at less than half the cost a row,
    which sets the key up again on every call."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner_copy = hashlib.sha256(key.translate(_IPAD)).copy
    outer_copy = hashlib.sha256(key.translate(_OPAD)).copy

    def mac(message: bytes) -> str:
        inner = inner_copy()
        inner.update(message)
        outer = outer_copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    return mac


def _sha256_hex(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()


def _walk_part(
    source: Iterable[tuple[Any, ...]],
    *,
    ring: Keyring,
    expected: int,
    previous: str,
    pins: _Pins,
    head_seq: int | None,
    reread_head: Callable[[], tuple[int, str] | None],
    beyond_head: str,
    earlier_request: Callable[[int, int], tuple[int, tuple[Any, ...]] | None] | None,
    defer: bool,
    encoded: bool = False,
) -> _Part:
    """Walk ``source`` (rows from seq ``expected`` on, chaining from ``previous``) up to its
    end or its first break. An outcome row whose request is not among the run's own is looked
    up with ``earlier_request``, or, with ``defer``, left in ``unresolved`` for the caller
    (a run that is one part of the log cannot know the parts before it). With ``encoded``,
    rows are in ``ENCODED_COLUMNS`` layout; one whose HMAC does not match is read again in
    ``ROW_COLUMNS`` layout and checked as an export's row would be before it is called
    changed."""
    count = 0
    newest_head_seq = head_seq
    pinned, sealed_seq = pins.pinned, pins.sealed_seq

    kind_at = 5
    content_end = kind_at + len(HASHED_FIELDS)
    if encoded:
        request_entry_at = ENCODED_COLUMNS.index("request_entry_id")
        outcome_at = ENCODED_COLUMNS.index(OUTCOME_FIELDS[0])
        text_at = ENCODED_COLUMNS.index("encoded")
    else:
        request_entry_at = kind_at + HASHED_FIELDS.index("request_entry_id")
        outcome_at = content_end
        text_at = 0
    outcome_end = outcome_at + len(OUTCOME_FIELDS)
    blobs_at = outcome_end + (1 if encoded else 0)
    blobs_end = blobs_at + len(BLOB_FIELDS)
    duration_at = outcome_end - 1
    keys = ring.keys
    macs = {key_id: _hmac_sha256(key) for key_id, key in keys.items()}
    encode = _encode

    # The optional columns of most rows: nothing to hash, no need to look closer.
    no_optional = (None,) * len(OPTIONAL_FIELDS)
    blank_optional = ("",) * len(OPTIONAL_FIELDS)

    # Request rows still waiting for their outcome row: id -> (seq, outcome copy).
    waiting: dict[int, tuple[int, tuple[Any, ...]]] = {}
    unresolved: list[tuple[int, int, int, tuple[Any, ...], int, str]] = []

    broken: Break | None = None
    last = 0
    for row in source:
        row_id, seq, prev_hash, stored, key_id = row[0], row[1], row[2], row[3], row[4]
        if seq < expected:
            broken = Break(
                seq, row_id, INSERTED, f"seq {seq} is outside the chain, which starts at 1"
            )
            last = expected - 1
            break
        if seq > expected:
            gap = f"seq {expected}" if seq == expected + 1 else f"seq {expected} to {seq - 1}"
            broken = Break(seq, row_id, MISSING, f"{gap} is absent just before this entry")
            last = expected - 1
            break
        if newest_head_seq is not None and seq > newest_head_seq:
            newest = reread_head()
            newest_head_seq = newest[0] if newest else None
            if newest_head_seq is not None and seq > newest_head_seq:
                broken = Break(seq, row_id, INSERTED, beyond_head.format(head=newest_head_seq))
                last = seq - 1
                break
        if key_id:
            mac = macs.get(key_id)
            if mac is None:
                broken = Break(
                    seq,
                    row_id,
                    UNKNOWN_KEY,
                    f"signed with key id {key_id} which is not configured "
                    f"(SEGADMIN_AUDIT_KEY has key ids {ring.describe()})",
                )
                last = seq - 1
                break
        elif seq > sealed_seq:
            broken = Break(
                seq,
                row_id,
                UNKEYED,
                "it has a plain SHA-256 hash, not an HMAC under the audit key; only entries "
                f"sealed before the chain was keyed may (up to seq {sealed_seq})",
            )
            last = seq - 1
            break
        else:
            mac = _sha256_hex
        kind = row[kind_at]
        optional = row[blobs_end:]
        extra = None
        if optional != no_optional and optional != blank_optional:
            extra = _optional(optional)
        # What _digest hashes, built here with the key's pads ready (see _hmac_sha256).
        if encoded:
            text = row[text_at]
            if kind != _KIND_REQUEST:
                text = f"{text[:-1]},{encode(row[duration_at])}]"
            if extra:
                text = f"{text[:-1]},{encode(extra)}]"
        else:
            values: Sequence[Any] = (
                row[kind_at:content_end] if kind == _KIND_REQUEST else row[kind_at:outcome_end]
            )
            text = encode([*values, extra] if extra else values)
        message = f"{prev_hash}\n{seq}\n{text}".encode()
        for blob in row[blobs_at:blobs_end]:
            data = bytes(blob) if blob else b""
            message += b"\n%d:%b" % (len(data), data)
        if mac(message) != stored and not (encoded and _holds(_row_at(seq), mac, stored)):
            detail = (
                "HMAC mismatch: its content no longer matches its hash"
                if key_id
                else ("its content no longer matches its hash")
            )
            broken, last = Break(seq, row_id, CHANGED, detail), seq - 1
            break
        if prev_hash != previous:
            broken = Break(
                seq,
                row_id,
                INSERTED,
                "it does not follow the entry before it (one of them was inserted or "
                "replaced behind the app's back)",
            )
            last = seq - 1
            break
        checkpoint = pinned.get(seq)
        if checkpoint is not None and checkpoint.hash != stored:
            broken = Break(
                seq,
                row_id,
                CHANGED,
                f"{checkpoint.label()} recorded another hash for this entry: the log was "
                "rewritten after it",
            )
            last = seq - 1
            break
        if kind == _KIND_REQUEST:
            waiting[row_id] = (seq, tuple(row[outcome_at:outcome_end]))
        elif kind == _KIND_OUTCOME:
            outcome = tuple(row[outcome_at:outcome_end])
            request_id = row[request_entry_at]
            request = waiting.pop(request_id, None)
            if request is None and defer:
                unresolved.append((seq, row_id, request_id, outcome, count, previous))
            else:
                if request is None and earlier_request is not None:
                    request = earlier_request(request_id, seq)
                broken = _answer_problem(request, request_id, outcome, seq, row_id)
                if broken is not None:
                    last = seq - 1
                    break
        previous, expected, count = stored, seq + 1, count + 1
    else:
        return _Part(count, expected, previous, None, 0, list(waiting.items()), unresolved)
    return _Part(count, expected, previous, broken, last, [], unresolved)


def _holds(row: tuple[Any, ...] | None, mac: Callable[[bytes], str], stored: str) -> bool:
    """Whether ``row`` (``ROW_COLUMNS`` layout) hashes to ``stored``, its values encoded by
    Python: the fall back for a row whose text from the database did not match."""
    if row is None or row[3] != stored:
        return False
    kind_at, content_end = 5, 5 + len(HASHED_FIELDS)
    outcome_end = content_end + len(OUTCOME_FIELDS)
    blobs_end = outcome_end + len(BLOB_FIELDS)
    values = row[kind_at:content_end] if row[kind_at] == _KIND_REQUEST else row[kind_at:outcome_end]
    extra = _optional(row[blobs_end:])
    message = _message(
        row[1], row[2], [*values, extra] if extra else values, row[outcome_end:blobs_end]
    )
    return mac(message) == stored


def _answer_problem(
    request: tuple[int, tuple[Any, ...]] | None,
    request_id: int,
    outcome: tuple[Any, ...],
    seq: int,
    row_id: int,
) -> Break | None:
    """What is wrong with outcome row ``seq`` answering ``request`` (None: no such request)."""
    if request is None:
        return Break(
            seq,
            row_id,
            INSERTED,
            f"it answers entry id {request_id}, which is not an earlier request without an answer",
        )
    if request[1] != outcome:
        return Break(
            request[0],
            request_id,
            OUTCOME_MISMATCH,
            f"the outcome shown on the entry {_describe(request[1])} differs from "
            f"its recorded outcome (seq {seq}) {_describe(outcome)}",
        )
    return None


def _conclude(
    parts: Sequence[_Part],
    *,
    pins: _Pins,
    head: tuple[int, str] | None,
    start: Checkpoint | None,
    started: float,
    earlier_request: Callable[[int, int], tuple[int, tuple[Any, ...]] | None] | None,
    short_of_head: str,
    head_differs: str,
) -> VerifyReport:
    """Join the findings of contiguous parts, in seq order, into the report one walk over
    all of them gives: the first break, or the checks of the log's end."""
    count = 0
    waiting: dict[int, tuple[int, tuple[Any, ...]]] = {}

    def report(broken: Break | None, last_seq: int, count: int, previous: str) -> VerifyReport:
        return VerifyReport(count, last_seq, previous, broken, time.perf_counter() - started, start)

    for part in parts:
        for seq, row_id, request_id, outcome, before, previous in part.unresolved:
            request = waiting.pop(request_id, None)
            if request is None and earlier_request is not None:
                request = earlier_request(request_id, seq)
            broken = _answer_problem(request, request_id, outcome, seq, row_id)
            if broken is not None:
                return report(broken, seq - 1, count + before, previous)
        if part.broken is not None:
            return report(part.broken, part.broken_last, count + part.count, part.previous)
        count += part.count
        waiting.update(part.waiting)

    last, previous = parts[-1].expected - 1, parts[-1].previous
    for request_id, (seq, copy) in waiting.items():
        if any(value not in (None, "") for value in copy):
            return report(
                Break(
                    seq,
                    request_id,
                    OUTCOME_MISMATCH,
                    f"the entry shows an outcome {_describe(copy)} but no outcome was recorded",
                ),
                last,
                count,
                previous,
            )
    for checkpoint in (pins.latest, pins.sealed.get(pins.sealed_seq)):
        if checkpoint is not None and last < checkpoint.seq:
            return report(
                Break(
                    last + 1,
                    None,
                    MISSING,
                    f"the log ends at seq {last}, but {checkpoint.label()} recorded seq "
                    f"{checkpoint.seq}: the entries after seq {last} are missing",
                ),
                last,
                count,
                previous,
            )
    head_seq = head[0] if head else None
    if head is not None and head_seq is not None and last < head_seq:
        return report(
            Break(last + 1, None, MISSING, short_of_head.format(last=last, head=head_seq)),
            last,
            count,
            previous,
        )
    if (
        head is not None
        and (count or start is not None)
        and head_seq == last
        and head[1] != previous
    ):
        return report(Break(last, None, CHANGED, head_differs), last, count, previous)
    return report(None, last, count, previous)


# --- the walk in parts, across processes ----------------------------------------------------


@dataclass(frozen=True)
class _Range:
    """One part of the log for a process to walk: seqs after ``after`` up to ``up_to`` (None:
    to the end), the first expected to be ``expected`` and to chain from ``previous``."""

    after: int
    up_to: int | None
    expected: int
    previous: str
    chunk_size: int
    head_seq: int | None
    pins: _Pins
    beyond_head: str


def _walk_range(part: _Range) -> _Part:
    """Walk one part (in a process of its own, or in this one)."""
    source, encoded = _rows_for_walk(part.chunk_size, after_seq=part.after, up_to=part.up_to)
    return _walk_part(
        source,
        ring=keyring(),
        expected=part.expected,
        previous=part.previous,
        pins=part.pins,
        head_seq=part.head_seq,
        reread_head=_head,
        beyond_head=part.beyond_head,
        earlier_request=None,
        defer=True,
        encoded=encoded,
    )


def _walk_range_in_process(part: _Range) -> _Part:
    try:
        return _walk_range(part)
    finally:
        connections.close_all()


def _walk_parts(
    bounds: Sequence[int],
    *,
    chunk_size: int,
    processes: bool,
    head: tuple[int, str] | None,
    seals: Sequence[Checkpoint],
    checkpoints: Iterable[Checkpoint],
    start: Checkpoint | None,
    earlier_request: Callable[[int, int], tuple[int, tuple[Any, ...]] | None] | None,
    beyond_head: str,
    short_of_head: str,
    head_differs: str,
) -> VerifyReport:
    """``walk`` over the log cut at ``bounds``, each part by its own process.

    Each part starts where the one walk would if every part before it held together: at the
    seq after the last row before the part, chaining from that row's stored hash (the part
    before it, when intact, ends on that very row). So a part's own first break is the one
    walk's whenever no earlier part broke, and ``_conclude`` takes the first in seq order,
    after resolving the outcome rows that answer requests of earlier parts.
    """
    started = time.perf_counter()
    ring = keyring()
    first = (start.seq + 1, start.hash) if start is not None else (1, GENESIS_HASH)
    pins = _pins(ring, seals, checkpoints)
    if isinstance(pins, Break):
        return VerifyReport(0, 0, first[1], pins, time.perf_counter() - started, start)
    after = first[0] - 1
    ranges = []
    for low, high in zip([after, *bounds], [*bounds, None], strict=True):
        before = (
            AuditEntry.objects.filter(seq__gt=after, seq__lte=low)
            .order_by("-seq")
            .values_list("seq", "hash")
            .first()
        )
        expected, previous = (before[0] + 1, before[1]) if before else first
        ranges.append(
            _Range(
                low,
                high,
                expected,
                previous,
                chunk_size,
                head[0] if head else None,
                pins,
                beyond_head,
            )
        )
    if processes:
        # Started without fork() (processes.py), each sets Django up from what we hand it.
        # An executor, not multiprocessing's Pool: a process that dies, or fails to set up,
        # raises BrokenProcessPool here instead of being replaced for ever.
        with ProcessPoolExecutor(
            len(ranges),
            mp_context=part_processes.context(),
            initializer=part_processes.set_up,
            initargs=(part_processes.current(),),
        ) as pool:
            parts = list(pool.map(_walk_range_in_process, ranges))
    else:
        parts = [_walk_range(part) for part in ranges]
    return _conclude(
        parts,
        pins=pins,
        head=head,
        start=start,
        started=started,
        earlier_request=earlier_request,
        short_of_head=short_of_head,
        head_differs=head_differs,
    )


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
