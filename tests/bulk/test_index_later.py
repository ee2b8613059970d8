"""A bulk batch is sent without its message index rows; they follow after the import.

Writing three random-key index entries per message on the import's critical path was most of a
large import's time, so a bulk batch is recorded with a ``PendingIndex`` row instead and
``audit.backlog.catch_up`` writes its index rows from the stored body afterwards: exactly the
rows the recorder writes for the same batch sent the usual way (file rows included), and
nothing is lost if the worker dies in between (the periodic job catches up).
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
import responses
from django.urls import reverse

from segadmin import periodic, sending
from segadmin.audit import backlog
from segadmin.audit.chain import verify_chain
from segadmin.audit.index import index_batch, pack_rows, unpack_rows
from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry, AuditMessage, Kind, PendingIndex
from segadmin.bulk import worker
from segadmin.bulk.models import BulkJob, Status
from segadmin.segment.messages import build_message
from tests.audit.entries import index_rows
from tests.bulk.test_imports_are_findable import identify_rows, run_import
from tests.factories import login, make_source

WRITE_KEY = "wk_live_0123456789abcdefSECRET"
BATCH_URL = "https://api.segment.io/v1/batch"


def actor() -> Actor:
    return Actor(user=None, username="bulk worker", role="Marketer", ip=None, user_agent="")


def messages() -> list[dict[str, Any]]:
    """A batch as an import builds it: Identify rows with emails, one with the write key in
    its user ID (masked in the index as in the body), a Track with an anonymous ID."""
    return [
        build_message("identify", user_id="u-1", traits={"email": " Ann@Example.COM "}),
        build_message("identify", user_id=f"leak-{WRITE_KEY}", traits={"plan": "pro"}),
        build_message("track", anonymous_id="a-3", event="Signed Up", properties={}),
        build_message("identify", user_id="u-4", traits={"email": "bo@example.com"}),
    ]


def send_later(
    source: Any, rows: list[int], batch: list[dict[str, Any]] | None = None
) -> AuditEntry:
    """A batch (of ``messages()``) sent the bulk worker's way: its index kept for later."""
    batch = batch or messages()
    return sending.send_batch(
        actor=actor(),
        source=source,
        messages=batch,
        bulk_job_id="job-1",
        index=index_batch(batch[:1], rows=rows[:1]),
        index_later=rows,
    ).entry


def running_import(source: Any, user: Any) -> BulkJob:
    return BulkJob.objects.create(
        source=source,
        created_by=user,
        call_type="identify",
        file_name="people.csv",
        file_format="csv",
        status=Status.RUNNING,
    )


def test_rows_are_kept_as_runs_and_read_back() -> None:
    for rows in ([5], [2, 3, 4, 5], [2, 3, 5, 6, 7, 10], [*range(2, 1702), 1703]):
        assert unpack_rows(pack_rows(rows)) == rows
    assert pack_rows([*range(2, 1702), 1703, 1705, 1706]) == "2-1701,1703,1705-1706"
    assert pack_rows([]) == "" and pack_rows([3, None]) == ""
    assert unpack_rows("") is None


@pytest.mark.django_db
@responses.activate
def test_a_batch_sent_with_its_index_later_gets_the_same_index_rows_after_catching_up() -> None:
    responses.post(BATCH_URL, json={"success": True})
    source = make_source("Website", WRITE_KEY)
    batch, rows = messages(), [2, 3, 5, 6]
    # The usual way: the recorder writes the index with the entry.
    usual = sending.send_batch(
        actor=actor(), source=source, messages=batch, index=index_batch(batch, rows=rows)
    ).entry
    # The bulk worker's way: the first message's values only, the rows kept for later.
    later = send_later(source, rows, batch)
    assert index_rows(later) == []
    pending = PendingIndex.objects.get()
    assert (pending.entry_id, pending.seq, pending.rows, pending.messages) == (
        later.pk,
        later.seq,
        "2-3,5-6",
        4,
    )
    # The entry's own columns are its first message's either way.
    assert (later.user_id, later.message_id) == (usual.user_id, batch[0]["messageId"])
    assert backlog.backlog() == backlog.Backlog(entries=1, messages=4)

    assert backlog.catch_up() == 1
    assert not PendingIndex.objects.exists() and not backlog.backlog()
    written = index_rows(later)
    assert written == index_rows(usual)
    assert [row[6] for row in written] == rows
    assert written[0][7] == "ann@example.com"  # the email as the index keeps it
    assert WRITE_KEY not in str(written) and "****" in written[1][2]  # masked, as in the body
    assert backlog.catch_up() == 0  # nothing twice
    assert AuditMessage.objects.filter(entry=later).count() == 4
    assert verify_chain().ok


@pytest.mark.django_db
@responses.activate
def test_a_catch_up_writes_a_few_entries_a_transaction_and_can_stop_midway() -> None:
    responses.post(BATCH_URL, json={"success": True})
    source = make_source("Website", WRITE_KEY)
    for start in range(0, 5 * 4, 4):
        send_later(source, list(range(start + 2, start + 6)))
    assert backlog.catch_up(most=2) == 2
    assert PendingIndex.objects.count() == 3
    assert AuditMessage.objects.count() == 8
    assert backlog.catch_up() == 3
    assert sorted(AuditMessage.objects.values_list("row", flat=True)) == list(range(2, 22))


@pytest.mark.django_db
def test_an_import_leaves_nothing_pending_and_every_row_indexed(
    marketer, source, fake_segment, immediate_tasks
) -> None:
    job = run_import(login(marketer), source, identify_rows(), "identify")
    batches = AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk))
    assert batches.count() == job.requests >= 2
    assert not PendingIndex.objects.exists()
    found = AuditMessage.objects.filter(entry__in=batches)
    assert found.count() == job.sent == 3_000
    # Each message as the recorder would have indexed it, with its file row.
    one = found.get(user_id="user-2345")
    assert (one.row, one.email, one.call_type) == (2_346, "u2345@example.com", "identify")


@pytest.mark.django_db
@responses.activate
def test_the_backlog_waits_while_an_import_is_sending_then_the_periodic_job_catches_up(
    marketer,
) -> None:
    responses.post(BATCH_URL, json={"success": True})
    source = make_source("Website", WRITE_KEY)
    send_later(source, [2, 3, 4, 5])
    running = running_import(source, marketer)
    assert worker.index_backlog() == 0  # it would take the CPU from that import
    assert PendingIndex.objects.count() == 1
    BulkJob.objects.filter(pk=running.pk).update(status=Status.DONE)
    job = next(job for job in periodic.registered() if job.name == "bulk.index_backlog")
    job.run()
    assert not PendingIndex.objects.exists()
    assert AuditMessage.objects.count() == 4


@pytest.mark.django_db
@responses.activate
def test_a_search_by_id_says_when_the_index_is_still_catching_up(admin_user, support) -> None:
    responses.post(BATCH_URL, json={"success": True})
    source = make_source("Website", WRITE_KEY)
    send_later(source, [2, 3, 4, 5])
    notice = 'data-testid="index-backlog"'
    client = login(support)
    searched = client.get(reverse("audit:list"), {"user_id": "u-4"})
    assert notice in searched.content.decode()
    assert (
        "4 messages in 1 request sent by a bulk import are not searchable by ID or email yet"
        in " ".join(searched.content.decode().split())
    )
    assert notice not in client.get(reverse("audit:list")).content.decode()  # no ID searched
    looked_up = client.get(
        reverse("lookup:index"), {"identifier_type": "user_id", "identifier": "u-4"}
    )
    assert notice in looked_up.content.decode()

    backlog.catch_up()
    searched = client.get(reverse("audit:list"), {"user_id": "u-4"})
    assert notice not in searched.content.decode()
    assert len(searched.context["page"].entries) == 1  # found inside the batch now


@pytest.mark.django_db
@responses.activate
def test_a_catch_up_gives_way_to_an_import_that_starts_sending(marketer) -> None:
    responses.post(BATCH_URL, json={"success": True})
    source = make_source("Website", WRITE_KEY)
    for start in range(0, 3 * 4, 4):
        send_later(source, list(range(start + 2, start + 6)))
    asked = []
    sending_now = worker._an_import_is_sending

    def started_after_the_first_transaction() -> bool:
        # Asked before the catch-up, then before each transaction: the import starts after
        # the first one.
        asked.append(True)
        if len(asked) == 3:
            running_import(source, marketer)
        return sending_now()

    with (
        mock.patch.object(backlog, "ENTRIES_PER_TRANSACTION", 1),
        mock.patch.object(worker, "_an_import_is_sending", started_after_the_first_transaction),
    ):
        assert worker.index_backlog() == 1
    assert PendingIndex.objects.count() == 2  # left for that import's end
