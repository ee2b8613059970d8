"""The message index (AuditMessage): every message of a recorded request, findable on its own,
written with its entry, never changed, and back-filled for entries recorded before it."""

from __future__ import annotations

import importlib
import json
import uuid

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from segadmin.audit.log import record_request
from segadmin.audit.models import AppendOnly, AuditEntry, AuditMessage
from segadmin.segment import client
from segadmin.segment.messages import build_message
from tests.audit.conftest import postgres_only
from tests.audit.entries import INDEXED, WRITE_KEY, actor_for, add_call, index_rows, make_source
from tests.factories import login

pytestmark = pytest.mark.django_db
AUDIT = reverse("audit:list")
LOOKUP = reverse("lookup:index")
WITHOUT_EMAIL = INDEXED[:-1]  # none of these messages has one


def a_batch(job: uuid.UUID | None = None, rows: range = range(1, 4)) -> AuditEntry:
    """A /v1/batch request as a bulk import records it (messageIds uuid5(job, row))."""
    job = job or uuid.uuid4()
    messages = [
        build_message(
            "identify",
            user_id=f"user-{row}",
            traits={"plan": "pro", "row": row},
            message_id=str(uuid.uuid5(job, str(row))),
        )
        for row in rows
    ]
    request = client.batch_request(messages, write_key=WRITE_KEY, region="us")
    from segadmin.audit.index import index_batch

    return record_request(
        actor=actor_for(None, "bulk worker"),
        request=request,
        bulk_job_id=str(job),
        index=index_batch(messages, rows=list(rows)),
    )


# --- what is indexed ------------------------------------------------------------------------


def test_a_single_call_is_indexed_as_one_message_with_its_entry(marketer) -> None:
    entry = add_call(user=marketer, user_id="alice", event="Signed Up", message_id="m-1")
    (row,) = AuditMessage.objects.filter(entry=entry)
    assert (row.seq, row.position, row.call_type) == (entry.seq, 0, "track")
    # An ID the message does not have is NULL: the column's partial index skips it.
    assert (row.user_id, row.anonymous_id, row.message_id, row.event) == (
        "alice",
        None,
        "m-1",
        "Signed Up",
    )
    assert row.row is None


def test_every_message_of_a_bulk_batch_is_indexed_with_its_row() -> None:
    job = uuid.uuid4()
    entry = a_batch(job, range(7, 10))
    assert index_rows(entry, WITHOUT_EMAIL) == [
        (i, "identify", f"user-{row}", None, str(uuid.uuid5(job, str(row))), None, row)
        for i, row in enumerate(range(7, 10))
    ]
    assert entry.bulk_job_id == str(job)


def test_a_make_an_api_call_v1_batch_bodys_messages_are_indexed_without_the_write_key(
    admin_user, support, fake_segment
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source()
    body = {
        "batch": [
            {"type": "identify", "userId": "alice", "traits": {"plan": "gold"}},
            {"type": "track", "userId": "bob", "event": "Order Completed", "messageId": "m-b"},
            {"type": "page", "anonymousId": f"device-{WRITE_KEY}", "name": "Home"},
        ]
    }
    response = login(admin_user).post(
        "/calls/api/",
        {
            "api": "tracking",
            "source": str(source.pk),
            "method": "POST",
            "url": "/v1/batch",
            "body": json.dumps(body),
            "headers__mode": "rows",
            "query__mode": "rows",
            "action": "send",
        },
    )
    assert response.status_code == 200
    entry = AuditEntry.objects.get(pk=response.context["panel"]["entry_id"])
    assert entry.call_type == "raw"
    assert index_rows(entry, WITHOUT_EMAIL) == [
        (0, "identify", "alice", None, None, None, None),
        (1, "track", "bob", None, "m-b", "Order Completed", None),
        (2, "page", None, "device-****", None, None, None),
    ]
    # The list finds the second message, and User lookup counts the first one's traits.
    reader = login(support)
    for name, value in {"user_id": "bob", "event": "Order Completed", "message_id": "m-b"}.items():
        assert [e.seq for e in reader.get(AUDIT, {name: value}).context["page"].entries] == [
            entry.seq
        ]
    found = reader.get(LOOKUP, {"identifier_type": "user_id", "identifier": "alice"}).context[
        "found"
    ]
    assert found.traits == {"plan": "gold"}
    assert [line.position for line in found.timeline] == [0]


@pytest.mark.parametrize("common", [1, 5000], ids=["common event", "rare event"])
def test_the_event_filter_finds_messages_inside_batches_whether_common_or_rare(
    support, monkeypatch, common
) -> None:
    from segadmin.audit import filters

    monkeypatch.setattr(filters, "COMMON_EVENT", common)
    track = [
        build_message("track", user_id=f"u{i}", event="Viewed" if i % 2 else "Paid")
        for i in range(4)
    ]
    request = client.batch_request(track, write_key=WRITE_KEY, region="us")
    batch = record_request(actor=actor_for(None, "x"), request=request)
    single = add_call(user_id="u9", event="Paid")
    add_call(user_id="u8", event="Refunded")
    entries = login(support).get(AUDIT, {"event": "Paid"}).context["page"].entries
    assert [e.seq for e in entries] == [single.seq, batch.seq]


def test_a_raw_single_call_takes_its_call_type_from_the_path(admin_user, fake_segment) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source()
    response = login(admin_user).post(
        "/calls/api/",
        {
            "api": "tracking",
            "source": str(source.pk),
            "method": "POST",
            "url": "/v1/identify",
            "body": json.dumps({"userId": "carol", "traits": {"a": 1}}),
            "headers__mode": "rows",
            "query__mode": "rows",
            "action": "send",
        },
    )
    entry = AuditEntry.objects.get(pk=response.context["panel"]["entry_id"])
    assert index_rows(entry, WITHOUT_EMAIL) == [(0, "identify", "carol", None, None, None, None)]


def test_public_api_requests_index_no_message(admin_user) -> None:
    request = client.raw_public_request(
        method="GET",
        path="/workspaces",
        headers={},
        query={},
        body=None,
        token="sgp_INDEXtestToken0123456789",
        region="us",
    )
    entry = record_request(actor=actor_for(admin_user), request=request)
    assert not AuditMessage.objects.filter(entry=entry).exists()


# --- append-only ----------------------------------------------------------------------------


def test_the_orm_cannot_change_or_delete_an_indexed_message(marketer) -> None:
    add_call(user=marketer, user_id="alice")
    row = AuditMessage.objects.get()
    row.user_id = "mallory"
    with pytest.raises(AppendOnly):
        row.save()
    with pytest.raises(AppendOnly):
        row.delete()
    with pytest.raises(AppendOnly):
        AuditMessage.objects.filter(pk=row.pk).update(user_id="mallory")
    with pytest.raises(AppendOnly):
        AuditMessage.objects.filter(pk=row.pk).delete()
    with pytest.raises(AppendOnly):
        AuditMessage.objects.bulk_update([row], ["user_id"])
    assert AuditMessage.objects.get().user_id == "alice"


def raw(sql: str, params: list | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@postgres_only
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditmessage SET user_id = 'mallory'",
        "DELETE FROM audit_auditmessage",
        "TRUNCATE audit_auditmessage",
    ],
)
def test_postgresql_refuses_changing_the_index_with_raw_sql(marketer, sql) -> None:
    add_call(user=marketer, user_id="alice")
    raw("SET CONSTRAINTS ALL IMMEDIATE")  # the insert's deferred checks first (TRUNCATE)
    with pytest.raises(DatabaseError, match="append-only"):
        raw(sql)
    assert list(AuditMessage.objects.values_list("user_id", flat=True)) == ["alice"]


# --- the back-fill of entries recorded before the index -----------------------------------


def forget_index() -> None:
    """Empty the index as it was before the migration (behind the app's back)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditmessage DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM audit_auditmessage")
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditmessage ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_the_back_fill_indexes_the_entries_already_recorded(marketer, monkeypatch) -> None:
    migration = importlib.import_module(
        "segadmin.audit.migrations.0007_message_index_append_only_and_backfill"
    )
    monkeypatch.setattr(migration, "CHUNK", 2)  # several chunks, also across a batch
    single = add_call(user=marketer, call_type="identify", user_id="alice", traits={"a": 1})
    job = uuid.uuid4()
    first, second = a_batch(job, range(1, 4)), a_batch(job, range(5, 7))  # row 4 was invalid
    event = add_call(user=marketer, anonymous_id="anon-1", event="Viewed")
    entries = (single, first, second, event)
    recorded = {entry.pk: index_rows(entry, WITHOUT_EMAIL) for entry in entries}
    assert all(recorded.values())

    forget_index()
    assert not AuditMessage.objects.exists()
    migration.backfill(apps, None)
    assert {entry.pk: index_rows(entry, WITHOUT_EMAIL) for entry in entries} == recorded

    # Run again (an interrupted back-fill resumed): nothing is indexed twice.
    migration.backfill(apps, None)
    assert AuditMessage.objects.count() == sum(len(rows) for rows in recorded.values())


# --- queries --------------------------------------------------------------------------------


def test_user_lookup_costs_the_same_queries_when_the_user_is_in_batches(
    marketer, support, django_assert_num_queries
) -> None:
    for _ in range(3):
        a_batch(rows=range(1, 4))
    add_call(user=marketer, source=make_source(), call_type="identify", user_id="user-2")
    reader = login(support)
    query = {"identifier_type": "user_id", "identifier": "user-2"}
    reader.get(LOOKUP, query)
    # As tests/lookup's fixed count: session, user, the person (permissions, role and source
    # limits: one query), workspace choices, timeline, identifies, the latest source, the
    # Profile API workspaces, the recently viewed list (moved first, read), the message
    # index's backlog (audit.backlog).
    with django_assert_num_queries(11):
        response = reader.get(LOOKUP, query)
    found = response.context["found"]
    assert [(line.position, line.row) for line in found.timeline] == [(0, None)] + [(1, 2)] * 3
    # Each batch's traits for user-2 come from that message inside the batch's stored body
    # (not counted: no answer was recorded for these batches).
    assert [(i.traits, i.counted) for i in found.identifies] == [({}, True)] + [
        ({"plan": "pro", "row": 2}, False)
    ] * 3


def test_the_user_id_filter_shows_the_user_it_found_inside_a_batch(admin_user) -> None:
    # A batch's entry carries its first message's user ID; filtered by the third message's
    # user, the row must not say "user user-1" as if the filter had found someone else.
    a_batch(rows=range(1, 4))
    html = login(admin_user).get(AUDIT, {"user_id": "user-3"}).content.decode()
    ids = html[html.index('class="small audit-ids"') :]
    ids = ids[: ids.index("</td>")]
    assert "<code>user-3</code>" in ids
    assert "in this batch" in ids
    assert "user-1<" not in ids.split("in this batch")[0]

    html = login(admin_user).get(AUDIT, {"user_id": "user-1"}).content.decode()
    ids = html[html.index('class="small audit-ids"') :]
    assert "in this batch" not in ids[: ids.index("</td>")]
