"""On SQLite the walk reads each row's hashed values as one JSON text SQLite writes
(chain.encoded_rows) instead of 34 columns encoded again by Python: the text must be the
one Python writes, and a row whose text differs anyway is checked the Python way before it
is called changed, so the findings are the same as without it."""

from __future__ import annotations

import pytest
from django.db import connection

from segadmin.audit import chain
from segadmin.audit.chain import CHANGED, verify_chain
from segadmin.audit.log import Actor, record_event
from segadmin.audit.models import AuditEntry
from tests.audit.conftest import tamper
from tests.audit.entries import add_call, make_events

pytestmark = pytest.mark.django_db

ODD_TEXTS = (
    "plain",
    "\u00e9\u4e2d\U0001f600 accents, CJK and an emoji",
    'quotes " and \\ backslashes',
    "controls \x00 \x01 \x1f \x7f \n \r \t \b \f",
    "separators \u2028 \u2029 and a BOM \ufeff",
    "",
)


def odd_log() -> None:
    actor = Actor.system("tests \u00e9\x00")
    for i, text in enumerate(ODD_TEXTS):
        record_event(
            actor=actor,
            action="credential.changed",
            target_type="source",
            target_id=i,
            target_name=text,
            details={"changed": [text], "n": i},
        )
    add_call(status=200, event="\u00e9v\u00e9nement \x01", user_id="\U0001f600")
    add_call(status=None, error="refused \x00 \u00e9")
    add_call(answered=False)


def _python_text(row: tuple) -> str:
    """What _encode writes for a row in ROW_COLUMNS layout."""
    content_end = 5 + len(chain.HASHED_FIELDS)
    outcome_end = content_end + len(chain.OUTCOME_FIELDS)
    values = row[5:content_end] if row[5] == "request" else row[5:outcome_end]
    return chain._encode(values)


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite writes the JSON (elsewhere: Python)"
)
def test_sqlite_writes_the_same_json_as_python_for_every_row() -> None:
    odd_log()
    encoded = chain.encoded_rows()
    assert encoded is not None
    text_at = chain.ENCODED_COLUMNS.index("encoded")
    compared = 0
    for fast, full in zip(encoded, chain.rows(), strict=True):
        text = fast[text_at]
        if fast[5] != "request":
            text = f"{text[:-1]},{chain._encode(fast[text_at - 1])}]"
        assert text == _python_text(full), fast[1]
        compared += 1
    assert compared == AuditEntry.objects.count() > len(ODD_TEXTS)
    assert verify_chain().ok


def test_other_databases_read_the_columns() -> None:
    assert (chain.encoded_rows() is None) == (connection.vendor != "sqlite")


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite writes the JSON (elsewhere: Python)"
)
def test_a_text_the_database_writes_otherwise_is_checked_the_python_way(monkeypatch) -> None:
    make_events(5)
    text_at = chain.ENCODED_COLUMNS.index("encoded")
    reads = chain.encoded_rows

    def spoiled(*args, **kwargs):  # as if SQLite wrote seq 3's JSON another way
        for row in reads(*args, **kwargs):
            if row[1] == 3:
                row = (*row[:text_at], row[text_at].replace(",", ", "), *row[text_at + 1 :])
            yield row

    monkeypatch.setattr(chain, "encoded_rows", spoiled)
    report = verify_chain()
    assert report.ok and report.count == 5
    for workers in (2, 3):
        assert verify_chain(workers=workers, parallel_from=1, processes=False).ok
    # A real change there is still found, and named as without the fast path.
    tamper("UPDATE audit_auditentry SET target_name = 'Evil' WHERE seq = 3")
    report = verify_chain()
    assert (report.broken.seq, report.broken.problem) == (3, CHANGED)
    assert "HMAC mismatch" in report.broken.detail
