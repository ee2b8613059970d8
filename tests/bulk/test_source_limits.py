"""Bulk imports of a person limited to chosen sources: the upload offers only their sources, a
forged upload to another is refused next to Source and audited; a job whose owner's limits
changed after the upload is refused at start, by the Start button and by the worker, with the
reason on the job's page, and nothing is sent; a limited Support person reads only the imports
of their sources (and their own)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from segadmin.audit.models import AuditEntry, Kind
from segadmin.bulk.models import BulkJob, Status
from segadmin.bulk.tasks import run_bulk_job
from segadmin.credentials.models import Source
from tests.bulk.conftest import csv_text, mapping_post, upload
from tests.bulk.test_permissions import job_of
from tests.factories import limit_to, make_source

pytestmark = pytest.mark.django_db

OTHER_KEY = "wk_OTHERbulkAbCdEfGhIjKlMnOpQrStUv"


@pytest.fixture
def other(db: None, fake_segment: Any) -> Source:
    fake_segment.add_write_key(OTHER_KEY, "src_other")
    return make_source("Other site", OTHER_KEY)


def refusals() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(kind=Kind.EVENT, action="access.refused"))


def identify_csv() -> bytes:
    return csv_text(["userId", "plan"], [["u1", "pro"], ["u2", "free"]])


def test_the_upload_offers_only_the_persons_sources(client, marketer, source, other):
    limit_to(marketer, sources=[source])
    client.force_login(marketer)
    html = client.get("/bulk/").content.decode()
    assert f'<option value="{source.pk}"' in html
    assert f'<option value="{other.pk}"' not in html


def test_a_forged_upload_to_another_source_is_refused_and_audited(
    client, marketer, source, other, fake_segment
):
    limit_to(marketer, sources=[source])
    client.force_login(marketer)
    response = upload(client, identify_csv(), source=other)
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "You may not use the source “Other site”" in errors["source"][0]
    assert not BulkJob.objects.exists()
    (entry,) = refusals()
    assert entry.source_id == other.pk and entry.actor_user_id == marketer.pk
    assert entry.details_data["entrance"] == "Bulk import"
    assert fake_segment.requests == []


def test_the_person_may_still_import_to_their_source(
    client, marketer, source, fake_segment, immediate_tasks
):
    limit_to(marketer, sources=[source])
    client.force_login(marketer)
    response = upload(client, identify_csv(), source=source)
    job = BulkJob.objects.get()
    assert response.status_code == 302
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.DONE
    assert len(fake_segment.messages("/v1/batch")) == 2
    assert refusals() == []


def test_start_refuses_a_job_whose_uploaders_limits_changed_after_upload(
    client, marketer, source, other, fake_segment, immediate_tasks
):
    client.force_login(marketer)
    upload(client, identify_csv(), source=other)
    job = BulkJob.objects.get()
    limit_to(marketer, sources=[source])  # an Admin limits them after the upload
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "may no longer send to the source “Other site”" in page
    job.refresh_from_db()
    assert job.status == Status.DRAFT
    assert fake_segment.requests == []
    (entry,) = refusals()
    assert entry.source_id == other.pk


def test_the_worker_refuses_at_start_a_job_whose_owners_limits_changed(
    client, marketer, source, other, fake_segment, immediate_tasks
):
    job = job_of(marketer, other, call_type="identify", status=Status.QUEUED)
    limit_to(marketer, sources=[source])  # after the upload and the Start
    assert run_bulk_job.enqueue(str(job.pk)).return_value == Status.FAILED
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error == (
        f"{marketer.username}, who uploaded this import, may no longer send to the source "
        "“Other site”: an Admin limited them to other sources. The import was stopped before "
        "sending anything more."
    )
    assert (job.sent, job.failed) == (0, 0)
    assert fake_segment.requests == []
    (entry,) = refusals()
    assert entry.source_id == other.pk and entry.details_data["entrance"] == "bulk worker"
    # The reason is on the job's page.
    client.force_login(marketer)
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert "may no longer send to the source “Other site”" in page


def test_a_limited_admin_may_not_start_someone_elses_import_to_another_source(
    client, admin_user, marketer, source, other, fake_segment, immediate_tasks
):
    job = job_of(marketer, other, call_type="identify")
    limit_to(admin_user, sources=[source])
    client.force_login(admin_user)
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert response.status_code == 404  # not even shown: it is not of their sources


def test_a_limited_support_person_reads_only_the_imports_of_their_sources(
    client, support, marketer, source, other
):
    mine = job_of(marketer, source, call_type="identify", name="mine.csv")
    theirs = job_of(marketer, other, call_type="identify", name="theirs.csv")
    own = job_of(support, other, call_type="identify", name="own.csv")
    limit_to(support, sources=[source])
    client.force_login(support)
    html = client.get("/bulk/").content.decode()
    assert "mine.csv" in html and "own.csv" in html
    assert "theirs.csv" not in html
    assert client.get(f"/bulk/{theirs.pk}/").status_code == 404
    assert client.get(f"/bulk/{mine.pk}/").status_code == 200
    assert client.get(f"/bulk/{own.pk}/").status_code == 200


def test_people_without_limits_see_every_import(client, support, marketer, source, other):
    job_of(marketer, other, call_type="identify", name="theirs.csv")
    client.force_login(support)
    assert "theirs.csv" in client.get("/bulk/").content.decode()


def test_the_send_service_stops_a_running_job_when_the_starters_limits_change(
    marketer: User, source: Source, other: Source, fake_segment: Any, immediate_tasks: None
) -> None:
    """Started by an Admin for the uploader; the Admin is limited meanwhile: the last line."""
    job = job_of(marketer, other, call_type="identify", status=Status.QUEUED)
    admin = User.objects.create_user("starter")
    BulkJob.objects.filter(pk=job.pk).update(started_by=admin)
    limit_to(admin, sources=[source])
    assert run_bulk_job.enqueue(str(job.pk)).return_value == Status.FAILED
    job.refresh_from_db()
    assert "You may not use the source “Other site”" in job.error
    assert fake_segment.requests == []


def test_a_limited_admin_may_not_approve_an_import_to_another_source(
    marketer, admin_user, source, other
):
    from segadmin.approvals.models import Approval
    from segadmin.approvals.services import may_decide
    from segadmin.audit.log import Actor
    from segadmin.bulk import services

    job = job_of(marketer, other, call_type="identify")
    approval = services.request_start_approval(
        job, Actor(marketer, marketer.username, "Marketer", None, ""), "MKT-1"
    )
    assert may_decide(admin_user, approval) is None
    limit_to(admin_user, sources=[source])
    assert "limited you to other sources" in (may_decide(admin_user, approval) or "")
    assert Approval.objects.get().state == Approval.State.WAITING
