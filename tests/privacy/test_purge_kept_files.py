"""A privacy request may also remove the named users' rows from the import files segadmin
still keeps (issue 15); the audit log keeps its entries."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from segadmin.approvals.services import decide
from segadmin.audit.models import AuditEntry
from segadmin.bulk import parsing
from segadmin.bulk.models import BulkChunk, BulkJob, BulkRowResult
from segadmin.privacy import flow
from tests.factories import login, make_source
from tests.privacy.conftest import actor_of, filed

pytestmark = pytest.mark.django_db

WRITE_KEY = "wk_privacy_bulk_0123456789abcdef"


def csv_text(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([header, *rows])
    return out.getvalue().encode()


def upload(client, content: bytes, *, source) -> None:
    file = SimpleUploadedFile("users.csv", content, content_type="text/csv")
    client.post("/bulk/", {"file": file, "call_type": "identify", "source": source.pk})


@pytest.fixture
def bulk_source(fake):
    fake.add_write_key(WRITE_KEY, "src_bulk")
    return make_source("Bulk site", WRITE_KEY)


def rows_of(job: BulkJob) -> list[tuple[int, list[str]]]:
    return [
        (row, cells)
        for chunk in BulkChunk.objects.filter(job=job).order_by("index")
        for row, cells in parsing.chunk_rows(
            job.file_format, job.delimiter, bytes(chunk.data), chunk.first_row
        )
    ]


def test_the_named_users_rows_leave_a_draft_import_and_the_others_keep_their_numbers(
    fake, support, admin_user, workspace, bulk_source
):
    content = csv_text(
        ["userId", "plan"], [["u1", "pro"], ["keep-me", "free"], ["u2", "x, y"], ["k2", "a"]]
    )
    upload(login(support), content, source=bulk_source)
    job = BulkJob.objects.get()
    assert job.total_rows == 4
    request = filed(support, workspace, ids=("u1", "u2"), purge_kept_files=True)
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")
    message = flow.on_approved(request.approval, actor_of(admin_user))
    assert "removed from 1 kept import file(s) (2 rows)" in message
    job.refresh_from_db()
    assert rows_of(job) == [(3, ["keep-me", "free"]), (5, ["k2", "a"])]
    assert job.total_rows == 2 and job.dry_run is None
    assert all("u1" not in e and "u2" not in e for e in job.examples)
    entry = AuditEntry.objects.get(action="privacy.files_purged")
    removed = entry.details_data["removed"]["bulk imports"]["imports"]
    assert removed[str(job.pk)]["rows_removed"] == 2
    assert AuditEntry.objects.filter(action="privacy.requested").exists()  # the record stays


def test_kept_failed_rows_of_a_finished_import_are_cleared(
    fake, support, admin_user, workspace, bulk_source
):
    upload(login(support), csv_text(["userId"], [["u1"]]), source=bulk_source)
    job = BulkJob.objects.get()
    BulkRowResult.objects.create(job=job, row=2, kind="refused", problems=[], cells=["u1"])
    BulkJob.objects.filter(pk=job.pk).update(status="done")
    request = filed(support, workspace, ids=("u1",), purge_kept_files=True)
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")
    flow.on_approved(request.approval, actor_of(admin_user))
    assert BulkRowResult.objects.get().cells == []


def test_without_the_box_nothing_kept_is_touched(fake, support, admin_user, workspace, bulk_source):
    upload(login(support), csv_text(["userId"], [["u1"], ["u2"]]), source=bulk_source)
    request = filed(support, workspace, ids=("u1",))
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")
    flow.on_approved(request.approval, actor_of(admin_user))
    assert BulkJob.objects.get().total_rows == 2
    assert not AuditEntry.objects.filter(action="privacy.files_purged").exists()
