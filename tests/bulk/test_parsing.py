"""Reading uploads: what is refused and why, chunks that read back exactly, type proposals."""

from __future__ import annotations

import io
import json

import pytest

from segadmin.bulk import parsing
from segadmin.bulk.parsing import FileRefused, chunk_rows, coerce, propose_type, scan_upload


def scan(content: bytes, name: str = "users.csv", *, max_rows: int = 1000, max_bytes: int = 10**6):
    chunks: list[tuple[int, int, bytes]] = []
    result = scan_upload(
        io.BytesIO(content),
        name=name,
        max_rows=max_rows,
        max_bytes=max_bytes,
        on_chunk=lambda first, count, data: chunks.append((first, count, data)),
    )
    return result, chunks


def read_back(result, chunks) -> list[tuple[int, object]]:
    rows = []
    for first, _, data in chunks:
        rows.extend(chunk_rows(result.format, result.delimiter, data, first))
    return rows


@pytest.mark.parametrize(
    ("content", "name", "reason"),
    [
        (b"", "a.csv", "The file is empty."),
        (b"PK\x03\x04rest-of-a-zip", "a.csv", "Excel workbook"),
        (b"%PDF-1.7 ...", "a.csv", "a PDF document"),
        ("userId,name\n1,é\n".encode("utf-16"), "a.csv", "saved as UTF-16"),
        ("userId,name\nu1,Zoë\n".encode("latin-1"), "a.csv", "line 2 has the byte 0xEB"),
        (b"u1,maria@example.com,42\nu2,sam@example.com,7\n", "a.csv", "looks like data"),
        (b"userId,,plan\nu1,a,b\n", "a.csv", "Column 2 of the header row has no name"),
        (
            b"userId,plan,plan\nu1,a,b\n",
            "a.csv",
            "names the column “plan” twice",
        ),
        (
            b"userId,plan\nu1,pro\nu2,pro,extra\n",
            "a.csv",
            "Row 3 has 3 values where the header has 2",
        ),
        (b"userId,plan\n", "a.csv", "no data rows"),
        (b'userId,plan\nu1,"unclosed\n', "a.csv", "Row 2 cannot be read as CSV"),
        (b'{"userId": "u1"}\n{"userId": \n', "a.jsonl", "Line 2 is not valid JSON"),
        (b'{"userId": "u1"}\n[1, 2]\n', "a.jsonl", "Line 2 is not a JSON object"),
    ],
)
def test_it_refuses_a_bad_file_with_a_reason(content, name, reason):
    with pytest.raises(FileRefused) as refused:
        scan(content, name)
    assert reason in str(refused.value)


def test_it_refuses_more_rows_than_the_limit_while_reading():
    content = b"userId\n" + b"".join(b"u%d\n" % i for i in range(11))
    with pytest.raises(FileRefused, match="more than 10 rows"):
        scan(content, max_rows=10)
    assert scan(content, max_rows=11)[0].rows == 11


def test_it_refuses_more_bytes_than_the_limit_while_reading():
    content = b"userId\n" + b"u1234567\n" * 200
    with pytest.raises(FileRefused, match="larger than 1 KB"):
        scan(content, max_bytes=1024)


def test_chunks_read_back_every_row_exactly(monkeypatch):
    monkeypatch.setattr(parsing, "CHUNK_ROWS", 2)
    content = (
        "\ufeffuserId;note;plan\r\n"
        'u1;"line one\nline two";pro\r\n'
        "\r\n"  # a blank line is not a row, but a spreadsheet counts it
        'u2;"semi; colon and ""quotes""";free\r\n'
        "u3;has\u2028a line separator;team\r\n"
        "u4;last;pro"
    ).encode()
    result, chunks = scan(content)
    assert result.delimiter == ";"
    assert result.columns == ["userId", "note", "plan"]  # the BOM is gone
    assert result.rows == 4
    # Row numbers as a spreadsheet shows the file: the header is row 1, the blank line row 3.
    assert [(first, count) for first, count, _ in chunks] == [(2, 2), (5, 2)]
    assert read_back(result, chunks) == [
        (2, ["u1", "line one\nline two", "pro"]),
        (4, ["u2", 'semi; colon and "quotes"', "free"]),
        (5, ["u3", "has\u2028a line separator", "team"]),
        (6, ["u4", "last", "pro"]),
    ]


def test_json_lines_are_read_with_the_union_of_their_keys():
    lines = [{"userId": "u1", "plan": "pro"}, {"userId": "u2", "seats": 3, "tags": ["a"]}]
    content = ("\n".join(json.dumps(line) for line in lines) + "\n\n").encode()
    result, chunks = scan(content, "users.jsonl")
    assert result.format == parsing.JSONL
    assert result.columns == ["userId", "plan", "seats", "tags"]
    assert read_back(result, chunks) == [(1, lines[0]), (2, lines[1])]
    assert result.examples[1] == ["u2", "", "3", '["a"]']


def test_json_lines_rows_are_numbered_by_their_line_blank_lines_counted(monkeypatch):
    monkeypatch.setattr(parsing, "CHUNK_ROWS", 2)
    content = b'{"userId": "u1"}\n\n{"userId": "u2"}\r\n{"userId": "u3"}\n\n\n{"userId": "u4"}'
    result, chunks = scan(content, "users.jsonl")
    assert [(first, count) for first, count, _ in chunks] == [(1, 2), (4, 2)]
    assert [row for row, _ in read_back(result, chunks)] == [1, 3, 4, 7]


def test_a_csv_first_data_row_is_row_2_as_a_spreadsheet_shows_it(monkeypatch):
    monkeypatch.setattr(parsing, "CHUNK_ROWS", 2)
    content = b"userId,plan\nu1,pro\nu2,free\n\nu3,team\nu4,pro\n"
    result, chunks = scan(content)
    assert [row for row, _ in read_back(result, chunks)] == [2, 3, 5, 6]


def test_a_file_without_a_known_extension_is_recognised_by_its_content():
    assert scan(b'{"userId": "u1"}\n', "export")[0].format == parsing.JSONL
    assert scan(b"userId\nu1\n", "export")[0].format == parsing.CSV


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["42", "19.99", "-3", "1e3", ""], parsing.NUMBER),
        (["007", "42"], parsing.TEXT),  # a code with a leading zero is not a quantity
        (["true", "FALSE", ""], parsing.BOOLEAN),
        (["2024-05-01", "2024-05-01T09:30:00Z", "2024-05-01 09:30:00+02:00"], parsing.DATETIME),
        (['{"a": 1}', "[1, 2]"], parsing.JSON_TYPE),
        (["{not json"], parsing.TEXT),
        (["42", "true"], parsing.TEXT),  # disagreeing values fall back to text
        (["", ""], parsing.TEXT),
        ([3, 4.5], parsing.NUMBER),  # JSON Lines values keep their JSON type
        ([True, None], parsing.BOOLEAN),
        ([{"a": 1}], parsing.JSON_TYPE),
        (["hello", 3], parsing.TEXT),
    ],
)
def test_it_proposes_the_type_that_fits_every_sample(values, expected):
    assert propose_type(values) == expected


def test_values_are_coerced_to_their_column_type_or_refused_with_a_reason():
    assert coerce(parsing.NUMBER, "42") == 42
    assert coerce(parsing.NUMBER, "19.99") == 19.99
    assert coerce(parsing.BOOLEAN, "Yes") is True
    assert coerce(parsing.BOOLEAN, "0") is False
    assert coerce(parsing.JSON_TYPE, '{"a": [1]}') == {"a": [1]}
    assert coerce(parsing.DATETIME, "1990-05-04") == "1990-05-04"
    assert coerce(parsing.TEXT, 42) == "42"
    for type_, value, reason in [
        (parsing.NUMBER, "12 apples", "is not a number"),
        (parsing.NUMBER, "1e999", "too large"),
        (parsing.BOOLEAN, "maybe", "is not true or false"),
        (parsing.DATETIME, "2024-05-01T09:30:00", "has no time zone"),
        (parsing.DATETIME, "May 1st", "is not an ISO-8601 date"),
        (parsing.JSON_TYPE, "{oops", "is not valid JSON"),
    ]:
        with pytest.raises(parsing.CellInvalid, match=reason):
            coerce(type_, value)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([str(n) for n in range(99)] + ["ten"], parsing.NUMBER),  # 1 % odd: still numbers
        ([str(n) for n in range(90)] + ["x"] * 10, parsing.NUMBER),  # 90 % is enough
        ([str(n) for n in range(89)] + ["x"] * 11, parsing.TEXT),  # 89 % is not
        (["true"] * 95 + ["maybe"] * 5, parsing.BOOLEAN),
        (["2024-05-01T09:30:00Z"] * 98 + ["2024-02-30", "soon"], parsing.DATETIME),
        ([3] * 99 + ["ten"], parsing.NUMBER),  # JSON Lines too
    ],
)
def test_it_proposes_the_type_of_the_majority_of_the_samples(values, expected):
    assert propose_type(values) == expected
