"""Privacy requests of a person limited to chosen workspaces: a request reaches a whole
workspace, so they file, read and decide only for the workspaces chosen for them (a chosen
source is not enough); a forged workspace is refused next to Workspace and audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from segadmin.approvals.models import Approval
from segadmin.audit.models import AuditEntry, Kind
from segadmin.privacy.models import PrivacyRequest
from tests.factories import limit_to, login, make_source, make_workspace
from tests.privacy.conftest import creates, filed
from tests.privacy.test_requests import form

pytestmark = pytest.mark.django_db


@pytest.fixture
def other(db):
    return make_workspace("tok-other-0123456789", name="Other")


def test_the_form_offers_only_the_persons_workspaces(fake, support, workspace, other) -> None:
    limit_to(support, workspaces=[workspace])
    html = login(support).get(reverse("privacy:new")).content.decode()
    assert f">{workspace.name} (US)</option>" in html
    assert ">Other (US)</option>" not in html


def test_a_forged_workspace_is_refused_audited_and_nothing_is_saved(
    fake, support, workspace, other
) -> None:
    limit_to(support, workspaces=[workspace])
    response = login(support).post(reverse("privacy:new"), form(other))
    assert response.status_code == 200
    (error,) = response.context["form"].errors["workspace"]
    assert "You may not act on the workspace “Other”" in error
    assert not PrivacyRequest.objects.exists()
    refusal = AuditEntry.objects.get(kind=Kind.EVENT, action="access.refused")
    assert refusal.workspace_id == other.pk
    assert refusal.details_data["entrance"] == "Privacy request"


def test_a_chosen_source_does_not_let_them_file_for_its_workspace(fake, support, workspace) -> None:
    source = make_source("Web", "wk-web-0123456789", workspace=workspace)
    limit_to(support, sources=[source])
    response = login(support).post(reverse("privacy:new"), form(workspace))
    assert "You may not act on the workspace" in response.context["form"].errors["workspace"][0]
    assert not PrivacyRequest.objects.exists()


def test_they_may_file_for_their_workspace(fake, support, workspace, other) -> None:
    limit_to(support, workspaces=[workspace])
    response = login(support).post(reverse("privacy:new"), form(workspace), follow=True)
    assert response.status_code == 200
    assert PrivacyRequest.objects.get().workspace == workspace


def test_they_read_only_the_requests_of_their_workspaces(
    fake, support, admin_user, workspace, other
) -> None:
    theirs = filed(admin_user, other, ids=("x1",))
    mine = filed(admin_user, workspace, ids=("y1",))
    limit_to(support, workspaces=[workspace])
    client = login(support)
    listed = list(client.get(reverse("privacy:list")).context["page"])
    assert listed == [mine]
    assert client.get(reverse("privacy:detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("privacy:detail", args=[mine.pk])).status_code == 200


def test_a_limited_admin_may_not_approve_a_request_for_another_workspace(
    fake, support, admin_user, workspace, other
) -> None:
    request = filed(support, other)
    limit_to(admin_user, workspaces=[workspace])
    client = login(admin_user)
    answer = client.post(
        reverse("approvals:decide", args=[request.approval.pk]), {"decision": "approve"}
    )
    assert answer.status_code in (200, 302, 403)
    assert Approval.objects.get().state == Approval.State.WAITING
    page = client.get(reverse("privacy:list"))
    assert request not in list(page.context["page"])
    assert creates(fake) == []


def test_current_suppressions_of_another_workspace_are_refused(
    fake, support, workspace, other
) -> None:
    limit_to(support, workspaces=[workspace])
    client = login(support)
    page = client.get(reverse("privacy:suppressions"))
    assert ">Other<" not in page.content.decode() and ">Other (US)<" not in page.content.decode()
    response = client.get(reverse("privacy:suppressions"), {"workspace": other.pk})
    assert "You may not act on the workspace “Other”" in response.content.decode()
    assert [r for r in fake.requests if "suppressions" in r.path] == []
    refusal = AuditEntry.objects.get(kind=Kind.EVENT, action="access.refused")
    assert refusal.workspace_id == other.pk
