"""verify_audit --full can split the log into contiguous parts walked by separate processes:
its findings must be exactly those of the one walk (which entry, what is wrong, how far the
log held, the last good hash). Each tampering below is checked both ways, with the parts cut
at every place (parts walked one after the other in this process, inside the test's
transaction); the last tests run real processes (started without fork) on PostgreSQL, which
needs committed rows."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from segadmin.audit import anchor, chain, processes
from segadmin.audit.chain import CHANGED, INSERTED, OUTCOME_MISMATCH, verify_chain
from segadmin.audit.keys import key_id, keyring
from segadmin.audit.models import AuditEntry, ChainHead, Kind
from tests.audit.conftest import postgres_only, run_verify, tamper
from tests.audit.entries import add_call, make_events

pytestmark = pytest.mark.django_db

PARTS = (2, 3, 4, 7)
SIZE = 28


def build_log() -> None:
    """Requests answered at once, answered later (after other entries), never answered,
    network failures and credential events, mixed: 30 entries."""
    make_events(2)
    add_call(status=200)
    first = add_call(answered=False)
    second = add_call(answered=False)
    make_events(1)
    add_call(status=400)
    _answer(first, 200)
    make_events(2)
    _answer(second, None)
    add_call(status=None)
    add_call(answered=False, event="Never Answered")
    for status in (200, 500, 200):
        add_call(status=status)
    make_events(1)
    add_call(status=200)
    third = add_call(answered=False)
    make_events(1)
    _answer(third, 429)
    assert AuditEntry.objects.count() == SIZE


def _answer(entry: AuditEntry, status: int | None) -> None:
    from segadmin.audit.log import record_outcome
    from segadmin.segment import client
    from segadmin.segment.messages import build_message

    request = client.tracking_request(
        build_message("track", event="Order Completed", user_id="u-1"),
        write_key="wk_x0123456789",
        region="us",
    )
    result = client.SendResult(
        status=status,
        headers={},
        body=b"{}" if status else b"",
        attempts=2,
        duration_ms=12.5,
        error=None if status else "timed out",
    )
    record_outcome(entry, result, request=request)


def _same(report: chain.VerifyReport, other: chain.VerifyReport) -> tuple:
    return (report.count, report.last_seq, report.last_hash, report.broken, report.start)


def assert_parts_agree(**options) -> chain.VerifyReport:
    """The one walk's report, after checking every cut into parts gives the same."""
    one = verify_chain(**options)
    for workers in PARTS:
        parts = verify_chain(workers=workers, parallel_from=1, processes=False, **options)
        assert _same(parts, one) == _same(one, one), (workers, one, parts)
    return one


@contextmanager
def undone() -> Iterator[None]:
    """Whatever happens inside is rolled back (one tampering after another on one log)."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def rechain(from_seq: int = 1) -> None:
    """Recompute every hash from ``from_seq`` on with the key (an intruder who has it), and
    the chain head: only the links between requests and outcomes can then be wrong."""
    previous = chain.GENESIS_HASH
    if from_seq > 1:
        previous = AuditEntry.objects.get(seq=from_seq - 1).hash
    for entry in AuditEntry.objects.filter(seq__gte=from_seq).order_by("seq"):
        entry.prev_hash = previous
        entry.hash = previous = chain.row_hash(entry)
        tamper(
            "UPDATE audit_auditentry SET prev_hash = %s, hash = %s WHERE id = %s",
            [entry.prev_hash, entry.hash, entry.pk],
        )
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    ChainHead.objects.filter(pk=1).update(last_seq=last, last_hash=previous)


def each_seq(change: Callable[[int], object]) -> list[chain.VerifyReport]:
    """The reports after ``change`` at each seq in turn (the ones the database refuses, such
    as deleting a request its outcome row refers to on PostgreSQL, left out)."""
    reports = []
    for seq in range(1, SIZE + 1):
        with undone():
            try:
                with transaction.atomic():
                    change(seq)
            except DatabaseError:
                continue
            reports.append(assert_parts_agree())
    return reports


def test_an_intact_log_is_the_same_in_parts() -> None:
    build_log()
    report = assert_parts_agree()
    assert report.ok and report.count == SIZE and report.last_seq == SIZE


def test_a_changed_entry_anywhere_is_named_the_same() -> None:
    build_log()
    reports = each_seq(
        lambda seq: tamper(
            "UPDATE audit_auditentry SET user_agent = 'changed' WHERE seq = %s", [seq]
        )
    )
    assert [(r.broken.seq, r.broken.problem) for r in reports] == [
        (seq, CHANGED) for seq in range(1, SIZE + 1)
    ]


def test_an_entry_deleted_anywhere_is_named_the_same() -> None:
    build_log()
    reports = each_seq(lambda seq: tamper("DELETE FROM audit_auditentry WHERE seq = %s", [seq]))
    assert len(reports) >= 15 and all(not r.ok for r in reports)


def test_two_entries_deleted_across_any_cut_are_named_the_same() -> None:
    build_log()
    reports = each_seq(
        lambda seq: tamper("DELETE FROM audit_auditentry WHERE seq IN (%s, %s)", [seq, seq + 1])
    )
    assert len(reports) >= 8 and all(not r.ok for r in reports)


def test_an_outcome_copy_changed_on_any_request_is_named_the_same() -> None:
    build_log()
    requests = AuditEntry.objects.filter(kind=Kind.REQUEST).values_list("seq", flat=True)
    for seq in requests:
        with undone():
            tamper("UPDATE audit_auditentry SET response_status = 302 WHERE seq = %s", [seq])
            report = assert_parts_agree()
            assert (report.broken.seq, report.broken.problem) == (seq, OUTCOME_MISMATCH)


def test_outcomes_rewired_with_the_key_are_named_the_same() -> None:
    """An intruder with the key points an outcome row at another request (answered already,
    answered later, not a request, absent) or changes its outcome, and re-hashes the chain:
    only the request/outcome links can tell, and they may cross any cut."""
    build_log()
    outcomes = list(
        AuditEntry.objects.filter(kind=Kind.OUTCOME).order_by("seq").values_list("seq", "id")
    )
    # Not an id another outcome row answers already (the database allows one answer each).
    answered = set(AuditEntry.objects.exclude(request_entry=None).values_list("request_entry_id"))
    targets = [  # every other one: enough to cross every cut
        pk
        for pk in AuditEntry.objects.order_by("seq").values_list("id", flat=True)
        if (pk,) not in answered
    ][::2]
    found = set()
    for seq, _ in outcomes:
        for target in targets:
            with undone():
                tamper(
                    "UPDATE audit_auditentry SET request_entry_id = %s WHERE seq = %s",
                    [target, seq],
                )
                rechain(seq)
                report = assert_parts_agree()
                found.add(None if report.ok else report.broken.problem)
        with undone():
            tamper("UPDATE audit_auditentry SET attempts = 9 WHERE seq = %s", [seq])
            rechain(seq)
            report = assert_parts_agree()
            found.add(None if report.ok else report.broken.problem)
    assert {INSERTED, OUTCOME_MISMATCH} <= found
    # A rewired outcome (its request in an earlier part) comes before a plain change later in
    # its own part: the one walk stops at the first.
    event = AuditEntry.objects.get(seq=1).pk
    for seq, _ in outcomes[:-1]:  # the last outcome is the last entry
        with undone():
            tamper("UPDATE audit_auditentry SET request_entry_id = %s WHERE seq = %s", [event, seq])
            rechain(seq)
            tamper("UPDATE audit_auditentry SET user_agent = 'x' WHERE seq = %s", [SIZE])
            report = assert_parts_agree()
            assert (report.broken.seq, report.broken.problem) == (seq, INSERTED)


def test_rows_outside_the_chain_or_under_an_unknown_key_are_named_the_same() -> None:
    build_log()
    with undone():
        tamper("UPDATE audit_auditentry SET seq = -5 WHERE seq = 1")
        assert assert_parts_agree().broken.problem == INSERTED
    with undone():
        ChainHead.objects.filter(pk=1).update(last_seq=27)
        assert assert_parts_agree().broken.seq == 28
    for seq in (1, 9, 16, SIZE):
        with undone():
            tamper("UPDATE audit_auditentry SET key_id = 'deadbeef' WHERE seq = %s", [seq])
            assert assert_parts_agree().broken.seq == seq


def test_an_incremental_check_from_a_checkpoint_is_the_same_in_parts() -> None:
    build_log()
    at = AuditEntry.objects.get(seq=8)
    checkpoints = [anchor.Checkpoint.sign(at.seq, at.hash)]
    report = assert_parts_agree(checkpoints=checkpoints, incremental=True)
    assert report.ok and report.start.seq == 8 and report.count == SIZE - 8
    for seq in (5, 12, 20, SIZE):
        with undone():
            tamper("UPDATE audit_auditentry SET user_agent = 'x' WHERE seq = %s", [seq])
            report = assert_parts_agree(checkpoints=checkpoints, incremental=True)
            if seq < 8:
                assert report.ok, "not read: before the checkpoint"
            else:
                assert (report.broken.seq, report.broken.problem) == (seq, CHANGED)
    # seq 5 is a request before the checkpoint; its outcome (seq 10) comes after it.
    answered_late = AuditEntry.objects.filter(seq=5).values_list("id", flat=True).get()
    with undone():
        tamper("UPDATE audit_auditentry SET response_status = 302 WHERE id = %s", [answered_late])
        report = assert_parts_agree(checkpoints=checkpoints, incremental=True)
        assert (report.broken.id, report.broken.problem) == (answered_late, OUTCOME_MISMATCH)


def test_the_same_hmac_as_the_library_for_any_key_length() -> None:
    import hmac

    for size in (0, 1, 31, 32, 63, 64, 65, 200):
        key = bytes(range(size % 256)) * (size // 256) + bytes(range(size % 256))
        for message in (b"", b"x", b"a\n1\n[]" * 100):
            assert chain._hmac_sha256(key)(message) == hmac.digest(key, message, "sha256").hex()


def test_the_command_walks_in_parts_only_outside_a_transaction() -> None:
    make_events(3)
    # Inside the test's transaction the processes could not see the rows: one walk.
    assert chain._split(0, 2, 1, processes=True) is None
    assert chain._split(0, 2, 1, processes=False) == [1]
    out, _, code = run_verify("--full", "--workers", "2")
    assert code == 0 and out.startswith("OK: 3 entries")


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_real_processes_find_what_one_walk_finds(monkeypatch) -> None:
    build_log()
    assert not connection.in_atomic_block
    one = verify_chain()
    assert chain._split(0, 3, 1, processes=True) == [9, 18]
    assert _same(verify_chain(workers=3, parallel_from=1), one) == _same(one, one)
    tamper("UPDATE audit_auditentry SET user_agent = 'changed' WHERE seq = 25")
    one = verify_chain()
    assert (one.broken.seq, one.broken.problem) == (25, CHANGED)
    for workers in (2, 3):
        parts = verify_chain(workers=workers, parallel_from=1)
        assert _same(parts, one) == _same(one, one)
    _, message, code = run_verify("--full", "--workers", "3")
    assert code == 1 and message.startswith("BROKEN at seq 25 (id ")
    # Where there is no forkserver (Windows, and macOS by default), the parts start by spawn.
    monkeypatch.setattr(processes.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    started = _record_contexts(monkeypatch)
    assert chain._split(0, 3, 1, processes=True) == [9, 18]
    assert _same(verify_chain(workers=3, parallel_from=1), one) == _same(one, one)
    assert [c.get_start_method() for c in started] == ["spawn"]


def _record_contexts(monkeypatch) -> list:
    """The multiprocessing contexts the walk in parts starts its processes with, as it goes."""
    started = []
    choose = processes.context

    def recorded():
        started.append(choose())
        return started[-1]

    monkeypatch.setattr(chain.part_processes, "context", recorded)
    return started


def test_the_parts_are_started_without_fork(monkeypatch) -> None:
    """fork() copies into the child any lock another thread holds at that moment: the parts
    start by forkserver where there is one, else spawn, whatever the platform's default."""
    assert processes.context().get_start_method() == (
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    )
    monkeypatch.setattr(
        processes.multiprocessing, "get_all_start_methods", lambda: ["fork", "spawn"]
    )
    assert processes.context().get_start_method() == "spawn"


def test_the_forkserver_imports_djangos_modules_once_for_every_part() -> None:
    """What it preloads imports without settings and never fails (a failure there would stop
    the forkserver, and every check in parts with it)."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; import segadmin.audit.preload as p; "
        "print(sorted(set(p.MODULES) - set(sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(chain.__file__).parents[2],
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stderr


def _child_settings() -> tuple:
    """In a part's process: the database and key it uses."""
    from django.conf import settings

    from segadmin.audit.keys import keyring

    return settings.DATABASES["default"]["NAME"], connection.vendor, keyring().signing_id


@override_settings(SEGADMIN_AUDIT_KEYS=["a-key-only-this-test-sets-0123456789abcdef"])
def test_a_part_sets_django_up_as_its_parent_is() -> None:
    """Nothing is inherited from the parent's memory: a part sets Django up from what the parent
    hands it, the test database's name and keys set by override_settings included."""
    setup = processes.current()
    assert setup.databases["default"]["NAME"] == connection.settings_dict["NAME"]
    assert setup.settings_module == "segadmin.settings"
    seen = _in_a_part(setup, _child_settings)
    assert seen == (connection.settings_dict["NAME"], connection.vendor, keyring().signing_id)
    assert keyring().signing_id == key_id(b"a-key-only-this-test-sets-0123456789abcdef")


def test_a_part_that_cannot_set_up_fails_the_check_instead_of_hanging() -> None:
    setup = dataclasses.replace(processes.current(), settings_module="segadmin.no_such_settings")
    with pytest.raises(BrokenProcessPool):
        _in_a_part(setup, _child_settings)


def _in_a_part(setup: processes.ProcessSetup, function: Callable[[], tuple]) -> tuple:
    with ProcessPoolExecutor(
        1, mp_context=processes.context(), initializer=processes.set_up, initargs=(setup,)
    ) as pool:
        return pool.submit(function).result(timeout=120)


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_fork_warning_from_a_process_with_threads(monkeypatch) -> None:
    """Run from a process that holds a thread (as the test runner and web servers do), the
    walk in parts forks nothing: Python's warning that fork() may deadlock is not raised."""
    build_log()
    tamper("UPDATE audit_auditentry SET user_agent = 'changed' WHERE seq = 20")
    one = verify_chain()
    started = _record_contexts(monkeypatch)
    stop = threading.Event()
    holder = threading.Thread(target=stop.wait, daemon=True)
    holder.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parts = verify_chain(workers=2, parallel_from=1)
        fork_warnings = [w for w in caught if "fork" in str(w.message)]
        # The same watch sees a fork from this process (a child that exits at once).
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
    finally:
        stop.set()
        holder.join()
    assert fork_warnings == []
    assert any(
        issubclass(w.category, DeprecationWarning) and "fork" in str(w.message) for w in seen
    )
    assert [c.get_start_method() for c in started] == ["forkserver"]
    assert _same(parts, one) == _same(one, one) and one.broken.seq == 20
