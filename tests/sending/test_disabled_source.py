"""A disabled source is refused by the send service itself, whichever entrance asks: the service
directly, a forged POST to a call screen, Send again and a bulk job whose source is disabled
while it runs. Nothing is sent, nothing is recorded as a request, and the refusal says why."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from segadmin import sending
from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry, Kind
from segadmin.bulk.models import BulkJob, Status
from segadmin.credentials.models import Source, Workspace
from segadmin.segment.messages import build_message
from tests.audit.entries import WRITE_KEY, add_call, make_source
from tests.bulk.conftest import csv_text, mapping_post, upload
from tests.calls.conftest import form_data
from tests.factories import login

pytestmark = [pytest.mark.django_db]

REFUSAL = "is disabled, so nothing was sent to it"


@pytest.fixture
def source(fake_segment: Any) -> Source:
    fake_segment.add_write_key(WRITE_KEY)
    return make_source("Shop")


def disable(source: Source) -> None:
    Source.objects.filter(pk=source.pk).update(enabled=False)


def identify() -> dict:
    return build_message("identify", user_id="u-1", traits={"plan": "pro"})


def request_entries() -> int:
    return AuditEntry.objects.filter(kind=Kind.REQUEST).count()


def test_the_service_refuses_a_message_batch_or_raw_call_to_a_disabled_source(
    source: Source, fake_segment: Any
) -> None:
    actor = Actor.system("tests")
    disable(source)
    source.refresh_from_db()
    calls = [
        lambda: sending.send_message(actor=actor, source=source, message=identify()),
        lambda: sending.send_batch(actor=actor, source=source, messages=[identify()]),
        lambda: sending.send_raw(
            actor=actor,
            api="tracking",
            source=source,
            method="POST",
            path="/v1/identify",
            headers={},
            query=[],
            body='{"userId": "u-1"}',
        ),
    ]
    for call in calls:
        with pytest.raises(sending.SourceDisabled, match=f"“Shop” {REFUSAL}"):
            call()
    assert request_entries() == 0
    assert fake_segment.requests == []


def test_the_service_reads_the_flag_when_it_sends_not_from_the_callers_copy(
    source: Source, fake_segment: Any
) -> None:
    held = Source.objects.get(pk=source.pk)  # loaded while enabled, as a bulk chunk holds it
    disable(source)
    assert held.enabled
    with pytest.raises(sending.SourceDisabled):
        sending.send_message(actor=Actor.system("tests"), source=held, message=identify())
    assert fake_segment.requests == []


def test_the_workspace_reads_of_a_workspace_are_still_allowed_with_its_sources_disabled(
    source: Source, fake_segment: Any
) -> None:
    # Disabling is about sending with a source; Test connection reads the workspace.
    fake_segment.add_workspace("sgp_disabled_test_token_0123456789")
    workspace = Workspace(name="Acme", region="us")
    workspace.set_public_api_token("sgp_disabled_test_token_0123456789")
    workspace.save()
    disable(source)
    found = sending.get_workspace(actor=Actor.system("tests"), workspace=workspace)
    assert found.id  # type: ignore[union-attr]


def test_a_forged_post_to_a_call_screen_with_a_disabled_source_sends_nothing(
    source: Source, fake_segment: Any, marketer: Any
) -> None:
    disable(source)
    response = login(marketer).post(
        "/calls/identify/", form_data(source, user_id="u-1", action="send")
    )
    assert response.status_code == 422
    assert "That source does not exist or is disabled" in response.content.decode()
    assert request_entries() == 0
    assert fake_segment.requests == []


def test_a_source_disabled_while_a_call_screen_posts_is_refused_by_the_service(
    source: Source, fake_segment: Any, marketer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The form saw it enabled; an Admin disables it before the send service runs (the view
    # asks drafts.link_for for the resend link just before calling the service).
    from segadmin.calls import views

    real_link_for = views.drafts.link_for

    def disabled_meanwhile(*args: Any, **kwargs: Any) -> dict:
        disable(source)
        return real_link_for(*args, **kwargs)

    monkeypatch.setattr(views.drafts, "link_for", disabled_meanwhile)
    response = login(marketer).post(
        "/calls/identify/", form_data(source, user_id="u-1", action="send")
    )
    assert response.status_code == 200
    assert f"“Shop” {REFUSAL}" in response.content.decode()
    assert request_entries() == 0
    assert fake_segment.requests == []


def test_send_again_to_a_disabled_source_is_refused_by_the_service(
    source: Source, fake_segment: Any, admin_user: Any
) -> None:
    original = add_call(user=admin_user, source=source)
    before = request_entries()
    disable(source)
    response = login(admin_user).post(reverse("audit:send_again", args=[original.pk]), follow=True)
    assert f"Not sent again: The source “Shop” {REFUSAL}" in response.content.decode()
    assert request_entries() == before
    assert fake_segment.requests == []


def test_a_bulk_job_whose_source_is_disabled_between_two_batches_stops_there(
    fake_segment: Any, marketer: Any, immediate_tasks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source("Shop")
    # One row per batch, so both rows are in one chunk whose source the job loaded once.
    monkeypatch.setattr("segadmin.segment.messages.MAX_BATCH_ITEMS", 1)
    real_send_batch = sending.send_batch

    def disable_after_the_first_batch(**kwargs: Any) -> sending.Sent:
        sent = real_send_batch(**kwargs)
        disable(source)
        return sent

    monkeypatch.setattr(sending, "send_batch", disable_after_the_first_batch)
    client = login(marketer)
    upload(client, csv_text(["userId"], [["u1"], ["u2"]]), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert f"“Shop” {REFUSAL}" in job.error
    assert [m["userId"] for m in fake_segment.messages()] == ["u1"]
    assert request_entries() == 1
    assert REFUSAL in client.get(f"/bulk/{job.pk}/").content.decode()
