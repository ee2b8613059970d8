"""Sending an approved privacy request on the worker: approving commits the decision and
queues the send; the page shows "Sending..." and polls until it is sent; Retry queues too;
a task delivered twice sends nothing twice."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from segadmin.approvals.models import Approval
from segadmin.audit.models import AuditEntry
from segadmin.privacy import tasks
from segadmin.privacy.models import Chunk, PrivacyRequest
from tests.factories import login
from tests.privacy.conftest import actor_of, creates, filed

pytestmark = pytest.mark.django_db

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def queued() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(task_path=tasks.send_privacy_request.module_path).order_by(
            "enqueued_at"
        )
    )


def test_approving_queues_the_send_and_the_page_follows_it(
    fake, support, admin_user, workspace, settings
):
    settings.TASKS = DB_TASKS
    request = filed(support, workspace, ids=[f"u{i}" for i in range(12_001)])
    client = login(admin_user)
    answer = client.post(
        reverse("approvals:decide", args=[request.approval.pk]),
        {"decision": "approve", "comment": ""},
        follow=True,
    )
    page = answer.content.decode()
    assert "Approved. Sending to Segment in 3 calls in the background" in page
    request.refresh_from_db()
    assert request.approval.state == Approval.State.APPROVED  # the decision is committed
    assert request.state == PrivacyRequest.State.SENDING
    assert creates(fake) == []  # nothing left in the web request
    [job] = queued()
    assert job.args_kwargs["args"][0] == request.pk

    detail = reverse("privacy:detail", args=[request.pk])
    page = client.get(detail).content.decode()
    assert "Sending to Segment in the background (0 of 3 calls sent)" in page
    assert f'hx-get="{detail}?part=progress"' in page and 'hx-trigger="every 2s"' in page
    assert ">Retry<" not in page

    # The worker runs it (as db_worker would, with the task's own arguments).
    args = job.args_kwargs["args"]
    assert tasks.run_send(*args) == PrivacyRequest.State.SENT
    assert [len(c.body) > 0 for c in creates(fake)] == [True, True, True]
    part = client.get(detail, {"part": "progress"}, headers={"HX-Request": "true"})
    text = part.content.decode()
    assert part.status_code == 200 and "<html" not in text
    assert "Sent to Segment" in text and "hx-trigger" not in text  # polling stops
    # The approver is the actor of every create call.
    sent = AuditEntry.objects.filter(call_type="public:create_regulation")
    assert sorted(set(sent.values_list("username", flat=True))) == [admin_user.username]
    assert sent.count() == 3
    # Delivered twice: nothing is sent again.
    assert tasks.run_send(*args) == PrivacyRequest.State.SENT
    assert len(creates(fake)) == 3


def test_retry_queues_and_sends_only_what_was_not_sent(
    fake, support, admin_user, workspace, settings
):
    settings.TASKS = DB_TASKS
    request = filed(support, workspace, ids=[f"u{i}" for i in range(6_000)])
    login(admin_user).post(
        reverse("approvals:decide", args=[request.approval.pk]), {"decision": "approve"}
    )
    fake.state.regulations.quota["sgp_TESTtokenAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"] = 5_500
    [job] = queued()
    assert tasks.run_send(*job.args_kwargs["args"]) == PrivacyRequest.State.NOT_SENT
    request.refresh_from_db()
    assert list(request.chunks.values_list("state", flat=True)) == ["sent", "failed"]

    fake.state.regulations.quota.clear()
    answer = login(support).post(reverse("privacy:retry", args=[request.pk]), follow=True)
    assert "Sending again in the background" in answer.content.decode()
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.SENDING and request.not_sent_reason == ""
    second = [j for j in queued() if j.pk != job.pk]
    assert len(second) == 1
    # A second Retry while it is queued queues nothing more.
    login(support).post(reverse("privacy:retry", args=[request.pk]))
    assert len(queued()) == 2
    assert tasks.run_send(*second[0].args_kwargs["args"]) == PrivacyRequest.State.SENT
    assert list(request.chunks.values_list("attempts", flat=True)) == [1, 2]
    assert [c.status for c in creates(fake)] == [200, 429, 200]


def test_a_task_for_a_request_not_being_sent_does_nothing(fake, support, admin_user, workspace):
    request = filed(support, workspace)
    actor = tasks.actor_data(actor_of(admin_user))
    assert tasks.run_send(request.pk, actor) == PrivacyRequest.State.WAITING
    assert tasks.run_send(999_999, actor) == "missing"
    assert creates(fake) == []


def test_an_unexpected_error_leaves_it_not_sent_with_retry(
    fake, support, admin_user, workspace, monkeypatch
):
    request = filed(support, workspace)
    PrivacyRequest.objects.filter(pk=request.pk).update(state=PrivacyRequest.State.SENDING)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("segadmin.privacy.flow._send_chunk", broken)
    state = tasks.run_send(request.pk, tasks.actor_data(actor_of(admin_user)))
    assert state == PrivacyRequest.State.NOT_SENT
    request.refresh_from_db()
    assert "unexpected error" in request.not_sent_reason
    assert AuditEntry.objects.filter(action="privacy.not_sent").count() == 1
    assert request.chunks.get().state == Chunk.State.SENDING  # claimed: never sent again unseen
