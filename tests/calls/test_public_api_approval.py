"""Make an API call: a Public API call other than GET waits for a second Admin (issue 15)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from segadmin.approvals.models import Approval
from segadmin.audit.models import AuditEntry
from tests.conftest import TOKEN, make_user
from tests.factories import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(fake_segment, workspace):
    fake_segment.add_workspace(TOKEN, id="ws_1")
    return fake_segment


def call(workspace, method="POST", **extra):
    return {
        "api": "public",
        "workspace": workspace.pk,
        "method": method,
        "url": "/regulations",
        "body": '{"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", '
        '"subjectIds": ["u1"]}',
        "action": "send",
        **extra,
    }


def test_a_public_api_post_waits_for_a_second_admin(fake, admin_user, workspace):
    client = login(admin_user)
    answer = client.post(reverse("calls:api"), call(workspace))
    assert answer.status_code == 422
    assert "give a reason" in answer.content.decode()
    answer = client.post(reverse("calls:api"), call(workspace, reason="GDPR ticket 9"))
    assert answer.status_code == 200
    assert "Waiting for a second Admin" in answer.content.decode()
    assert fake.requests == []  # nothing sent
    approval = Approval.objects.get()
    assert approval.kind == "api_call" and approval.payload["path"] == "/regulations"

    listed = login(make_user("cy", "Admin")).get(reverse("approvals:list")).content.decode()
    assert "/regulations" in listed and "SUPPRESS_ONLY" in listed  # what the approver approves
    # The Admin who asked cannot approve it; a second Admin can, and it is sent as asked.
    client.post(reverse("approvals:decide", args=[approval.pk]), {"decision": "approve"})
    assert fake.requests == []
    second = login(make_user("bea", "Admin"))
    answer = second.post(
        reverse("approvals:decide", args=[approval.pk]), {"decision": "approve"}, follow=True
    )
    assert "Approved and sent: Segment answered HTTP 200" in answer.content.decode()
    [sent] = fake.requests
    assert (sent.method, sent.path) == ("POST", "/regulations")
    entry = AuditEntry.objects.get(call_type="raw")
    assert entry.username == "bea"


def test_a_public_api_get_is_sent_at_once(fake, admin_user, workspace):
    answer = login(admin_user).post(reverse("calls:api"), call(workspace, method="GET", url="/"))
    assert "Waiting for a second Admin" not in answer.content.decode()
    assert len(fake.requests) == 1
    assert Approval.objects.count() == 0


def test_the_rule_can_be_switched_off(fake, admin_user, workspace, settings):
    settings.SEGADMIN_APPROVE_PUBLIC_API_CALLS = False
    login(admin_user).post(reverse("calls:api"), call(workspace))
    assert len(fake.requests) == 1
    assert Approval.objects.count() == 0
