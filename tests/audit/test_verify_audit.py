"""verify_audit finds rows changed, removed or inserted behind the app's back."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from segadmin.audit import chain
from segadmin.audit.chain import CHANGED, INSERTED, MISSING, verify_chain
from segadmin.audit.models import AuditEntry
from tests.audit.conftest import run_verify, tamper
from tests.audit.entries import make_events

pytestmark = pytest.mark.django_db


def test_entries_are_numbered_without_gaps_and_each_links_to_the_one_before():
    entries = make_events(5)
    rows = list(AuditEntry.objects.order_by("seq").values_list("seq", "prev_hash", "hash"))
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0][1] == chain.GENESIS_HASH
    for before, after in itertools.pairwise(rows):
        assert after[1] == before[2]
    assert entries[-1].hash == rows[-1][2]


def test_verify_audit_says_ok_with_the_number_of_entries():
    make_events(3)
    out, _, code = run_verify()
    assert code == 0
    assert out.startswith("OK: 3 entries")


def test_verify_audit_is_ok_on_an_empty_log():
    out, _, code = run_verify()
    assert code == 0
    assert out.startswith("OK: 0 entries")


def test_verify_audit_finds_a_row_changed_in_the_database():
    entries = make_events(4)
    tamper("UPDATE audit_auditentry SET target_name = 'Evil' WHERE id = %s", [entries[2].pk])
    _, message, code = run_verify()
    assert code != 0
    assert f"seq 3 (id {entries[2].pk})" in message
    assert CHANGED in message
    assert verify_chain().broken.problem == CHANGED


def test_verify_audit_finds_a_row_deleted_from_the_middle():
    entries = make_events(4)
    tamper("DELETE FROM audit_auditentry WHERE id = %s", [entries[1].pk])
    _, message, code = run_verify()
    assert code != 0
    assert MISSING in message
    assert "seq 2 is absent" in message
    report = verify_chain()
    assert (report.broken.seq, report.broken.id) == (3, entries[2].pk)


def test_verify_audit_finds_the_last_row_deleted():
    entries = make_events(3)
    tamper("DELETE FROM audit_auditentry WHERE id = %s", [entries[-1].pk])
    _, message, code = run_verify()
    assert code != 0
    assert MISSING in message
    assert "ends at seq 2" in message


def copy_row_sql(seq: int, prev_hash: str, digest: str) -> tuple[str, list]:
    """An INSERT of a plausible event row, written straight into the table."""
    columns = [f.column for f in AuditEntry._meta.concrete_fields if f.column != "id"]
    values = []
    for column in columns:
        values.append({"seq": seq, "prev_hash": prev_hash, "hash": digest}.get(column, "__copy__"))
    select = ", ".join("%s" if v != "__copy__" else c for c, v in zip(columns, values, strict=True))
    params = [v for v in values if v != "__copy__"]
    # Column names come from the model, not from input.
    sql = f"INSERT INTO audit_auditentry ({', '.join(columns)}) SELECT {select} FROM audit_auditentry WHERE seq = 1"  # noqa: E501, S608
    return sql, params


def test_verify_audit_finds_a_row_inserted_at_the_end():
    entries = make_events(3)
    sql, params = copy_row_sql(4, entries[-1].hash, "f" * 64)
    tamper(sql, params)
    _, message, code = run_verify()
    assert code != 0
    assert INSERTED in message
    assert "seq 4" in message


def test_verify_audit_finds_a_row_inserted_with_a_recomputed_hash():
    # An intruder who knows the algorithm can make a self-consistent row, but the chain head
    # the app keeps says where the log ends.
    entries = make_events(3)
    forged = AuditEntry.objects.get(seq=1)
    forged.seq, forged.prev_hash = 4, entries[-1].hash
    sql, params = copy_row_sql(4, entries[-1].hash, chain.row_hash(forged))
    tamper(sql, params)
    report = verify_chain()
    assert report.broken.problem == INSERTED
    assert report.broken.seq == 4


def test_verify_audit_finds_a_row_replaced_in_the_middle():
    entries = make_events(3)
    tamper("UPDATE audit_auditentry SET prev_hash = %s WHERE id = %s", ["a" * 64, entries[1].pk])
    report = verify_chain()
    assert report.broken.seq == 2
    assert report.broken.problem in (CHANGED, INSERTED)


def test_verify_audit_finds_a_row_with_a_negative_seq():
    make_events(2)
    sql, params = copy_row_sql(-1, chain.GENESIS_HASH, "e" * 64)
    tamper(sql, params)
    report = verify_chain()
    assert report.broken.problem == INSERTED
    assert report.broken.seq == -1


def test_verify_chain_reports_what_the_web_page_needs():
    make_events(2)
    report = verify_chain()
    assert report.ok
    assert (report.count, report.last_seq) == (2, 2)
    assert len(report.last_hash) == 64
    assert str(report) == "OK: 2 entries"


def test_verify_audit_prints_the_last_hash_to_pin_the_log():
    entries = make_events(2)
    out, _, _ = run_verify()
    assert f"hash {entries[-1].hash}" in out


def test_rows_appended_while_verify_runs_are_not_taken_for_forgeries(monkeypatch):
    entries = make_events(3)
    heads = iter([(2, entries[1].hash)])  # the head as the walk started: 2 rows
    real_head = chain._head
    monkeypatch.setattr(chain, "_head", lambda: next(heads, None) or real_head())
    report = verify_chain()
    assert report.ok, str(report)
    assert report.count == 3


def test_a_row_written_on_a_whole_second_verifies():
    # Django stores such a time without a fraction; the database-side microseconds cope.
    entry = AuditEntry(kind="event", action="role.changed", username="tests")
    entry.created_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    chain.append([entry])
    make_events(1)
    assert verify_chain().ok


@pytest.mark.parametrize("microsecond", [0, 1, 499_999, 999_499, 999_500, 999_999])
def test_verify_is_exact_at_any_fraction_of_a_second(microsecond: int) -> None:
    # SQLite's strftime('%s') rounds .9995 s up: a check built on it called such rows changed.
    when = datetime(2026, 11, 28, 21, 6, 6, microsecond, tzinfo=UTC)
    entry = AuditEntry(
        kind="event",
        created_at=when,
        username="tests",
        action="credential.changed",
        target_type="source",
        target_id="1",
        target_name="Web",
    )
    chain.append([entry])
    report = verify_chain()
    assert report.ok, report
