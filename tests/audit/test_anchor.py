"""Signed checkpoints of the chain head, kept outside the database, and verify_audit --anchor.

With the head rolled back, a log whose newest entries were deleted still holds together; only
a checkpoint written elsewhere before the cut shows that entries are missing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from django.test import override_settings

from segadmin.audit import anchor, chain
from segadmin.audit.chain import BAD_CHECKPOINT, CHANGED, MISSING, verify_chain
from segadmin.audit.keys import keyring
from segadmin.audit.models import AuditEntry, ChainHead
from tests.audit.conftest import run_verify, tamper
from tests.audit.entries import make_events

pytestmark = pytest.mark.django_db

STRANGER_KEY = "someone-elses-audit-key-0123456789abcdef"


def cut_the_tail(keep: int) -> None:
    """Delete every entry after seq ``keep`` and roll the chain head back to it."""
    last = AuditEntry.objects.get(seq=keep)
    tamper("DELETE FROM audit_auditentry WHERE seq > %s", [keep])
    ChainHead.objects.filter(pk=1).update(last_seq=keep, last_hash=last.hash)


def checkpoints_in(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_verify_audit_appends_a_signed_checkpoint_to_the_anchor_file(tmp_path, settings) -> None:
    settings.SEGADMIN_AUDIT_ANCHOR = str(tmp_path / "anchor.jsonl")
    entries = make_events(3)
    out, _, code = run_verify()
    assert code == 0
    [written] = checkpoints_in(tmp_path / "anchor.jsonl")
    assert (written["seq"], written["hash"]) == (3, entries[-1].hash)
    assert written["key_id"] == keyring().signing_id
    assert set(written) == {"seq", "hash", "time", "key_id", "mac"}
    assert f"Checkpoint appended to {tmp_path / 'anchor.jsonl'}" in out


def test_the_tail_cut_with_the_head_rolled_back_is_found_by_the_anchor(tmp_path, settings) -> None:
    path = tmp_path / "anchor.jsonl"
    settings.SEGADMIN_AUDIT_ANCHOR = str(path)
    make_events(5)
    assert run_verify()[2] == 0  # checkpoint at seq 5
    cut_the_tail(3)
    settings.SEGADMIN_AUDIT_ANCHOR = ""
    assert verify_chain().ok, "without the anchor the cut log holds together"
    _, message, code = run_verify("--anchor", str(path))
    assert code != 0
    assert MISSING in message
    assert "the log ends at seq 3" in message
    assert "recorded seq 5" in message
    assert "line 1 of anchor.jsonl" in message


def test_the_configured_anchor_is_checked_without_naming_it(tmp_path, settings) -> None:
    settings.SEGADMIN_AUDIT_ANCHOR = str(tmp_path / "anchor.jsonl")
    make_events(4)
    run_verify()
    cut_the_tail(2)
    _, message, code = run_verify()
    assert code != 0
    assert "the entries after seq 2 are missing" in message
    assert len(checkpoints_in(tmp_path / "anchor.jsonl")) == 1, "no checkpoint of a broken log"


def test_a_log_rewritten_with_the_key_is_still_found_by_an_earlier_checkpoint(tmp_path) -> None:
    # Someone with the key and the database can make a chain that verifies; a checkpoint
    # written before pins what was there.
    make_events(4)
    before = anchor.Checkpoint.sign(4, AuditEntry.objects.get(seq=4).hash)
    for entry in AuditEntry.objects.filter(seq__gte=3).order_by("seq"):
        if entry.seq == 3:
            entry.target_name = "Evil"
        else:
            entry.prev_hash = AuditEntry.objects.get(seq=3).hash
        entry.hash = chain.row_hash(entry)
        tamper(
            "UPDATE audit_auditentry SET target_name = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [entry.target_name, entry.prev_hash, entry.hash, entry.pk],
        )
    ChainHead.objects.filter(pk=1).update(last_hash=AuditEntry.objects.get(seq=4).hash)
    assert verify_chain().ok
    report = verify_chain(checkpoints=[before])
    assert (report.broken.seq, report.broken.problem) == (4, CHANGED)
    assert "recorded another hash" in report.broken.detail


def test_a_checkpoint_whose_hmac_does_not_verify_is_reported(tmp_path) -> None:
    path = tmp_path / "anchor.jsonl"
    entries = make_events(2)
    good = anchor.Checkpoint.sign(2, entries[-1].hash).as_dict()
    forged = {**good, "seq": 1, "hash": entries[0].hash}  # moved, mac kept
    path.write_text(json.dumps(good) + "\n" + json.dumps(forged) + "\n")
    _, message, code = run_verify("--anchor", str(path))
    assert code != 0
    assert BAD_CHECKPOINT in message
    assert "line 2 of anchor.jsonl" in message
    assert "HMAC mismatch" in message


def test_a_checkpoint_signed_with_another_key_names_its_key_id(tmp_path) -> None:
    path = tmp_path / "anchor.jsonl"
    make_events(1)
    with override_settings(SEGADMIN_AUDIT_KEYS=[STRANGER_KEY]):
        stranger = anchor.Checkpoint.sign(1, "f" * 64)
    path.write_text(json.dumps(stranger.as_dict()) + "\n")
    _, message, code = run_verify("--anchor", str(path))
    assert code != 0
    assert f"signed with key id {stranger.key_id} which is not configured" in message


@pytest.mark.parametrize(
    "line, says",
    [("not json", "cannot be read"), ('{"seq": 1}', "it is not a checkpoint")],
)
def test_an_unreadable_anchor_is_a_clear_error(tmp_path, line, says) -> None:
    path = tmp_path / "anchor.jsonl"
    path.write_text(line + "\n")
    _, message, code = run_verify("--anchor", str(path))
    assert code != 0
    assert "line 1 of anchor.jsonl" in message and says in message


def test_a_missing_anchor_is_a_clear_error(tmp_path) -> None:
    _, message, code = run_verify("--anchor", str(tmp_path / "nowhere"))
    assert code != 0
    assert "neither a file nor a directory" in message


def test_an_anchor_directory_gets_one_file_per_day_and_is_read_whole(tmp_path, settings) -> None:
    settings.SEGADMIN_AUDIT_ANCHOR = str(tmp_path)
    entries = make_events(2)
    written = anchor.write(anchor.Checkpoint.sign(2, entries[-1].hash, time="2026-12-01T10:00:00"))
    assert written == tmp_path / "audit-checkpoints-2026-12-01.jsonl"
    anchor.write(anchor.Checkpoint.sign(1, entries[0].hash, time="2026-12-02T10:00:00"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "audit-checkpoints-2026-12-01.jsonl",
        "audit-checkpoints-2026-12-02.jsonl",
    ]
    assert [c.seq for c in anchor.read(tmp_path)] == [2, 1]
    cut_the_tail(1)
    assert verify_chain(checkpoints=anchor.read(tmp_path)).broken.problem == MISSING


def test_an_anchor_that_cannot_be_written_is_reported_after_the_log_line(
    tmp_path, settings, caplog
) -> None:
    settings.SEGADMIN_AUDIT_ANCHOR = str(tmp_path / "no-such-dir" / "anchor.jsonl")
    make_events(1)
    with caplog.at_level(logging.INFO, logger="segadmin.audit.anchor"):
        _, message, code = run_verify()
    assert code != 0
    assert "SEGADMIN_AUDIT_ANCHOR: cannot append the checkpoint" in message
    assert "audit checkpoint" in caplog.text


def test_the_checkpoint_job_logs_and_anchors_the_head(tmp_path, settings, caplog) -> None:
    settings.SEGADMIN_AUDIT_ANCHOR = str(tmp_path / "anchor.jsonl")
    entries = make_events(2)
    with caplog.at_level(logging.INFO, logger="segadmin.audit.anchor"):
        checkpoint = anchor.checkpoint_head()
    assert (checkpoint.seq, checkpoint.hash) == (2, entries[-1].hash)
    assert checkpoint.problem(keyring()) is None
    assert json.dumps(checkpoint.as_dict(), separators=(",", ":")) in caplog.text
    assert checkpoints_in(tmp_path / "anchor.jsonl") == [checkpoint.as_dict()]


def test_no_key_appears_in_a_checkpoint_or_the_log(tmp_path, settings, caplog) -> None:
    settings.SEGADMIN_AUDIT_ANCHOR = str(tmp_path / "anchor.jsonl")
    make_events(1)
    with caplog.at_level(logging.DEBUG):
        out, err, _ = run_verify()
    key = settings.SEGADMIN_AUDIT_KEYS[0]
    for text in (caplog.text, out, err, (tmp_path / "anchor.jsonl").read_text()):
        assert key not in text
