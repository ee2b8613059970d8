"""A bulk import above SEGADMIN_APPROVAL_ROWS rows waits for an Admin other than its uploader
before Start works; the button reads "Request approval" (issue 15)."""

from __future__ import annotations

import pytest

from segadmin.approvals.models import Approval
from segadmin.approvals.services import Refused, decide
from segadmin.bulk import services
from segadmin.bulk.models import BulkJob, Status
from tests.bulk.conftest import csv_text, mapping_post, upload
from tests.factories import login
from tests.privacy.conftest import actor_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def large(settings, support, source):
    settings.SEGADMIN_APPROVAL_ROWS = 3
    client = login(support)
    upload(client, csv_text(["userId"], [[f"u{i}"] for i in range(4)]), source=source)
    return client, BulkJob.objects.get()


def test_at_the_threshold_start_works_at_once(settings, support, source):
    settings.SEGADMIN_APPROVAL_ROWS = 3
    client = login(support)
    upload(client, csv_text(["userId"], [[f"u{i}"] for i in range(3)]), source=source)
    job = BulkJob.objects.get()
    assert ">Start</button>" in client.get(f"/bulk/{job.pk}/").content.decode()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    job.refresh_from_db()
    assert job.status == Status.QUEUED
    assert Approval.objects.count() == 0


def test_above_it_start_reads_request_approval_and_asks_for_a_reason(large):
    client, job = large
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert "Request approval" in page and ">Start</button>" not in page
    answer = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert answer.status_code == 422
    assert "Give a reason" in answer.content.decode()
    assert Approval.objects.count() == 0
    job.refresh_from_db()
    assert job.status == Status.DRAFT


def test_it_starts_only_once_an_admin_other_than_the_uploader_approves(
    large, admin_user, superuser
):
    client, job = large
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start", reason="Campaign X"))
    approval = Approval.objects.get()
    assert approval.kind == "bulk" and approval.amount == 4 and approval.reason == "Campaign X"
    job.refresh_from_db()
    assert job.status == Status.DRAFT
    # Pressing again while it waits neither starts it nor asks twice.
    answer = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start", reason="again"))
    assert "waiting for approval" in answer.content.decode()
    assert Approval.objects.count() == 1
    with pytest.raises(services.StartRefused, match="must approve it"):
        services.start(job, actor_of(superuser))  # every path: the service refuses too
    decide(approval_id=approval.pk, actor=actor_of(admin_user), approve=True, comment="ok")
    assert ">Start</button>" in client.get(f"/bulk/{job.pk}/").content.decode()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    job.refresh_from_db()
    assert job.status == Status.QUEUED


def test_the_uploader_may_not_approve_even_when_an_admin_asked(settings, admin_user, source):
    from tests.conftest import make_user

    settings.SEGADMIN_APPROVAL_ROWS = 3
    uploader = make_user("ann", "Admin")
    client = login(uploader)
    upload(client, csv_text(["userId"], [[f"u{i}"] for i in range(4)]), source=source)
    job = BulkJob.objects.get()
    services.request_start_approval(job, actor_of(admin_user), "for Ann")
    approval = Approval.objects.get()
    with pytest.raises(Refused, match="You uploaded this import"):
        decide(approval_id=approval.pk, actor=actor_of(uploader), approve=True, comment="")
    with pytest.raises(Refused, match="another Admin"):
        decide(approval_id=approval.pk, actor=actor_of(admin_user), approve=True, comment="")


def test_a_rejected_import_cannot_start_and_may_be_asked_again(large, admin_user):
    client, job = large
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start", reason="Campaign X"))
    approval = Approval.objects.get()
    decide(approval_id=approval.pk, actor=actor_of(admin_user), approve=False, comment="too big")
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert "Request approval" in page and "too big" in page
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start", reason="smaller list"))
    assert Approval.objects.filter(state=Approval.State.WAITING).count() == 1


def test_an_approval_counts_only_for_the_mapping_it_approved(
    settings, support, source, admin_user, superuser
):
    """Changing the mapping after the approval (e.g. seats sent as text, or another source)
    would start an import nobody approved: it needs approving again."""
    from segadmin.bulk import parsing

    settings.SEGADMIN_APPROVAL_ROWS = 3
    client = login(support)
    rows = [[f"u{i}", str(i)] for i in range(4)]
    upload(client, csv_text(["userId", "seats"], rows), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start", reason="Campaign X"))
    approval = Approval.objects.get()
    decide(approval_id=approval.pk, actor=actor_of(admin_user), approve=True, comment="ok")
    job.refresh_from_db()
    changed = mapping_post(job, {"seats": {"type": parsing.TEXT}}, action="start")
    answer = client.post(f"/bulk/{job.pk}/", changed)
    assert answer.status_code == 422
    assert "changed after this import was approved" in answer.content.decode()
    job.refresh_from_db()
    assert job.status == Status.DRAFT
    with pytest.raises(services.StartRefused, match="changed after this import was approved"):
        services.start(job, actor_of(superuser))  # the service, whatever path asks
    assert "Request approval" in client.get(f"/bulk/{job.pk}/").content.decode()
    # Asked again, the new mapping is what the next Admin approves; then it starts.
    client.post(f"/bulk/{job.pk}/", {**changed, "reason": "seats as text"})
    again = Approval.objects.get(state=Approval.State.WAITING)
    decide(approval_id=again.pk, actor=actor_of(admin_user), approve=True, comment="fine")
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    job.refresh_from_db()
    assert job.status == Status.QUEUED
