"""A call stuck in "sending" (its process died between claiming it and recording the answer)
is never sent again on its own; after STUCK_AFTER an Admin may release it, told that Segment
may have received it, and Retry then sends it. Audited; Support may not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from segadmin.audit.models import AuditEntry
from segadmin.privacy import flow
from segadmin.privacy.models import STUCK_AFTER, Chunk, PrivacyRequest
from tests.factories import login
from tests.privacy.conftest import actor_of, creates, filed

pytestmark = pytest.mark.django_db


def stuck(support, workspace, *, since=None) -> PrivacyRequest:
    """An approved request whose worker died sending call 1 (the request still "sending")."""
    request = filed(support, workspace)
    PrivacyRequest.objects.filter(pk=request.pk).update(state=PrivacyRequest.State.SENDING)
    Chunk.objects.filter(request=request).update(
        state=Chunk.State.SENDING,
        attempts=1,
        sending_since=since or timezone.now() - STUCK_AFTER - timedelta(minutes=1),
    )
    return request


def test_an_admin_releases_a_stuck_call_with_the_warning_and_retry_sends_it(
    fake, support, admin_user, workspace
):
    request = stuck(support, workspace)
    client = login(admin_user)
    detail = reverse("privacy:detail", args=[request.pk])
    page = client.get(detail).content.decode()
    assert "Segment may have received this call" in page
    assert "Release call 1" in page
    assert "hx-trigger" not in page  # no polling while the box may be ticked

    # Without the box ticked: the message next to it, nothing released.
    answer = client.post(reverse("privacy:release", args=[request.pk, 1]))
    text = answer.content.decode()
    assert answer.status_code == 200 and 'class="invalid-feedback"' in text
    assert "Tick the box: Segment may have received this call" in text
    assert request.chunks.get().state == Chunk.State.SENDING

    answer = client.post(
        reverse("privacy:release", args=[request.pk, 1]), {"understood": "yes"}, follow=True
    )
    assert "Call 1 released" in answer.content.decode()
    request.refresh_from_db()
    chunk = request.chunks.get()
    assert chunk.state == Chunk.State.FAILED and "Segment may have received" in chunk.error
    assert request.state == PrivacyRequest.State.NOT_SENT
    assert "released without an answer" in request.not_sent_reason
    entry = AuditEntry.objects.get(action="privacy.call_released")
    assert entry.username == admin_user.username and entry.details_data["call"] == 1
    assert "may have received" in entry.details_data["warning"]
    assert creates(fake) == []

    # Retry (the worker runs it at once here) sends it.
    client.post(reverse("privacy:retry", args=[request.pk]))
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.SENT
    assert len(creates(fake)) == 1
    assert request.chunks.get().attempts == 2
    # Released twice: refused, nothing changes.
    assert "is not stuck" in flow.release(request, 1, actor=actor_of(admin_user))


def test_a_call_sending_for_less_than_the_limit_is_not_released(
    fake, support, admin_user, workspace
):
    request = stuck(support, workspace, since=timezone.now() - timedelta(minutes=5))
    client = login(admin_user)
    page = client.get(reverse("privacy:detail", args=[request.pk])).content.decode()
    assert "Release call 1" not in page and 'hx-trigger="every 2s"' in page
    answer = client.post(
        reverse("privacy:release", args=[request.pk, 1]), {"understood": "yes"}, follow=True
    )
    assert "Call 1 is not stuck" in answer.content.decode()
    assert request.chunks.get().state == Chunk.State.SENDING
    assert not AuditEntry.objects.filter(action="privacy.call_released").exists()
    assert "no such call" in flow.release(request, 7, actor=actor_of(admin_user))


def test_support_sees_it_stuck_but_may_not_release(fake, support, workspace):
    request = stuck(support, workspace)
    client = login(support)
    page = client.get(reverse("privacy:detail", args=[request.pk])).content.decode()
    assert "An Admin may release it" in page and "Release call 1" not in page
    answer = client.post(reverse("privacy:release", args=[request.pk, 1]), {"understood": "yes"})
    assert answer.status_code == 403
    assert request.chunks.get().state == Chunk.State.SENDING
