"""People limited to their sources, on the call screens, Make an API call and the send service:
only their sources are offered; a forged POST naming another is refused next to Source, in the
audit log as a refusal, and nothing is sent; people without limits are unaffected."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from segadmin import sending
from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Source, Workspace
from tests.calls.conftest import WRITE_KEY, errors_of, form_data
from tests.calls.test_make_an_api_call import api_data
from tests.conftest import TOKEN
from tests.factories import limit_to, login, make_source

pytestmark = pytest.mark.django_db

OTHER_KEY = "wk_OTHERtestAbCdEfGhIjKlMnOpQrStUv"

# Each screen with what its form needs besides the source.
SCREENS: dict[str, dict[str, Any]] = {
    "identify": {"user_id": "u-1", "traits": {"plan": "pro"}},
    "track": {"user_id": "u-1", "event": "Order Completed"},
    "page": {"user_id": "u-1", "name": "Pricing"},
    "screen": {"user_id": "u-1", "name": "Settings"},
    "group": {"user_id": "u-1", "group_id": "g-1"},
    "alias": {"user_id": "u-1", "previous_id": "anon-1"},
}


@pytest.fixture
def mine(db: None) -> Source:
    return make_source("Mine", WRITE_KEY)


@pytest.fixture
def theirs(db: None) -> Source:
    return make_source("Theirs", OTHER_KEY)


@pytest.fixture
def limited_admin(admin_user: User, mine: Source) -> User:
    """An Admin (who may use every screen) limited to the source "Mine"."""
    limit_to(admin_user, sources=[mine])
    return admin_user


def refusals() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(kind=Kind.EVENT, action="access.refused"))


@pytest.mark.parametrize("call", SCREENS)
def test_each_call_screen_offers_only_the_persons_sources(
    call: str, limited_admin: User, mine: Source, theirs: Source
) -> None:
    html = login(limited_admin).get(f"/calls/{call}/").content.decode()
    assert f'<option value="{mine.pk}"' in html
    assert f'<option value="{theirs.pk}"' not in html
    assert "Theirs" not in html


@pytest.mark.parametrize("action", ["preview", "send"])
@pytest.mark.parametrize("call", SCREENS)
def test_a_forged_post_to_another_source_is_refused_audited_and_not_sent(
    call: str, action: str, limited_admin: User, theirs: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(OTHER_KEY)
    data = form_data(theirs, **SCREENS[call])
    data["action"] = action
    response = login(limited_admin).post(f"/calls/{call}/", data)
    assert response.status_code == 422
    assert response.context["panel"] is None
    (error,) = errors_of(response)["source"]
    assert "You may not use the source “Theirs”" in error
    assert "an Admin limited you to other sources" in error
    assert "Theirs" in response.content.decode()  # said next to Source, on the page
    assert fake_segment.requests == []
    (entry,) = refusals()
    assert entry.actor_user_id == limited_admin.pk
    assert entry.source_id == theirs.pk and entry.source_name == "Theirs"
    assert entry.details_data["entrance"] == call.capitalize()
    assert not AuditEntry.objects.filter(kind=Kind.REQUEST).exists()


@pytest.mark.parametrize("call", SCREENS)
def test_the_persons_own_source_is_sent_as_before(
    call: str, limited_admin: User, mine: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    data = form_data(mine, **SCREENS[call])
    data["action"] = "send"
    response = login(limited_admin).post(f"/calls/{call}/", data)
    assert response.status_code == 200, errors_of(response)
    assert response.context["panel"]["kind"] == "sent"
    assert len(fake_segment.messages()) == 1
    assert refusals() == []


def test_a_source_allowed_through_its_workspace_is_offered_and_sent(
    marketer: User, workspace: Workspace, theirs: Source, fake_segment: Any
) -> None:
    in_workspace = make_source("In the workspace", WRITE_KEY, workspace=workspace)
    limit_to(marketer, workspaces=[workspace])
    client = login(marketer)
    html = client.get("/calls/track/").content.decode()
    assert f'<option value="{in_workspace.pk}"' in html
    assert f'<option value="{theirs.pk}"' not in html
    fake_segment.add_write_key(WRITE_KEY)
    data = form_data(in_workspace, **SCREENS["track"])
    data["action"] = "send"
    assert client.post("/calls/track/", data).context["panel"]["kind"] == "sent"


def test_people_without_limits_are_unaffected(
    marketer: User, mine: Source, theirs: Source, fake_segment: Any
) -> None:
    client = login(marketer)
    html = client.get("/calls/identify/").content.decode()
    assert f'<option value="{mine.pk}"' in html and f'<option value="{theirs.pk}"' in html
    fake_segment.add_write_key(OTHER_KEY)
    data = form_data(theirs, **SCREENS["identify"])
    data["action"] = "send"
    assert client.post("/calls/identify/", data).context["panel"]["kind"] == "sent"
    assert refusals() == []


def test_the_planned_editor_redraw_offers_only_the_persons_sources(
    limited_admin: User, mine: Source, theirs: Source
) -> None:
    response = login(limited_admin).get(
        "/calls/track/planned/", {"source": str(mine.pk), "changed": "source"}
    )
    assert f'value="{theirs.pk}"' not in response.content.decode()


# --- Make an API call -------------------------------------------------------------------------


def test_make_an_api_call_offers_only_the_persons_sources_and_workspaces(
    limited_admin: User, mine: Source, theirs: Source, workspace: Workspace
) -> None:
    html = login(limited_admin).get("/calls/api/?example=group").content.decode()
    assert f'<option value="{mine.pk}" selected>' in html  # the example's source is theirs
    assert f'<option value="{theirs.pk}"' not in html
    assert f">{workspace.name} (US)</option>" not in html  # limited to a source: no workspace


@pytest.mark.parametrize("action", ["preview", "send"])
def test_make_an_api_call_refuses_a_forged_source(
    action: str, limited_admin: User, theirs: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(OTHER_KEY)
    data = api_data(theirs, body='{"userId": "u-1", "groupId": "g-1"}', action=action)
    response = login(limited_admin).post("/calls/api/", data)
    assert response.status_code == 422
    (error,) = errors_of(response)["source"]
    assert "You may not use the source “Theirs”" in error
    assert fake_segment.requests == []
    (entry,) = refusals()
    assert entry.source_id == theirs.pk
    assert entry.details_data["entrance"] == "Make an API call"


def test_make_an_api_call_refuses_a_forged_workspace(
    limited_admin: User, workspace: Workspace, fake_segment: Any
) -> None:
    fake_segment.add_workspace(TOKEN)
    data = api_data(workspace=workspace, method="GET", url="/sources", action="send")
    response = login(limited_admin).post("/calls/api/", data)
    (error,) = errors_of(response)["workspace"]
    assert f"You may not act on the workspace “{workspace.name}”" in error
    assert fake_segment.requests == []
    (entry,) = refusals()
    assert entry.workspace_id == workspace.pk


# --- the send service: the last line, whatever screen calls it ---------------------------------


def test_the_send_service_refuses_a_source_outside_the_actors_limits(
    limited_admin: User, theirs: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(OTHER_KEY)
    actor = Actor(limited_admin, limited_admin.username, "Admin", None, "")
    message = {"type": "identify", "userId": "u-1", "messageId": "m-1"}
    with pytest.raises(sending.NotAllowed, match="You may not use the source “Theirs”"):
        sending.send_message(actor=actor, source=theirs, message=message)
    with pytest.raises(sending.NotAllowed):
        sending.send_batch(actor=actor, source=theirs, messages=[message])
    with pytest.raises(sending.NotAllowed):
        sending.send_raw(
            actor=actor,
            api="tracking",
            source=theirs,
            method="POST",
            path="/v1/identify",
            headers={},
            query={},
            body='{"userId": "u-1"}',
        )
    assert fake_segment.requests == []
    assert len(refusals()) == 3
    assert all(e.details_data["entrance"] == "send" for e in refusals())
    assert not AuditEntry.objects.filter(kind=Kind.REQUEST).exists()


def test_the_send_service_reads_the_limits_at_the_moment_of_sending(
    admin_user: User, mine: Source, theirs: Source, fake_segment: Any
) -> None:
    """The actor object is not trusted to know: limits set after it was made still hold."""
    fake_segment.add_write_key(OTHER_KEY)
    actor = Actor(admin_user, admin_user.username, "Admin", None, "")
    message = {"type": "identify", "userId": "u-1", "messageId": "m-1"}
    assert sending.send_message(actor=actor, source=theirs, message=message).result.ok
    from segadmin.accounts.models import SourceLimit

    SourceLimit.objects.create(user=admin_user).sources.set([mine])
    with pytest.raises(sending.NotAllowed):
        sending.send_message(actor=actor, source=theirs, message=message)


def test_a_system_actor_has_no_limits(theirs: Source, fake_segment: Any) -> None:
    fake_segment.add_write_key(OTHER_KEY)
    message = {"type": "identify", "userId": "u-1", "messageId": "m-1"}
    sent = sending.send_message(actor=Actor.system("test"), source=theirs, message=message)
    assert sent.result.ok


def test_an_approved_public_api_call_is_not_sent_when_the_askers_limits_changed(
    fake_segment: Any, admin_user: User, workspace: Workspace
) -> None:
    from django.urls import reverse

    from segadmin.approvals.models import Approval
    from tests.calls.test_public_api_approval import call
    from tests.conftest import make_user

    fake_segment.add_workspace(TOKEN, id="ws_1")
    asked = login(admin_user).post(reverse("calls:api"), call(workspace, reason="GDPR 9"))
    assert "Waiting for a second Admin" in asked.content.decode()
    approval = Approval.objects.get()
    limit_to(admin_user, sources=[make_source("Elsewhere", WRITE_KEY)])
    answer = login(make_user("bea", "Admin")).post(
        reverse("approvals:decide", args=[approval.pk]), {"decision": "approve"}, follow=True
    )
    assert "Approved, but not sent" in answer.content.decode()
    assert "may no longer act on the workspace" in answer.content.decode()
    assert fake_segment.requests == []
    (entry,) = refusals()
    assert entry.workspace_id == workspace.pk and entry.details_data["entrance"] == "approval"
