"""A privacy request naming many IDs: filing and approving it write each ID's message-index
row (User lookup finds every person); on PostgreSQL in one COPY, whatever the number of IDs
(the 500-row INSERTs before took 16-24 s for 100,000 IDs at load 7), on SQLite in 500-row
INSERTs as before (faster there than one prepared INSERT run for each row). The request and
its audit entry are committed before anything is sent. bench/privacy_request.py has the
figures."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from segadmin.approvals.models import Approval
from segadmin.audit.index import IndexedMessage
from segadmin.audit.log import record_event, write_index
from segadmin.audit.models import AuditEntry, AuditMessage
from segadmin.privacy.models import PrivacyRequest
from tests.audit.entries import actor_for, index_rows
from tests.factories import login
from tests.privacy.conftest import creates

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the COPY is PostgreSQL's; SQLite keeps 500-row INSERTs (one statement per 500 IDs)",
)
MANY = 1_234  # more than two of the 500-row INSERTs written before


def form(workspace, ids: list[str]) -> dict:
    return {
        "workspace": workspace.pk,
        "action": "SUPPRESS_WITH_DELETE",
        "subject_type": "USER_ID",
        "ids": "\n".join(ids),
        "reason": "DPO-7: erase these people",
    }


def ids_of(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n:05d}" for n in range(count)]


def indexed(entry: AuditEntry) -> list[tuple]:
    return index_rows(
        entry, ("seq", "position", "call_type", "user_id", "anonymous_id", "email", "row")
    )


def an_entry() -> AuditEntry:
    """An entry to write index rows under: a privacy request's, recorded by the system."""
    return record_event(
        actor=actor_for(None, "system"),
        action="privacy.requested",
        target_type="privacy_request",
        target_id=1,
        target_name="test",
    )


def statements(block) -> int:
    with CaptureQueriesContext(connection) as captured:
        block()
    return len(captured)


def test_every_index_row_is_written_as_given() -> None:
    entry = an_entry()
    rows = [
        IndexedMessage(
            position=n,
            call_type="privacy",
            user_id=f"u-{n}" if n % 2 else "",
            anonymous_id="" if n % 2 else f"a-{n}\ttab",
            message_id=f"m-{n}" if n % 3 == 0 else "",
            event="Signed Up" if n % 5 == 0 else "",
            row=n or None,
            email=f"p{n}@example.com" if n % 7 == 0 else "",
        )
        for n in range(MANY)
    ]
    write_index(entry.pk, entry.seq, rows)
    assert index_rows(entry) == [
        (
            r.position,
            r.call_type,
            r.user_id or None,
            r.anonymous_id or None,
            r.message_id or None,
            r.event or None,
            r.row,
            r.email or None,
        )
        for r in rows
    ]
    write_index(entry.pk, entry.seq, [])  # nothing to write: no statement, no error


@postgres_only
def test_writing_an_index_takes_the_same_statements_for_ten_rows_or_thousands() -> None:
    # (A COPY is not among Django's captured queries: both count 0.)
    def write(count: int) -> tuple[AuditEntry, int]:
        entry = an_entry()
        rows = [
            IndexedMessage(position=n, call_type="privacy", user_id=f"u-{n}", row=n or None)
            for n in range(count)
        ]
        return entry, statements(lambda: write_index(entry.pk, entry.seq, rows))

    (few, few_statements), (many, many_statements) = write(10), write(MANY)
    assert few_statements == many_statements <= 1
    assert len(indexed(few)) == 10
    assert indexed(many) == [
        (many.seq, n, "privacy", f"u-{n}", None, None, n or None) for n in range(MANY)
    ]


@postgres_only
def test_filing_many_ids_costs_the_statements_of_a_few(support, workspace) -> None:
    client = login(support)
    # Warm the session and caches, and start the audit chain (its head is made once).
    client.post(reverse("privacy:new"), form(workspace, ["warm"]))
    few = statements(lambda: client.post(reverse("privacy:new"), form(workspace, ["a", "b"])))
    many = statements(
        lambda: client.post(reverse("privacy:new"), form(workspace, ids_of("p", MANY)))
    )
    assert many == few
    request = PrivacyRequest.objects.order_by("-pk").first()
    assert request.id_count == MANY
    entry = AuditEntry.objects.get(action="privacy.requested", target_id=str(request.pk))
    assert [row[3] for row in indexed(entry)] == ids_of("p", MANY)
    assert request.state == PrivacyRequest.State.WAITING


@pytest.mark.parametrize("who", ["support", "admin_user"])
def test_support_and_admins_file_many_ids_with_every_id_on_the_record(
    fake, workspace, persona, who
) -> None:
    ids = ids_of(who, MANY)
    response = login(persona(who)).post(reverse("privacy:new"), form(workspace, ids))
    assert response.status_code == 302
    request = PrivacyRequest.objects.get()
    assert request.id_list == ids and request.chunks.count() == 1
    entry = AuditEntry.objects.get(action="privacy.requested")
    assert [row[3] for row in indexed(entry)] == ids
    assert creates(fake) == []  # nothing is sent before an approval


@pytest.mark.parametrize("who", ["marketer", "no_role_user"])
def test_a_forged_post_of_many_ids_by_a_marketer_writes_nothing(workspace, persona, who) -> None:
    response = login(persona(who)).post(reverse("privacy:new"), form(workspace, ids_of("x", MANY)))
    assert response.status_code == 403
    assert not PrivacyRequest.objects.exists()
    assert not AuditMessage.objects.exists()


def test_an_admin_approves_many_ids_each_on_the_record_before_it_is_sent(
    fake, support, admin_user, workspace
) -> None:
    login(support).post(reverse("privacy:new"), form(workspace, ids_of("s", MANY)))
    request = PrivacyRequest.objects.get()
    response = login(admin_user).post(
        reverse("approvals:decide", args=[request.approval_id]), {"decision": "approve"}
    )
    assert response.status_code == 302
    approved = AuditEntry.objects.get(action="approval.approved")
    assert [row[3] for row in indexed(approved)] == ids_of("s", MANY)
    call = AuditEntry.objects.get(call_type="public:create_regulation")
    assert approved.seq < call.seq  # the decision is on the record before the call leaves
    assert len(indexed(call)) == MANY
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.SENT
    assert len(creates(fake)) == 1


@pytest.mark.parametrize("who", ["support", "requester"])
def test_support_or_the_requester_cannot_approve_many_ids(
    fake, support, admin_user, workspace, persona, who
) -> None:
    login(admin_user).post(reverse("privacy:new"), form(workspace, ids_of("r", MANY)))
    request = PrivacyRequest.objects.get()
    user = admin_user if who == "requester" else persona(who)
    login(user).post(
        reverse("approvals:decide", args=[request.approval_id]), {"decision": "approve"}
    )
    assert Approval.objects.get().state == Approval.State.WAITING
    assert not AuditEntry.objects.filter(action="approval.approved").exists()
    assert creates(fake) == []
