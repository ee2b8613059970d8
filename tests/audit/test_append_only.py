"""Nothing can change or delete an audit entry: not the ORM, and on PostgreSQL not raw SQL."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, IntegrityError, connection, transaction

from segadmin.audit import log
from segadmin.audit.chain import OUTCOME_MISMATCH, verify_chain
from segadmin.audit.log import Actor, record_event
from segadmin.audit.models import AppendOnly, AuditEntry, Kind, Outcome
from segadmin.credentials.models import Source
from segadmin.segment.client import SendResult, tracking_request
from segadmin.segment.messages import build_message
from tests.audit.conftest import postgres_only, tamper
from tests.factories import make_source

pytestmark = pytest.mark.django_db


def an_event(actor: Actor | None = None) -> AuditEntry:
    return record_event(
        actor=actor or Actor.system("tests"),
        action="credential.created",
        target_type="workspace",
        target_id=7,
        target_name="Acme",
        details={"changed": ["name", "token"], "token": "should-be-masked"},
    )


def a_request(source: Source | None = None) -> AuditEntry:
    message = build_message("identify", user_id="u-1", traits={"plan": "pro"})
    request = tracking_request(message, write_key="wk_0123456789abcdef", region="us")
    return log.record_request(actor=Actor.system("tests"), request=request, source=source)


def an_answer(status: int | None = 200, error: str | None = None) -> SendResult:
    return SendResult(
        status=status, headers={}, body=b"{}", attempts=1, duration_ms=12.5, error=error
    )


def outcome_of(entry: AuditEntry, status: int | None = 200) -> AuditEntry:
    message = build_message("identify", user_id="u-1")
    request = tracking_request(message, write_key="wk_0123456789abcdef", region="us")
    return log.record_outcome(entry, an_answer(status), request=request)


# --- the ORM ----------------------------------------------------------------------------------


def test_saving_an_entry_again_is_refused():
    entry = an_event()
    entry.target_name = "Changed"
    with pytest.raises(AppendOnly):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).target_name == "Acme"


def test_saving_a_new_entry_directly_is_refused_so_every_row_is_chained():
    with pytest.raises(AppendOnly):
        AuditEntry(kind=Kind.EVENT, action="role.changed").save()
    assert not AuditEntry.objects.exists()


def test_deleting_an_entry_is_refused():
    entry = an_event()
    with pytest.raises(AppendOnly):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_queryset_update_and_delete_are_refused():
    an_event()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().update(target_name="x")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(kind=Kind.EVENT).delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.bulk_update(list(AuditEntry.objects.all()), ["target_name"])
    assert AuditEntry.objects.get().target_name == "Acme"


def test_event_details_never_keep_a_value_under_a_secret_looking_key():
    entry = an_event()
    assert entry.details_data == {"changed": ["name", "token"], "token": "****"}


def test_an_unknown_event_action_is_refused():
    with pytest.raises(ValueError, match="Unknown audit action"):
        record_event(
            actor=Actor.system("tests"),
            action="credential.stolen",
            target_type="source",
            target_id=1,
            target_name="x",
        )


def test_the_outcome_can_be_recorded_only_once():
    entry = a_request()
    outcome_of(entry, 500)
    with pytest.raises(IntegrityError):  # one outcome row per request
        outcome_of(entry, 200)
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert (entry.outcome, entry.response_status) == (Outcome.REJECTED, 500)
    assert verify_chain().ok


def test_an_outcome_whose_copy_finds_no_request_to_fill_leaves_no_trace():
    """The outcome's row, its copy and the counts are one transaction (on PostgreSQL one
    statement): when the copy fills nothing (here: the entry is an event, not a request),
    the outcome row and the counts go too."""
    from segadmin.audit.models import ChainHead, RequestCount

    event = an_event()
    rows, head = AuditEntry.objects.count(), ChainHead.objects.get(pk=1).last_seq
    counted = sorted(RequestCount.objects.values_list("scope", "outcome", "count"))
    with pytest.raises(RuntimeError, match="already has an outcome"):
        outcome_of(event, 200)
    assert AuditEntry.objects.count() == rows
    assert ChainHead.objects.get(pk=1).last_seq == head
    assert sorted(RequestCount.objects.values_list("scope", "outcome", "count")) == counted
    assert verify_chain().ok


def test_an_event_recorded_inside_a_rolled_back_transaction_leaves_no_trace():
    # The credential change and its entry commit together, or neither does.
    with pytest.raises(RuntimeError), transaction.atomic():
        an_event()
        raise RuntimeError("the change failed")
    assert not AuditEntry.objects.exists()
    an_event()
    assert AuditEntry.objects.get().seq == 1
    assert verify_chain().ok


def test_deleting_a_user_keeps_their_entries_by_name_and_the_chain_intact(marketer):
    entry = an_event(Actor(marketer, "maria", "Marketer", "127.0.0.1", "pytest"))
    User.objects.filter(pk=marketer.pk).delete()
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.actor_user is None
    assert (entry.username, entry.role) == ("maria", "Marketer")
    assert verify_chain().ok


def test_deleting_a_source_keeps_its_entries_by_name_and_id():
    source = make_source("Old site", "wk_0123456789abcdef")
    source_pk = source.pk
    entry = a_request(source)
    outcome_of(entry)
    source.delete()
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.source is None
    assert (entry.source_ref, entry.source_name) == (str(source_pk), "Old site")
    assert verify_chain().ok


def test_verify_finds_an_outcome_copy_that_differs_from_the_recorded_outcome():
    entry = a_request()
    outcome_of(entry, 500)
    tamper("UPDATE audit_auditentry SET outcome = 'sent' WHERE id = %s", [entry.pk])
    report = verify_chain()
    assert report.broken.problem == OUTCOME_MISMATCH
    assert (report.broken.seq, report.broken.id) == (entry.seq, entry.pk)
    assert "sent" in report.broken.detail and "rejected" in report.broken.detail


def test_verify_finds_a_failed_outcome_turned_into_sent_on_its_own_row():
    entry = a_request()
    answer = outcome_of(entry, None)
    tamper(
        "UPDATE audit_auditentry SET outcome = 'sent', error = '' WHERE id IN (%s, %s)",
        [entry.pk, answer.pk],
    )
    report = verify_chain()
    assert (report.broken.seq, report.broken.problem) == (answer.seq, "changed row")


def test_verify_finds_an_outcome_copy_without_an_outcome_row():
    entry = a_request()
    tamper("UPDATE audit_auditentry SET outcome = 'sent' WHERE id = %s", [entry.pk])
    report = verify_chain()
    assert (report.broken.id, report.broken.problem) == (entry.pk, OUTCOME_MISMATCH)


# --- PostgreSQL: the trigger refuses raw SQL, whoever runs it -------------------------------


def raw(sql: str, params: list | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@postgres_only
def test_postgresql_refuses_a_raw_update():
    entry = an_event()
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE audit_auditentry SET target_name = 'x' WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).target_name == "Acme"


@postgres_only
def test_postgresql_refuses_a_raw_delete():
    entry = an_event()
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@postgres_only
def test_postgresql_refuses_truncate():
    an_event()
    # Run the deferred foreign-key checks of the insert now, or PostgreSQL refuses the TRUNCATE
    # for that reason before the trigger has its say.
    raw("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError, match="append-only"):
        raw("TRUNCATE audit_auditentry CASCADE")
    assert AuditEntry.objects.count() == 1


@postgres_only
def test_postgresql_refuses_changing_an_outcome_once_recorded():
    entry = a_request()
    outcome_of(entry, None)
    with pytest.raises(DatabaseError, match="already recorded"):
        raw("UPDATE audit_auditentry SET outcome = 'sent' WHERE id = %s", [entry.pk])


@postgres_only
def test_postgresql_refuses_filling_an_outcome_together_with_another_change():
    entry = a_request()
    with pytest.raises(DatabaseError, match="append-only"):
        raw(
            "UPDATE audit_auditentry SET outcome = 'sent', url = 'x' WHERE id = %s",
            [entry.pk],
        )


@postgres_only
def test_postgresql_refuses_pointing_an_entry_at_another_user(marketer):
    entry = an_event()
    with pytest.raises(DatabaseError, match="re-attributed"):
        raw(
            "UPDATE audit_auditentry SET actor_user_id = %s WHERE id = %s",
            [marketer.pk, entry.pk],
        )


@postgres_only
def test_postgresql_lets_the_app_fill_a_missing_outcome_once():
    entry = a_request()
    outcome_of(entry, 200)
    assert AuditEntry.objects.get(pk=entry.pk).outcome == Outcome.SENT
