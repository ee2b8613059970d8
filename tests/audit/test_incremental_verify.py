"""verify_audit is incremental by default: it starts from the last good signed checkpoint and
reads only the entries after it; --full reads them all. Tampering bypasses the append-only
trigger (tests.audit.conftest.tamper); runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from segadmin.audit import anchor, chain
from segadmin.audit.chain import CHANGED, OUTCOME_MISMATCH, verify_chain
from segadmin.audit.log import record_outcome, record_request
from segadmin.segment import client
from segadmin.segment.messages import build_message
from tests.audit.conftest import run_verify, tamper
from tests.audit.entries import WRITE_KEY, actor_for, make_events

pytestmark = pytest.mark.django_db


def chain_checkpoints(path) -> list[anchor.Checkpoint]:
    return list(anchor.read(path))


@pytest.fixture
def anchored(tmp_path, settings):
    settings.SEGADMIN_AUDIT_ANCHOR = str(tmp_path / "anchor.jsonl")
    return tmp_path / "anchor.jsonl"


def change(seq: int) -> None:
    assert tamper("UPDATE audit_auditentry SET target_name = 'Evil' WHERE seq = %s", [seq]) == 1


def test_only_the_entries_after_the_last_checkpoint_are_read(anchored) -> None:
    make_events(3)
    assert run_verify()[2] == 0  # checkpoint at seq 3
    make_events(2)
    out, _, code = run_verify()
    assert code == 0
    assert out.startswith("OK: 2 entries after seq 3 (the checkpoint of ")
    assert "Last entry: seq 5" in out
    out, _, code = run_verify("--full")
    assert code == 0
    assert out.startswith("OK: 5 entries\n")


def test_a_change_before_the_last_checkpoint_is_found_only_with_full(anchored) -> None:
    make_events(4)
    assert run_verify()[2] == 0  # checkpoint at seq 4
    make_events(2)
    change(2)
    out, _, code = run_verify()
    assert code == 0, "the incremental check does not read seq 2"
    assert out.startswith("OK: 2 entries after seq 4")
    _, message, code = run_verify("--full")
    assert code == 1
    assert message.startswith("BROKEN at seq 2 (id ")
    assert CHANGED in message


def test_a_change_after_the_last_checkpoint_is_always_found(anchored) -> None:
    make_events(3)
    assert run_verify()[2] == 0  # checkpoint at seq 3
    make_events(3)
    change(5)
    for args in ((), ("--full",)):
        _, message, code = run_verify(*args)
        assert code == 1
        assert message.startswith("BROKEN at seq 5 (id ")
        assert CHANGED in message


def test_a_change_to_the_checkpointed_entry_itself_is_found(anchored) -> None:
    make_events(3)
    assert run_verify()[2] == 0  # checkpoint at seq 3
    make_events(1)
    change(3)
    _, message, code = run_verify()
    assert code == 1
    assert message.startswith("BROKEN at seq 3 (id ")


def test_it_starts_from_the_last_good_checkpoint_when_a_later_one_no_longer_matches(
    anchored,
) -> None:
    make_events(2)
    assert run_verify()[2] == 0  # checkpoint at seq 2
    make_events(2)
    assert run_verify()[2] == 0  # checkpoint at seq 4
    make_events(1)
    change(4)
    report = verify_chain(checkpoints=chain_checkpoints(anchored), incremental=True)
    assert report.start is not None and report.start.seq == 2
    assert (report.broken.seq, report.broken.problem) == (4, CHANGED)


def test_without_a_checkpoint_everything_is_checked_and_it_says_so(settings) -> None:
    settings.SEGADMIN_AUDIT_ANCHOR = ""
    make_events(2)
    out, _, code = run_verify()
    assert code == 0
    assert out.startswith("OK: 2 entries\n")
    assert "No good checkpoint to start from: checked every entry" in out


def test_an_outcome_after_the_checkpoint_answers_a_request_before_it(anchored) -> None:
    built = build_message("track", event="Order Completed", user_id="u-1")
    request = client.tracking_request(built, write_key=WRITE_KEY, region="us")
    entry = record_request(actor=actor_for(None), request=request)
    assert run_verify()[2] == 0  # checkpoint at the request, not yet answered
    result = client.SendResult(
        status=200,
        headers={"Content-Type": "application/json"},
        body=b'{"success":true}',
        attempts=1,
        duration_ms=42.0,
        error=None,
    )
    record_outcome(entry, result, request=request)
    out, _, code = run_verify()
    assert code == 0
    assert out.startswith("OK: 1 entries after seq 1")
    # The copy on the request row (not hashed) is still compared with the outcome row.
    tamper("UPDATE audit_auditentry SET response_status = 500 WHERE id = %s", [entry.pk])
    report = verify_chain(checkpoints=chain_checkpoints(anchored)[:1], incremental=True)
    assert report.start is not None and report.start.seq == 1
    assert (report.broken.seq, report.broken.problem) == (1, OUTCOME_MISMATCH)
    assert chain.verify_chain().broken.problem == OUTCOME_MISMATCH


@pytest.mark.parametrize(
    "values",
    [
        ["event", 1733190000123456, "ada", None, "\u00e9\u4e2d\U0001f600", 'a "q" \\ b'],
        ["\n\r\t\b\f\x00\x1f\x7f", 87.5, 0.1 + 0.2, 1e21, -0.0, True, False],
        ("a tuple", 3, None, {"reason": "why\nnot", "n": 2}),
        [float("inf"), float("-inf"), float("nan")],
    ],
)
def test_the_cached_encoder_writes_exactly_what_the_json_encoder_writes(values) -> None:
    assert chain._encode(values) == chain._JSON.encode(values)
