"""The chain is keyed: HMAC-SHA256 under SEGADMIN_AUDIT_KEY, which the database does not hold.

Someone with write access to the database alone can no longer change a row and recompute
every later hash; verification needs the key that wrote the entries; keys can be rotated;
entries written before the chain was keyed are sealed by the migration and still verify.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.test import override_settings
from django.utils import timezone

from segadmin.audit import anchor, chain
from segadmin.audit.chain import BAD_CHECKPOINT, CHANGED, UNKEYED, UNKNOWN_KEY, verify_chain
from segadmin.audit.keys import key_id
from segadmin.audit.models import AuditEntry, ChainHead, ChainSeal, Kind
from tests.audit.conftest import run_verify, tamper
from tests.audit.entries import make_events

pytestmark = pytest.mark.django_db

OLD_KEY = "old-audit-key-for-tests-0123456789abcdef"
NEW_KEY = "new-audit-key-for-tests-0123456789abcdef"
STRANGER_KEY = "someone-elses-audit-key-0123456789abcdef"
seal_migration = importlib.import_module("segadmin.audit.migrations.0005_keyed_chain_and_seal")


def rewrite_with_sha256(from_seq: int, *, keep_key_id: bool, **change: str) -> None:
    """What an intruder with database access does: change a row, then recompute its hash and
    every later one with plain SHA-256 (the algorithm is no secret), and move the head."""
    previous = AuditEntry.objects.get(seq=from_seq - 1).hash if from_seq > 1 else None
    for entry in AuditEntry.objects.filter(seq__gte=from_seq).order_by("seq"):
        if entry.seq == from_seq:
            for name, value in change.items():
                setattr(entry, name, value)
        stored_key_id = entry.key_id
        entry.key_id = ""  # row_hash of an unkeyed row: plain SHA-256
        entry.prev_hash = previous or entry.prev_hash
        entry.hash = previous = chain.row_hash(entry)
        sets = ", ".join(f"{name} = %s" for name in change) if entry.seq == from_seq else ""
        # Column names come from the test's own keywords, not from input.
        sql = f"UPDATE audit_auditentry SET prev_hash = %s, hash = %s, key_id = %s{', ' + sets if sets else ''} WHERE id = %s"  # noqa: E501, S608
        tamper(
            sql,
            [
                entry.prev_hash,
                entry.hash,
                stored_key_id if keep_key_id else "",
                *(change.values() if sets else ()),
                entry.pk,
            ],
        )
    ChainHead.objects.filter(pk=1).update(last_hash=previous)


def test_each_entry_records_the_id_of_the_key_that_signed_it() -> None:
    entries = make_events(2)
    stored = AuditEntry.objects.order_by("seq").values_list("key_id", flat=True)
    assert list(stored) == [key_id(b"test-audit-key-not-for-production-0123456789")] * 2
    assert entries[0].hash == chain.row_hash(entries[0])


@pytest.mark.parametrize("keep_key_id", [True, False], ids=["key-id-kept", "key-id-emptied"])
def test_a_row_changed_with_every_later_hash_recomputed_without_the_key_is_found(
    keep_key_id: bool,
) -> None:
    make_events(5)
    rewrite_with_sha256(2, keep_key_id=keep_key_id, target_name="Evil")
    assert AuditEntry.objects.get(seq=2).target_name == "Evil"
    report = verify_chain()
    assert not report.ok
    assert report.broken.seq == 2
    if keep_key_id:
        assert report.broken.problem == CHANGED
        assert "HMAC mismatch" in report.broken.detail
    else:
        assert report.broken.problem == UNKEYED
    _, message, code = run_verify()
    assert code != 0 and "seq 2" in message


def test_verify_audit_with_another_key_fails_and_with_the_right_one_passes() -> None:
    make_events(3)
    with override_settings(SEGADMIN_AUDIT_KEYS=[STRANGER_KEY]):
        _, message, code = run_verify()
    assert code != 0
    written_by = key_id(b"test-audit-key-not-for-production-0123456789")
    assert f"signed with key id {written_by} which is not configured" in message
    assert UNKNOWN_KEY in message
    assert STRANGER_KEY not in message
    out, _, code = run_verify()
    assert code == 0
    assert out.startswith("OK: 3 entries")


def test_rows_under_the_old_key_still_verify_when_both_keys_are_configured() -> None:
    with override_settings(SEGADMIN_AUDIT_KEYS=[OLD_KEY]):
        make_events(2)
    with override_settings(SEGADMIN_AUDIT_KEYS=[NEW_KEY, OLD_KEY]):
        make_events(2)
        assert verify_chain().ok
    ids = list(AuditEntry.objects.order_by("seq").values_list("key_id", flat=True))
    assert ids == [key_id(OLD_KEY.encode())] * 2 + [key_id(NEW_KEY.encode())] * 2
    with override_settings(SEGADMIN_AUDIT_KEYS=[NEW_KEY]):
        report = verify_chain()
    assert report.broken.problem == UNKNOWN_KEY
    assert report.broken.seq == 1


# --- entries written before the chain was keyed ---------------------------------------------


def append_unkeyed(n: int) -> list[AuditEntry]:
    """Entries as the app wrote them before the chain was keyed: key_id "" and SHA-256."""
    head = ChainHead.objects.get_or_create(pk=1, defaults={"last_hash": chain.GENESIS_HASH})[0]
    seq, previous = head.last_seq, head.last_hash
    entries = []
    for i in range(n):
        seq += 1
        entry = AuditEntry(
            kind=Kind.EVENT,
            username="before",
            role="system",
            action="role.changed",
            target_type="user",
            target_id=str(i),
            target_name=f"user {i}",
            seq=seq,
            prev_hash=previous,
        )
        entry.created_at = timezone.now()
        entry.hash = previous = chain.row_hash(entry)
        entries.append(entry)
    AuditEntry.objects.bulk_create(entries)
    ChainHead.objects.filter(pk=1).update(last_seq=seq, last_hash=previous)
    return entries


def seal() -> None:
    seal_migration.seal_unkeyed_entries(apps, None)


def test_entries_sealed_by_the_migration_verify_and_later_ones_are_keyed() -> None:
    old = append_unkeyed(3)
    seal()
    stored = ChainSeal.objects.get()
    assert (stored.seq, stored.hash) == (3, old[-1].hash)
    make_events(2)
    report = verify_chain()
    assert report.ok, report
    assert report.count == 5
    assert AuditEntry.objects.get(seq=4).key_id != ""


def test_the_migration_seals_nothing_on_an_empty_log() -> None:
    seal()
    assert not ChainSeal.objects.exists()


def test_a_change_to_a_sealed_entry_is_found() -> None:
    old = append_unkeyed(3)
    seal()
    make_events(1)
    tamper("UPDATE audit_auditentry SET target_name = 'Evil' WHERE id = %s", [old[1].pk])
    report = verify_chain()
    assert (report.broken.seq, report.broken.problem) == (2, CHANGED)


def test_a_sealed_entry_changed_with_the_later_unkeyed_hashes_recomputed_is_found() -> None:
    append_unkeyed(3)
    seal()
    make_events(1)
    rewrite_with_sha256(2, keep_key_id=False, target_name="Evil")
    report = verify_chain()
    assert not report.ok
    # Seq 3 now ends a consistent SHA-256 chain, but not with the hash the seal recorded.
    assert report.broken.seq in (3, 4)


def test_an_unkeyed_entry_after_the_seal_is_refused() -> None:
    append_unkeyed(2)
    seal()
    append_unkeyed(1)
    report = verify_chain()
    assert (report.broken.seq, report.broken.problem) == (3, UNKEYED)


def test_unkeyed_entries_without_a_seal_are_refused() -> None:
    append_unkeyed(2)
    report = verify_chain()
    assert (report.broken.seq, report.broken.problem) == (1, UNKEYED)


def test_a_seal_forged_without_the_key_is_found() -> None:
    append_unkeyed(2)
    seal()
    ChainSeal.objects.update(mac="0" * 64)
    report = verify_chain()
    assert report.broken.problem == BAD_CHECKPOINT
    assert "HMAC mismatch" in report.broken.detail


def test_a_seal_cannot_pass_for_a_checkpoint_or_the_other_way_round() -> None:
    checkpoint = anchor.Checkpoint.sign(3, "a" * 64, time="")
    assert checkpoint.problem(chain.keyring(), purpose=anchor.SEAL) is not None
    assert checkpoint.problem(chain.keyring()) is None
