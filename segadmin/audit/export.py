"""Exporting the audit log as CSV or JSON Lines, streamed row by row, and checking a full
export offline.

Rows come from ``values_list(...).iterator(chunk_size=...)``: the database cursor is read in
chunks, so memory stays flat whatever the number of rows. Only stored columns are written;
they hold no secret (the audit log stores requests already redacted), and nothing is
decrypted here.

The *full* JSON Lines export (``full_lines``) carries the whole chain, outcome rows included,
with every field the hash covers in its stored form, so ``verify_audit --file`` can check it
without the database, given the audit key: a first line describes the export (and the seal
of the unkeyed entries), one line per entry follows, and a signed checkpoint of the last
entry closes it, so a cut-off export is found too.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.utils import timezone

from segadmin.audit import chain
from segadmin.audit.anchor import Checkpoint
from segadmin.audit.keys import keyring
from segadmin.audit.models import AuditEntryQuerySet
from segadmin.lib import spreadsheet

FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"), "jsonl": ("application/jsonl", "jsonl")}
CHUNK_SIZE = 2000

# (column, heading): the heading is the name in the CSV header and the JSON key.
COLUMNS = (
    ("id", "id"),
    ("seq", "seq"),
    ("created_at", "created_at"),
    ("kind", "kind"),
    ("username", "username"),
    ("role", "role"),
    ("ip", "ip"),
    ("user_agent", "user_agent"),
    ("action", "action"),
    ("target_type", "target_type"),
    ("target_id", "target_id"),
    ("target_name", "target_name"),
    ("details", "details"),
    ("source_ref", "source_id"),
    ("source_name", "source_name"),
    ("workspace_ref", "workspace_id"),
    ("workspace_name", "workspace_name"),
    ("api", "api"),
    ("call_type", "call_type"),
    ("method", "method"),
    ("url", "url"),
    ("user_id", "user_id"),
    ("anonymous_id", "anonymous_id"),
    ("event", "event"),
    ("message_id", "message_id"),
    ("outcome", "outcome"),
    ("response_status", "http_status"),
    ("error", "error"),
    ("attempts", "attempts"),
    ("duration_ms", "duration_ms"),
    ("related_to_id", "related_to_id"),
    ("relation", "relation"),
    ("bulk_job_id", "bulk_job_id"),
    ("reason", "reason"),
    ("prev_hash", "prev_hash"),
    ("hash", "hash"),
)
HEADINGS = [heading for _, heading in COLUMNS]


def rows(
    queryset: AuditEntryQuerySet, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[tuple[Any, ...]]:
    """The export's rows, oldest first, streamed from the database."""
    columns = [column for column, _ in COLUMNS]
    return queryset.order_by("seq").values_list(*columns).iterator(chunk_size=chunk_size)


def csv_lines(data: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    """The CSV export, every text cell neutralised for spreadsheets (segadmin.lib.spreadsheet)."""
    write = spreadsheet.line_writer().writerow
    neutralise_row = spreadsheet.neutralise_row
    yield write(HEADINGS)
    when = HEADINGS.index("created_at")
    for row in data:
        # One call per row, none per cell: this loop is the export's speed.
        cells = neutralise_row(row)
        cells[when] = row[when].isoformat()  # csv would write str(): no "T"
        yield write(cells)  # None is written as an empty cell


def jsonl_lines(data: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for row in data:
        record = dict(zip(HEADINGS, row, strict=True))
        record["created_at"] = record["created_at"].isoformat()
        yield encode(record) + "\n"


def stream(queryset: AuditEntryQuerySet, fmt: str) -> Iterator[str]:
    """The export in ``fmt`` ("csv" or "jsonl"), as an iterator of text chunks."""
    data = rows(queryset)
    lines = csv_lines(data) if fmt == "csv" else jsonl_lines(data)
    return _batched(lines)


def _batched(lines: Iterator[str], size: int = 500) -> Iterator[str]:
    # One write per line would make the server flush tiny chunks; join a few hundred.
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= size:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)


# --- the full, verifiable export -------------------------------------------------------------

FULL_FORMAT = "segadmin-audit-export/1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BLOBS = frozenset(chain.BLOB_FIELDS)
_OPTIONAL = frozenset(chain.OPTIONAL_FIELDS)


def full_lines(*, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """The whole chain as JSON Lines: header, every row (``chain.ROW_COLUMNS``; created_at
    as ISO 8601 with microseconds, bodies as base64 of the stored bytes), closing checkpoint."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    yield (
        encode(
            {
                "format": FULL_FORMAT,
                "exported_at": timezone.now().isoformat(),
                "seals": [seal.as_dict() for seal in chain.seals()],
            }
        )
        + "\n"
    )
    names = chain.ROW_COLUMNS
    created = names.index("created_at")
    blobs = [names.index(name) for name in chain.BLOB_FIELDS]
    seq, digest = 0, chain.GENESIS_HASH
    for row in chain.rows(chunk_size):
        record = dict(zip(names, row, strict=True))
        record["created_at"] = (_EPOCH + timedelta(microseconds=row[created])).isoformat()
        for at in blobs:
            record[names[at]] = base64.b64encode(bytes(row[at] or b"")).decode()
        seq, digest = row[1], row[3]
        yield encode(record) + "\n"
    yield encode({"checkpoint": Checkpoint.sign(seq, digest).as_dict()}) + "\n"


def full_stream() -> Iterator[str]:
    return _batched(full_lines())


class _Unreadable(Exception):
    """A line that is not what a full export holds there; the message says which and why."""


class _ExportReader:
    """Reads a full export back into rows for ``chain.walk``; remembers the line it is on."""

    def __init__(self, lines: IO[str]) -> None:
        self.lines = lines
        self.line = 0
        self.seals: list[Checkpoint] = []
        self.closing: Checkpoint | None = None

    @property
    def name(self) -> str:
        return Path(getattr(self.lines, "name", "the export")).name

    def header(self) -> None:
        self.line += 1
        try:
            data = json.loads(self.lines.readline())
            if not isinstance(data, dict) or data.get("format") != FULL_FORMAT:
                raise ValueError
            self.seals = [
                Checkpoint.from_dict(seal, f"the seal on line 1 of {self.name}")
                for seal in data.get("seals") or []
            ]
        except ValueError:
            raise _Unreadable(
                f"line 1 is not the header of a full audit export ({FULL_FORMAT}); make one "
                "with the Verify integrity page's export for offline verification"
            ) from None

    def rows(self) -> Iterator[tuple[Any, ...]]:
        names = chain.ROW_COLUMNS
        for text in self.lines:
            self.line += 1
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except ValueError:
                raise _Unreadable(f"line {self.line} is not JSON") from None
            if self.closing is not None:
                raise _Unreadable(f"line {self.line} follows the closing checkpoint")
            if isinstance(data, dict) and "checkpoint" in data:
                try:
                    where = f"line {self.line} of {self.name}"
                    self.closing = Checkpoint.from_dict(data["checkpoint"], where)
                except ValueError as exc:
                    raise _Unreadable(f"line {self.line}: {exc}") from None
                continue
            try:
                # A column added after the export format began may be absent: it was empty.
                yield tuple(
                    _stored(name, data[name] if name not in _OPTIONAL else data.get(name, ""))
                    for name in names
                )
            except (KeyError, TypeError, ValueError, binascii.Error):
                raise _Unreadable(
                    f"line {self.line} is not an audit entry of a full export"
                ) from None


def _stored(name: str, value: Any) -> Any:
    """A field of an exported row back in the form the hash covers."""
    if name == "created_at":
        return (datetime.fromisoformat(value) - _EPOCH) // timedelta(microseconds=1)
    if name in _BLOBS:
        return base64.b64decode(value, validate=True)
    return value


def verify_file(lines: IO[str]) -> chain.VerifyReport:
    """Check a full export offline: every entry's HMAC, the links between them, the seal, the
    outcome copies and the closing checkpoint (a removed, reordered or changed line, or a cut,
    is a break). Needs the audit key(s) that signed it; never the database."""
    reader = _ExportReader(lines)
    try:
        reader.header()
        report = chain.walk(
            reader.rows(),
            head=None,
            reread_head=lambda: None,
            seals=reader.seals,
            checkpoints=(),
            beyond_head="",
            short_of_head="",
            head_differs="",
        )
    except _Unreadable as exc:
        broken = chain.Break(0, None, chain.UNREADABLE, str(exc))
        return chain.VerifyReport(0, 0, chain.GENESIS_HASH, broken, 0)
    if report.broken is not None:
        where = f"{report.broken.detail} (line {reader.line})"
        return dataclasses.replace(report, broken=dataclasses.replace(report.broken, detail=where))
    return dataclasses.replace(report, broken=_closing_break(report, reader.closing))


def _closing_break(report: chain.VerifyReport, closing: Checkpoint | None) -> chain.Break | None:
    """What is wrong with the export's end: no closing checkpoint, a forged one, or one that
    names another last entry than the export's (lines removed at the end)."""
    last = report.last_seq
    if closing is None:
        return chain.Break(
            last + 1,
            None,
            chain.MISSING,
            f"the export has no closing checkpoint: it was cut short after seq {last}",
        )
    problem = closing.problem(keyring())
    if problem:
        return chain.Break(closing.seq, None, chain.BAD_CHECKPOINT, f"{closing.label()}: {problem}")
    if closing.seq != last:
        return chain.Break(
            last + 1,
            None,
            chain.MISSING,
            f"the export ends at seq {last}, but {closing.label()} names seq {closing.seq}: "
            "entries were removed",
        )
    if closing.hash != report.last_hash:
        return chain.Break(
            last, None, chain.CHANGED, f"the last entry is not the one {closing.label()} names"
        )
    return None
