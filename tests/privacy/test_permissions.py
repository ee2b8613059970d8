"""Marketers never see privacy requests or approvals, by any path (issue 15); Support files
and reads but never approves."""

from __future__ import annotations

import pytest
from django.urls import reverse

from segadmin.approvals.models import Approval
from segadmin.privacy.models import PrivacyRequest
from tests.factories import login
from tests.privacy.conftest import creates, filed

pytestmark = pytest.mark.django_db


def paths(request: PrivacyRequest) -> list[tuple[str, str]]:
    return [
        ("get", reverse("privacy:list")),
        ("get", reverse("privacy:new")),
        ("post", reverse("privacy:new")),
        ("get", reverse("privacy:suppressions")),
        ("get", reverse("privacy:detail", args=[request.pk])),
        ("post", reverse("privacy:refresh", args=[request.pk])),
        ("post", reverse("privacy:retry", args=[request.pk])),
        ("post", reverse("privacy:release", args=[request.pk, 1])),
        ("get", reverse("approvals:list")),
        ("post", reverse("approvals:decide", args=[request.approval.pk])),
    ]


@pytest.mark.parametrize("who", ["marketer", "no_role_user"])
def test_a_marketer_is_refused_everywhere(fake, support, workspace, persona, who):
    request = filed(support, workspace)
    client = login(persona(who))
    for method, path in paths(request):
        data = {
            "decision": "approve",
            "understood": "yes",
            "workspace": workspace.pk,
            "ids": "u9",
            "reason": "x",
        }
        answer = getattr(client, method)(path, data if method == "post" else None)
        assert answer.status_code == 403, (method, path)
    home = client.get(reverse("home:index")).content.decode()
    assert "Privacy requests" not in home and "Approvals" not in home
    if who == "marketer":
        audit = client.get(reverse("audit:list")).content.decode()
        assert "Privacy request" not in audit
    assert PrivacyRequest.objects.count() == 1
    assert Approval.objects.get().state == Approval.State.WAITING
    assert creates(fake) == []


def test_support_sees_privacy_requests_but_not_approvals_in_the_navigation(support):
    page = login(support).get(reverse("home:index")).content.decode()
    assert "Privacy requests" in page
    assert reverse("approvals:list") not in page


def test_admins_see_both(admin_user):
    page = login(admin_user).get(reverse("home:index")).content.decode()
    assert reverse("privacy:list") in page and reverse("approvals:list") in page
