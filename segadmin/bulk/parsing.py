"""Reading an uploaded CSV or JSON Lines file, a line at a time, never whole.

``scan_upload`` checks the file as it streams (encoding, header, ragged rows, size and row
limits) and hands its rows on in chunks of raw text, each small enough to be processed and
recorded as one unit; ``chunk_rows`` reads one chunk back. ``propose_type`` guesses a column's
type from sample values. Nothing here touches the database or the network.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from segadmin.lib import userjson
from segadmin.lib.spreadsheet import restore
from segadmin.segment import datetimes, values

CSV = "csv"
JSONL = "jsonl"

# Rows per chunk: progress is recorded per chunk, and a worker that dies re-sends at most one.
CHUNK_ROWS = 5_000
# A chunk also ends at this many bytes of raw text, so wide rows keep chunks small.
CHUNK_BYTES = 2 * 1024 * 1024
SAMPLE_ROWS = 1_000
MAX_COLUMNS = 1_000
MAX_CELL_BYTES = 1024 * 1024
# A CSV file's header is row 1, as a spreadsheet numbers it: the first data row is row 2.
FIRST_CSV_ROW = 2
# The column segadmin adds to a failed-rows download. A CSV file with it is such a download
# coming back: its cells were neutralised for spreadsheets, and are restored as they are read.
ERROR_COLUMN = "segadmin_error"

TEXT, NUMBER, BOOLEAN, DATETIME, JSON_TYPE = (
    values.TEXT,
    values.NUMBER,
    values.BOOLEAN,
    values.DATETIME,
    values.JSON,
)
TYPE_CHOICES = [
    (TEXT, "text"),
    (NUMBER, "number"),
    (BOOLEAN, "true/false"),
    (DATETIME, "date-time"),
    (JSON_TYPE, "JSON"),
]

# A column is proposed as number, true/false, date-time or JSON when at least this share of
# its non-empty samples are; the odd cells then become row problems in the dry run.
MAJORITY = 0.9

_BINARY_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook or another zip archive: save it as “CSV UTF-8” first",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) workbook: save it as “CSV UTF-8” first",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive: unpack it first",
}


class FileRefused(ValueError):
    """The upload cannot be imported; the message says why and how to fix it."""


@dataclass
class Scan:
    """What reading the whole file found (the rows themselves went to ``on_chunk``)."""

    format: str
    delimiter: str
    columns: list[str]
    rows: int = 0
    samples: dict[str, list[Any]] = field(default_factory=dict)
    examples: list[list[str]] = field(default_factory=list)  # first rows, for the mapping page


ChunkSink = Callable[[int, int, bytes], None]  # (first_row, row_count, raw text as UTF-8)


def restores_cells(fmt: str, columns: list[str]) -> bool:
    """True for a CSV failed-rows download coming back: each cell loses the ' that
    ``segadmin.lib.spreadsheet.neutralise`` put in front of it."""
    return fmt == CSV and ERROR_COLUMN in columns


def detect_format(name: str, head: bytes) -> str:
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return JSONL
    if lowered.endswith((".csv", ".tsv", ".txt")):
        return CSV
    return JSONL if head.lstrip().startswith(b"{") else CSV


def _check_not_binary(head: bytes) -> None:
    for signature, what in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise FileRefused(f"This file is {what}. Upload a CSV or JSON Lines file.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused(
            "This file is saved as UTF-16. Save it as UTF-8 (in Excel: “CSV UTF-8 (Comma "
            "delimited)”) and upload it again."
        )
    if b"\x00" in head:
        raise FileRefused(
            "This file contains binary data (zero bytes), so it is not a CSV or JSON Lines text "
            "file. If it is UTF-16 text, save it as UTF-8."
        )


def _lines(
    stream: IO[bytes], *, max_bytes: int, consumed: list[str], sizes: list[int]
) -> Iterator[str]:
    """Decoded lines of ``stream``; each is also appended to ``consumed`` so the caller knows
    the raw text of every record. Refuses bad encodings and files over ``max_bytes``."""
    total = 0
    for number, raw in enumerate(stream, start=1):
        total += len(raw)
        if total > max_bytes:
            raise FileRefused(
                f"The file is larger than {_size(max_bytes)}, the most one import takes. "
                "Split it into smaller files."
            )
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if b"\x00" in raw:
            raise FileRefused(f"Line {number} contains binary data (a zero byte).")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            byte = raw[exc.start : exc.start + 1].hex().upper()
            raise FileRefused(
                f"The file is not UTF-8 text: line {number} has the byte 0x{byte}, which is "
                "not valid UTF-8 (the file was probably saved as Windows-1252 or Latin-1). "
                "Save it as UTF-8 (in Excel: “CSV UTF-8”) and upload it again."
            ) from None
        consumed.append(line)
        sizes[0] = total
        yield line


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):,.0f} MB"
    if n >= 1024:
        return f"{n / 1024:,.0f} KB"
    return f"{n:,} bytes"


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _check_header(columns: list[str]) -> list[str]:
    columns = [c.strip() for c in columns]
    if not columns or all(not c for c in columns):
        raise FileRefused("The first line is empty: the file needs a header row of column names.")
    for position, name in enumerate(columns, start=1):
        if not name:
            raise FileRefused(
                f"Column {position} of the header row has no name: every column needs one."
            )
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise FileRefused(f"The header names the column “{name}” twice: rename one of them.")
        seen.add(name)
    looks_like_data = [
        c for c in columns if values.is_number_text(c) or "@" in c or datetimes.looks_like_date(c)
    ]
    if looks_like_data:
        raise FileRefused(
            f"The first row looks like data, not column names (“{looks_like_data[0]}”): add a "
            "header row naming each column, e.g. userId,email,plan."
        )
    if len(columns) > MAX_COLUMNS:
        raise FileRefused(f"The file has {len(columns):,} columns; at most {MAX_COLUMNS:,} are.")
    return columns


class _Chunker:
    """Cuts the rows into chunks. Each ``add`` is one line of the file as a spreadsheet
    shows it (a CSV record, a JSON Lines line), blank or not; a chunk's ``first_row`` is the
    number of its first line, so a row's number is the line it is on in the spreadsheet."""

    def __init__(self, sink: ChunkSink, first_line: int) -> None:
        self.sink = sink
        self.parts: list[str] = []
        self.size = 0
        self.first_row = self.next_line = first_line
        self.count = 0

    def add(self, text: str, rows: int) -> None:
        self.parts.append(text)
        self.size += len(text)
        self.count += rows
        self.next_line += 1
        if self.count >= CHUNK_ROWS or self.size >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.count:
            self.sink(self.first_row, self.count, "".join(self.parts).encode())
        # Else trailing blank lines: nothing to keep.
        self.first_row = self.next_line
        self.parts, self.size, self.count = [], 0, 0


def scan_upload(
    stream: IO[bytes], *, name: str, max_rows: int, max_bytes: int, on_chunk: ChunkSink
) -> Scan:
    """Read the whole upload once, refusing (FileRefused) what cannot be imported, and pass its
    rows to ``on_chunk`` in chunks. Memory use is one chunk, whatever the file's size."""
    head = stream.read(8)
    stream.seek(0)
    if not head:
        raise FileRefused("The file is empty.")
    _check_not_binary(head)
    fmt = detect_format(name, head)
    if fmt == JSONL:
        return _scan_jsonl(stream, max_rows=max_rows, max_bytes=max_bytes, on_chunk=on_chunk)
    return _scan_csv(stream, max_rows=max_rows, max_bytes=max_bytes, on_chunk=on_chunk)


def _too_many_rows(max_rows: int) -> FileRefused:
    return FileRefused(
        f"The file has more than {max_rows:,} rows, the most one import takes. Split it into "
        "smaller files."
    )


def _scan_csv(stream: IO[bytes], *, max_rows: int, max_bytes: int, on_chunk: ChunkSink) -> Scan:
    consumed: list[str] = []
    sizes = [0]
    lines = _lines(stream, max_bytes=max_bytes, consumed=consumed, sizes=sizes)
    first = next(lines, None)
    if first is None:
        raise FileRefused("The file is empty.")
    delimiter = _sniff_delimiter(first)

    def replay() -> Iterator[str]:
        yield first
        yield from lines

    csv.field_size_limit(MAX_CELL_BYTES)
    reader = csv.reader(replay(), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise FileRefused(f"The header row cannot be read as CSV: {exc}.") from None
    if header is None:
        raise FileRefused("The file is empty.")
    restoring = restores_cells(CSV, [c.strip() for c in header])
    if restoring:
        header = [restore(c.strip()) for c in header]
    columns = _check_header(header)
    consumed.clear()
    width = len(columns)
    scan = Scan(format=CSV, delimiter=delimiter, columns=columns)
    scan.samples = {c: [] for c in columns}
    # The header is the spreadsheet's row 1: the first data row is row 2.
    chunker = _Chunker(on_chunk, FIRST_CSV_ROW)
    row = 0
    while True:
        line = chunker.next_line
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise FileRefused(
                f"Row {line} cannot be read as CSV ({exc}); check its quotes."
            ) from None
        if cells is None:
            break
        text = "".join(consumed)
        consumed.clear()
        if not cells or (len(cells) == 1 and not cells[0] and width > 1):
            chunker.add(text, 0)  # a blank line: kept in the text, not a row
            continue
        row += 1
        if row > max_rows:
            raise _too_many_rows(max_rows)
        if restoring:
            cells = [restore(cell) for cell in cells]
        if len(cells) != width:
            raise FileRefused(
                f"Row {line} has {len(cells)} values where the header has {width} columns "
                f"(“{_preview(text)}”). Every row needs one value per column; quote values "
                "that contain the delimiter."
            )
        if row <= SAMPLE_ROWS:
            for name, value in zip(columns, cells, strict=True):
                scan.samples[name].append(value)
            if row <= 5:
                scan.examples.append(cells)
        chunker.add(text, 1)
    chunker.flush()
    if row == 0:
        raise FileRefused("The file has a header row but no data rows.")
    scan.rows = row
    return scan


def _preview(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 60 else text[:57] + "…"


def _scan_jsonl(stream: IO[bytes], *, max_rows: int, max_bytes: int, on_chunk: ChunkSink) -> Scan:
    consumed: list[str] = []
    sizes = [0]
    columns: dict[str, None] = {}
    scan = Scan(format=JSONL, delimiter="", columns=[])
    first_objects: list[dict[str, Any]] = []  # the examples, as rows once the columns are known
    samples: dict[str, list[Any]] = {}
    chunker = _Chunker(on_chunk, 1)  # no header: row 1 is the first line
    row = 0
    for number, line in enumerate(
        _lines(stream, max_bytes=max_bytes, consumed=consumed, sizes=sizes), start=1
    ):
        consumed.clear()
        if not line.strip():
            chunker.add(line, 0)
            continue
        try:
            value = userjson.loads(line, what=f"Line {number}")
        except userjson.JSONRefused as exc:
            raise FileRefused(f"{exc} A JSON Lines file has one JSON object per line.") from None
        if not isinstance(value, dict):
            raise FileRefused(
                f"Line {number} is not a JSON object: each line must be one object such as "
                '{"userId": "42", "plan": "pro"}.'
            )
        row += 1
        if row > max_rows:
            raise _too_many_rows(max_rows)
        for key in value:
            if key not in columns:
                if len(columns) >= MAX_COLUMNS:
                    raise FileRefused(
                        f"The file uses more than {MAX_COLUMNS:,} different keys; at most "
                        f"{MAX_COLUMNS:,} can be mapped."
                    )
                columns[key] = None
                samples[key] = []
            if row <= SAMPLE_ROWS:
                samples[key].append(value[key])
        if row <= 5:
            first_objects.append(value)
        chunker.add(line if line.endswith("\n") else line + "\n", 1)
    chunker.flush()
    if row == 0:
        raise FileRefused("The file has no rows: a JSON Lines file has one JSON object per line.")
    scan.columns = list(columns)
    if any(not key.strip() for key in scan.columns):
        raise FileRefused("A key in the file is empty: every value needs a name.")
    scan.examples = [[_display(e.get(c)) for c in scan.columns] for e in first_objects]
    scan.samples = samples
    scan.rows = row
    return scan


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def chunk_rows(
    fmt: str, delimiter: str, data: bytes, first_row: int, *, restoring: bool = False
) -> Iterator[tuple[int, Any]]:
    """``(row_number, cells)`` for each row of one chunk: a list of strings for CSV, a dict
    for JSON Lines. Blank lines are skipped exactly as ``scan_upload`` skipped them, and
    counted: a row's number is its line as a spreadsheet shows the file (the CSV header is
    row 1, so the first data row is row 2; a JSON Lines file's first line is row 1).
    ``restoring`` (see ``restores_cells``) gives each CSV cell back as it was neutralised."""
    text = data.decode()
    row = first_row
    if fmt == JSONL:
        lines = text.split("\n")
        if lines and not lines[-1]:
            lines.pop()  # the text ends with a newline: no line after it
        for line in lines:
            if line.strip():
                # Every line passed the same parser when the file was scanned.
                yield row, userjson.loads(line, what=f"Row {row}")
            row += 1
        return
    csv.field_size_limit(MAX_CELL_BYTES)
    # Lines split as the scan split them (not str.splitlines, which also breaks at U+2028).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    for cells in reader:
        if cells and not (len(cells) == 1 and not cells[0]):
            yield row, [restore(cell) for cell in cells] if restoring else cells
        row += 1


# --- Type proposals -------------------------------------------------------------------------


def _kind_of_value(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return values.kind_of_text(value)
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, dict | list):
        return JSON_TYPE
    return TEXT


def propose_type(samples: Iterable[Any]) -> str:
    """The type most of a column's non-empty samples have (at least ``MAJORITY`` of them),
    else text: a column of numbers with one “ten” is still a number column, and the odd cell
    is a row problem in the dry run, as Hightouch and Census do.

    Text cells (CSV) are read: 42 and 19.99 are numbers (but 007 stays text: a code, not a
    quantity), true/false is true/false, ISO-8601 dates are date-times, {...} or [...] that
    parse are JSON. JSON Lines values keep their JSON type.
    """
    counts: Counter[str] = Counter()
    for value in samples:
        kind = _kind_of_value(value)
        if kind is not None:
            counts[kind] += 1
    total = sum(counts.values())
    if not total:
        return TEXT
    kind, count = counts.most_common(1)[0]
    return kind if count >= MAJORITY * total else TEXT


# --- Values ---------------------------------------------------------------------------------
# One parser for typed values at every entrance: segment.values (the editors use it too).

CellInvalid = values.ValueInvalid


def coerce(type_: str, value: Any) -> Any:
    """The JSON value to send for one non-empty cell of a column of ``type_``; CellInvalid
    (a sentence about the value, as the call screens say it) when it does not fit."""
    return values.to_type(type_, value)
