"""Issue 12, item 7: after a bulk import, every row's message is findable.

A batch's audit entry keeps only its first message's IDs; the message index finds the others.
Each import here is a real job, run by the worker's own code (``run_job`` through the task,
in-process) against the local fake of Segment; the same tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.audit.models import AuditEntry, Kind
from segadmin.bulk.models import BulkJob, Status
from segadmin.bulk.plan import message_id
from tests.audit.entries import add_call
from tests.bulk.conftest import csv_text, mapping_post, upload
from tests.factories import login

ROWS = 3_000
ROW = 2_345  # user-2345, the 2,345th data row...
LINE = ROW + 1  # ...on the spreadsheet's row 2,346 (the header is row 1)
AUDIT = reverse("audit:list")
LOOKUP = reverse("lookup:index")


def run_import(client: Client, source: Any, content: bytes, call_type: str) -> BulkJob:
    """Upload, start and (ImmediateBackend) run the job to its end through the worker."""
    before = set(BulkJob.objects.values_list("pk", flat=True))
    response = upload(client, content, source=source, call_type=call_type)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = BulkJob.objects.exclude(pk__in=before).get()
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.DONE, job.error
    return job


def track_rows() -> bytes:
    rows = [
        [
            f"user-{i}",
            f"anon-{i}",
            "Gift Card Redeemed" if i == ROW else "Product Viewed",
            str(i),
        ]
        for i in range(1, ROWS + 1)
    ]
    return csv_text(["userId", "anonymousId", "event", "order"], rows)


def identify_rows() -> bytes:
    rows = [[f"user-{i}", f"u{i}@example.com", "pro"] for i in range(1, ROWS + 1)]
    return csv_text(["userId", "email", "plan"], rows)


def listed(response: Any) -> list[AuditEntry]:
    assert response.status_code == 200
    assert not response.context["form"].errors, response.context["form"].errors
    return response.context["page"].entries


@pytest.mark.django_db
def test_every_audit_id_filter_finds_the_message_on_row_2345_of_a_3000_row_import(
    marketer, support, source, fake_segment, immediate_tasks
) -> None:
    job = run_import(login(marketer), source, track_rows(), "track")
    assert (job.sent, job.failed) == (ROWS, 0)
    batches = AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk))
    assert batches.count() == job.requests >= 2
    # The bug: the batch holding row 2,345 is filed under its first message only.
    assert not batches.filter(user_id=f"user-{ROW}").exists()

    client = login(support)
    found = {}
    for name, value in {
        "user_id": f"user-{ROW}",
        "anonymous_id": f"anon-{ROW}",
        "message_id": message_id(job.id, LINE),
        "event": "Gift Card Redeemed",
    }.items():
        entries = listed(client.get(AUDIT, {name: value}))
        assert len(entries) == 1, name
        found[name] = entries[0].seq
    (seq,) = set(found.values())
    entry = AuditEntry.objects.get(seq=seq)
    assert entry.bulk_job_id == str(job.pk)
    assert entry.user_id != f"user-{ROW}"  # found inside the batch, not by its first message
    sent = entry.request_body_data["batch"]
    assert any(m["userId"] == f"user-{ROW}" for m in sent)
    # A neighbour's IDs find nothing else: the filter is exact.
    assert listed(client.get(AUDIT, {"user_id": f"user-{ROW}0"})) == []


@pytest.mark.django_db
def test_user_lookup_shows_row_2345_of_an_import_as_its_own_line_with_its_traits(
    marketer, support, source, fake_segment, immediate_tasks
) -> None:
    # An Identify sent by hand before the import: its traits stay unless the import changes them.
    add_call(
        user=marketer,
        source=source,
        call_type="identify",
        user_id=f"user-{ROW}",
        traits={"plan": "free", "age": 30},
    )
    job = run_import(login(marketer), source, identify_rows(), "identify")
    assert job.sent == ROWS

    response = login(support).get(
        LOOKUP, {"identifier_type": "user_id", "identifier": f"user-{ROW}"}
    )
    assert response.status_code == 200
    found = response.context["found"]
    assert len(found.timeline) == 2
    line = found.timeline[0]
    assert (line.entry.bulk_job_id, line.row, line.call_type) == (str(job.pk), LINE, "identify")
    # "What we sent": the import's traits over the earlier Identify's.
    assert found.traits == {"plan": "pro", "age": 30, "email": f"u{ROW}@example.com"}
    assert [i.counted for i in found.identifies] == [True, True]
    html = response.content.decode()
    job_url = reverse("bulk:job", args=[job.pk])
    assert f'href="{job_url}" data-testid="import-row">bulk import, row {LINE}</a>' in html


@pytest.mark.django_db
def test_the_audit_log_filters_by_import_and_the_import_links_to_it(
    marketer, support, source, fake_segment, immediate_tasks
) -> None:
    client = login(marketer)
    first = run_import(client, source, csv_text(["userId"], [["a"], ["b"]]), "identify")
    second = run_import(client, source, csv_text(["userId"], [["c"]]), "identify")
    add_call(user=marketer, source=source, call_type="identify", user_id="a")

    entries = listed(login(support).get(AUDIT, {"bulk_job": str(first.pk)}))
    assert [e.bulk_job_id for e in entries] == [str(first.pk)] * first.requests
    assert {e.bulk_job_id for e in listed(client.get(AUDIT, {"bulk_job": second.pk}))} == {
        str(second.pk)
    }

    page = client.get(reverse("bulk:job", args=[first.pk])).content.decode()
    assert f'href="{AUDIT}?bulk_job={first.pk}"' in page


@pytest.mark.django_db
def test_a_malformed_import_id_is_refused_beside_the_field(support) -> None:
    response = login(support).get(AUDIT, {"bulk_job": "not-an-import"})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "bulk_job": ["An import is named by its ID, as in its page's address."]
    }
    assert response.context["page"].entries == []
