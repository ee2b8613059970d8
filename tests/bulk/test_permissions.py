"""Who may run and change a bulk import, by every path: the upload form (and a forged POST),
the mapping page's dry run and start, resume, cancel, `bulk_resume` and the worker.

Support sends Identify only, in bulk too; a job whose uploader may not (or may no longer) send
its calls is refused at start and failed by the worker, sending nothing. Reading an import is
Support's right; changing one is its uploader's or an Admin's; Marketers see only their own.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.utils import timezone

from segadmin.bulk import services, worker
from segadmin.bulk.models import BulkChunk, BulkJob, Status
from segadmin.bulk.plan import propose_mapping
from segadmin.bulk.tasks import run_bulk_job
from segadmin.credentials.models import Source
from tests.bulk.conftest import csv_text, mapping_post, upload
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

HEADERS = {
    "identify": ["userId", "plan"],
    "track": ["userId", "event", "plan"],
    "group": ["userId", "groupId", "plan"],
}
VALUES = {"identify": ["pro"], "track": ["Signed Up", "pro"], "group": ["acme", "pro"]}


def job_of(
    creator: User | None,
    source: Source,
    *,
    call_type: str = "track",
    status: str = Status.DRAFT,
    rows: int = 3,
    name: str = "",
) -> BulkJob:
    """An import that ``creator`` uploaded, written straight to the database as a forged
    request, an old upload or a since-changed role would leave it: past the upload's check."""
    header = HEADERS[call_type]
    body = csv_text(header, [[f"u{i}", *VALUES[call_type]] for i in range(1, rows + 1)])
    data = body.split(b"\n", 1)[1]
    active = status in (Status.QUEUED, Status.RUNNING)
    username = creator.get_username() if creator else "gone"
    job = BulkJob.objects.create(
        created_by=creator,
        created_by_name=username,
        source=source,
        source_name=source.name,
        call_type=call_type,
        file_name=name or f"{call_type}-by-{username}.csv",
        file_format="csv",
        delimiter=",",
        file_bytes=len(body),
        total_rows=rows,
        columns=header,
        proposals=dict.fromkeys(header, "text"),
        mapping=propose_mapping(call_type, header, {}),
        status=status,
        started_by=creator if active else None,
        actor={"username": username, "role": ""} if active else {},
        heartbeat_at=timezone.now() if active else None,
    )
    BulkChunk.objects.create(job=job, index=0, first_row=1, row_count=rows, data=data)
    return job


def offered_calls(html: str) -> list[str]:
    return re.findall(r'name="call_type" value="(\w+)"', html)


def stall(job: BulkJob) -> None:
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))


# --- Upload ---------------------------------------------------------------------------------


def test_support_is_offered_only_identify_at_upload(client, support, source):
    client.force_login(support)
    page = client.get("/bulk/").content.decode()
    assert offered_calls(page) == ["identify"]
    assert "Send Identify calls for many users at once" in page


def test_a_marketer_is_offered_every_bulk_call(client, marketer, source):
    client.force_login(marketer)
    page = client.get("/bulk/").content.decode()
    assert offered_calls(page) == ["identify", "track", "group"]
    assert "Send Identify, Track or Group calls for many users at once" in page


@pytest.mark.parametrize(("call_type", "label"), [("track", "Track"), ("group", "Group")])
def test_a_forged_upload_of_track_or_group_by_support_is_refused_with_the_reason(
    client, support, source, fake_segment, call_type, label
):
    client.force_login(support)
    content = csv_text(HEADERS[call_type], [["u1", *VALUES[call_type]]])
    response = upload(client, content, call_type=call_type, source=source)
    assert response.status_code == 422
    page = response.content.decode()
    assert f"Your role may not send {label} calls, so it cannot import them." in page
    assert "Nothing was imported" in page
    assert BulkJob.objects.count() == 0
    assert BulkChunk.objects.count() == 0
    assert fake_segment.requests == []


def test_support_may_still_upload_and_run_an_identify_import(
    client, support, source, fake_segment, immediate_tasks
):
    client.force_login(support)
    response = upload(client, csv_text(["userId", "plan"], [["u1", "pro"]]), source=source)
    assert response.status_code == 302
    job = BulkJob.objects.get()
    assert job.created_by == support
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.sent) == (Status.DONE, 1)
    assert [m["type"] for m in fake_segment.messages("/v1/batch")] == ["identify"]


def test_the_service_refuses_a_track_import_for_support_even_without_the_form(support, source):
    with pytest.raises(services.JobRefused, match="may not send Track calls"):
        services.create_job(
            stream=io.BytesIO(b"userId,event\nu1,Signed Up\n"),
            name="forged.csv",
            size=27,
            call_type="track",
            source=source,
            user=support,
        )
    assert BulkJob.objects.count() == 0


# --- Plan, start, resume and the worker, for a Track import uploaded by Support --------------


def test_support_cannot_dry_run_a_track_import(client, support, source):
    job = job_of(support, source)
    client.force_login(support)
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="dry_run"))
    assert response.status_code == 403
    assert "sam, who uploaded this import, may not send Track calls" in response.content.decode()
    job.refresh_from_db()
    assert job.dry_run is None


def test_support_cannot_start_a_track_import(
    client, support, source, fake_segment, immediate_tasks
):
    job = job_of(support, source)
    client.force_login(support)
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "sam, who uploaded this import, may not send Track calls" in page
    assert 'data-testid="form-errors"' in page
    job.refresh_from_db()
    assert job.status == Status.DRAFT
    assert job.started_by is None
    assert fake_segment.requests == []


def test_support_cannot_resume_a_track_import_and_it_ends_failed(
    client, support, source, fake_segment, immediate_tasks
):
    job = job_of(support, source, status=Status.RUNNING)
    stall(job)
    client.force_login(support)
    response = client.post(f"/bulk/{job.pk}/resume/", follow=True)
    assert response.status_code == 200
    assert "sam, who uploaded this import, may not send Track calls" in response.content.decode()
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "may not send Track calls" in job.error
    assert job.sent == 0
    assert fake_segment.requests == []


def test_the_worker_fails_a_track_import_of_a_support_creator_and_sends_nothing(
    support, source, fake_segment, immediate_tasks
):
    job = job_of(support, source, status=Status.QUEUED)
    result = run_bulk_job.enqueue(str(job.pk))
    assert result.return_value == Status.FAILED
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error == (
        "sam, who uploaded this import, may not send Track calls. "
        "The import was stopped before sending anything more."
    )
    assert job.finished_at is not None
    assert (job.sent, job.failed) == (0, 0)
    assert fake_segment.requests == []


def test_the_worker_fails_a_group_import_of_a_support_creator(
    support, source, fake_segment, immediate_tasks
):
    job = job_of(support, source, call_type="group", status=Status.QUEUED)
    assert run_bulk_job.enqueue(str(job.pk)).return_value == Status.FAILED
    job.refresh_from_db()
    assert "may not send Group calls" in job.error
    assert fake_segment.requests == []


def test_the_worker_sends_a_support_creators_identify_import(
    support, source, fake_segment, immediate_tasks
):
    job = job_of(support, source, call_type="identify", status=Status.QUEUED)
    assert run_bulk_job.enqueue(str(job.pk)).return_value == Status.DONE
    assert len(fake_segment.messages("/v1/batch")) == 3


# --- A creator who lost the permission, was deactivated or deleted since the upload ----------


def test_the_worker_fails_an_import_whose_creator_was_deactivated(
    marketer, source, fake_segment, immediate_tasks
):
    job = job_of(marketer, source, status=Status.QUEUED)
    User.objects.filter(pk=marketer.pk).update(is_active=False)
    assert run_bulk_job.enqueue(str(job.pk)).return_value == Status.FAILED
    job.refresh_from_db()
    assert job.error == (
        "maria, who uploaded this import, is deactivated. "
        "The import was stopped before sending anything more."
    )
    assert fake_segment.requests == []


def test_the_worker_fails_an_import_whose_creator_was_deleted(
    marketer, source, fake_segment, immediate_tasks
):
    job = job_of(marketer, source, status=Status.QUEUED)
    marketer.delete()
    assert run_bulk_job.enqueue(str(job.pk)).return_value == Status.FAILED
    job.refresh_from_db()
    assert job.error == (
        "maria, who uploaded this import, was deleted. "
        "The import was stopped before sending anything more."
    )
    assert fake_segment.requests == []


def test_the_worker_fails_an_import_whose_creator_may_no_longer_run_bulk_imports(
    marketer, source, fake_segment, immediate_tasks
):
    job = job_of(marketer, source, status=Status.QUEUED)
    marketer.groups.clear()
    assert run_bulk_job.enqueue(str(job.pk)).return_value == Status.FAILED
    job.refresh_from_db()
    assert "maria, who uploaded this import, may no longer run bulk imports" in job.error
    assert fake_segment.requests == []


def test_an_admin_cannot_start_an_import_whose_creator_became_support(
    client, marketer, admin_user, source, fake_segment, immediate_tasks
):
    job = job_of(marketer, source)
    marketer.groups.set([Group.objects.get(name="Support")])
    client.force_login(admin_user)
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert response.status_code == 403
    assert "maria, who uploaded this import, may not send Track calls" in (
        response.content.decode()
    )
    job.refresh_from_db()
    assert job.status == Status.DRAFT
    assert fake_segment.requests == []


def test_an_admin_cannot_start_an_import_whose_creator_was_deleted(
    client, marketer, admin_user, source, fake_segment, immediate_tasks
):
    job = job_of(marketer, source)
    marketer.delete()
    client.force_login(admin_user)
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert response.status_code == 403
    assert "maria, who uploaded this import, was deleted" in response.content.decode()
    job.refresh_from_db()
    assert job.status == Status.DRAFT
    assert fake_segment.requests == []


def test_a_running_import_stops_after_the_chunk_in_flight_when_its_creator_is_deactivated(
    marketer, source, fake_segment, monkeypatch
):
    monkeypatch.setattr("segadmin.bulk.parsing.CHUNK_ROWS", 10)
    job = services.create_job(
        stream=io.BytesIO(csv_text(["userId"], [[f"u{i}"] for i in range(30)])),
        name="users.csv",
        size=200,
        call_type="identify",
        source=source,
        user=marketer,
    )
    BulkJob.objects.filter(pk=job.pk).update(status=Status.QUEUED, started_by=marketer)
    real = worker._send_and_record

    def send_then_deactivate(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        User.objects.filter(pk=marketer.pk).update(is_active=False)

    monkeypatch.setattr(worker, "_send_and_record", send_then_deactivate)
    assert worker.run_job(str(job.pk)) == Status.FAILED
    job.refresh_from_db()
    assert (job.sent, job.remaining) == (10, 20)
    assert "maria, who uploaded this import, is deactivated" in job.error
    assert len(fake_segment.messages("/v1/batch")) == 10


def test_bulk_resume_ends_a_stalled_import_whose_creator_may_not_send_it(
    support, marketer, source, fake_segment, immediate_tasks
):
    refused = job_of(support, source, status=Status.RUNNING, name="refused.csv")
    allowed = job_of(marketer, source, status=Status.RUNNING, name="allowed.csv")
    stall(refused)
    stall(allowed)
    out = io.StringIO()
    call_command("bulk_resume", stdout=out)
    assert f"Resumed {allowed.pk}" in out.getvalue()
    stopped = f"Stopped {refused.pk} (refused.csv): sam, who uploaded this import, may not send"
    assert stopped in out.getvalue()
    refused.refresh_from_db()
    allowed.refresh_from_db()
    assert refused.status == Status.FAILED
    assert allowed.status == Status.DONE
    assert {m["userId"] for m in fake_segment.messages("/v1/batch")} == {"u1", "u2", "u3"}
    assert len(fake_segment.messages("/v1/batch")) == 3


# --- Who may change someone's import --------------------------------------------------------

CHANGES = ("dry_run", "start", "cancel", "resume")


def change(client: Any, job: BulkJob, action: str) -> Any:
    if action in ("dry_run", "start"):
        return client.post(f"/bulk/{job.pk}/", mapping_post(job, action=action))
    return client.post(f"/bulk/{job.pk}/{action}/")


def job_for_change(marketer: User, source: Source, action: str) -> BulkJob:
    if action in ("dry_run", "start"):
        return job_of(marketer, source)
    job = job_of(marketer, source, status=Status.RUNNING)
    stall(job)
    return job


def snapshot(job: BulkJob) -> tuple:
    job.refresh_from_db()
    return (job.status, job.dry_run, job.heartbeat_at, job.started_by_id, job.mapping)


@pytest.mark.parametrize("action", CHANGES)
def test_support_cannot_change_a_marketers_import(client, marketer, support, source, action):
    job = job_for_change(marketer, source, action)
    before = snapshot(job)
    client.force_login(support)
    response = change(client, job, action)
    assert response.status_code == 403
    page = response.content.decode()
    assert "Only maria, who uploaded this import, or an Admin may change it." in page
    assert snapshot(job) == before


def test_support_cannot_remap_a_marketers_import(client, marketer, support, source):
    job = job_of(marketer, source)
    before = snapshot(job)
    client.force_login(support)
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, {"plan": {"target": "skip"}}))
    assert response.status_code == 403
    assert snapshot(job) == before


def test_support_can_read_a_marketers_import(client, marketer, support, source):
    draft = job_of(marketer, source, name="draft.csv")
    done = job_of(marketer, source, status=Status.DONE, name="done.csv")
    client.force_login(support)
    assert "draft.csv" in client.get("/bulk/").content.decode()
    for path in (
        f"/bulk/{draft.pk}/",
        f"/bulk/{draft.pk}/dry-run/",
        f"/bulk/{draft.pk}/errors.csv",
        f"/bulk/{done.pk}/",
        f"/bulk/{done.pk}/progress/",
        f"/bulk/{done.pk}/failed-rows/",
    ):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("action", CHANGES)
@pytest.mark.parametrize("who", ["marketer", "admin_user", "superuser"])
def test_the_creator_and_an_admin_can_change_a_marketers_import(
    client, marketer, source, persona, action, who
):
    job = job_for_change(marketer, source, action)
    client.force_login(persona(who))
    response = change(client, job, action)
    assert response.status_code in (200, 302)
    job.refresh_from_db()
    expected = {
        "dry_run": lambda: job.status == Status.DRAFT and job.dry_run["valid"] == 3,
        "start": lambda: job.status == Status.QUEUED,
        "cancel": lambda: job.status == Status.CANCELLED,
        "resume": lambda: not services.is_stalled(job),
    }
    assert expected[action](), (job.status, job.dry_run)


@pytest.mark.parametrize("action", CHANGES)
def test_a_marketer_cannot_see_or_change_another_marketers_import(client, marketer, source, action):
    job = job_for_change(marketer, source, action)
    before = snapshot(job)
    client.force_login(make_user("mark", "Marketer"))
    assert client.get(f"/bulk/{job.pk}/").status_code == 404
    assert change(client, job, action).status_code == 404
    assert snapshot(job) == before


# --- Buttons a person may not use are not shown ---------------------------------------------


def test_support_sees_no_dry_run_or_start_on_a_marketers_draft(client, marketer, support, source):
    job = job_of(marketer, source)
    client.force_login(support)
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert 'value="start"' not in page and 'value="dry_run"' not in page
    assert "Only maria, who uploaded this import, or an Admin may change it." in page
    client.force_login(marketer)
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert 'value="start"' in page and 'value="dry_run"' in page


def test_support_sees_no_cancel_or_resume_on_a_marketers_stalled_import(
    client, marketer, support, admin_user, source
):
    job = job_of(marketer, source, status=Status.RUNNING)
    stall(job)
    client.force_login(support)
    for path in (f"/bulk/{job.pk}/", f"/bulk/{job.pk}/progress/"):
        page = client.get(path).content.decode()
        assert "the worker may have stopped" in page
        assert f"/bulk/{job.pk}/cancel/" not in page and f"/bulk/{job.pk}/resume/" not in page
    client.force_login(admin_user)
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert f"/bulk/{job.pk}/cancel/" in page and f"/bulk/{job.pk}/resume/" in page


def test_the_start_button_is_hidden_when_the_creator_may_not_send_the_import(
    client, support, source
):
    job = job_of(support, source)
    client.force_login(support)
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert 'value="start"' not in page and 'value="dry_run"' not in page
    assert "sam, who uploaded this import, may not send Track calls" in page
