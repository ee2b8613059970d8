"""Fix traits and the user lookup of a person limited to chosen sources: only their sources are
offered, a forged one is refused next to Source and audited, nothing is sent; the lookup's
history shows only their sources' messages (and their own)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from segadmin.audit.models import AuditEntry, Kind
from tests.audit.entries import WRITE_KEY, add_call, make_source
from tests.factories import limit_to, login
from tests.lookup.test_fix_traits import FIX, open_page, posted, sent_identifies

pytestmark = pytest.mark.django_db
OTHER_KEY = "wk_LOOKUPotherKey0123456789abcdef"


@pytest.fixture
def two_sources(marketer, fake_segment):
    fake_segment.add_write_key(WRITE_KEY)
    fake_segment.add_write_key(OTHER_KEY)
    mine = make_source("Mine", WRITE_KEY)
    theirs = make_source("Theirs", OTHER_KEY)
    add_call(user=marketer, source=mine, call_type="identify", user_id="alice", traits={"a": 1})
    add_call(user=marketer, source=theirs, call_type="identify", user_id="alice", traits={"b": 2})
    return mine, theirs


def refusals() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(kind=Kind.EVENT, action="access.refused"))


def test_fix_traits_offers_only_the_persons_sources(two_sources, support) -> None:
    mine, theirs = two_sources
    limit_to(support, sources=[mine])
    page = open_page(login(support))
    html = page.content.decode()
    assert f'<option value="{mine.pk}"' in html
    assert f'<option value="{theirs.pk}"' not in html
    # The latest source was "Theirs", which their history does not show: "Mine" is proposed.
    assert page.context["form"].initial.get("source") == mine.pk


def test_fix_traits_refuses_a_forged_source_audits_it_and_sends_nothing(
    two_sources, support, fake_segment
) -> None:
    mine, theirs = two_sources
    limit_to(support, sources=[mine])
    client = login(support)
    page = open_page(client)
    response = client.post(FIX, posted(page, source=str(theirs.pk), a="5"))
    assert response.status_code == 422
    assert "You may not use the source “Theirs”" in response.content.decode()
    assert sent_identifies(fake_segment) == []
    (entry,) = refusals()
    assert entry.source_id == theirs.pk and entry.details_data["entrance"] == "Fix traits"


def test_fix_traits_sends_to_the_persons_own_source(two_sources, support, fake_segment) -> None:
    mine, _ = two_sources
    limit_to(support, sources=[mine])
    client = login(support)
    page = open_page(client)
    response = client.post(FIX, posted(page, source=str(mine.pk), a="5"))
    assert response.status_code == 200, response.context["errors"]
    assert len(sent_identifies(fake_segment)) == 1
    assert refusals() == []


def test_the_lookup_history_shows_only_the_persons_sources(two_sources, support) -> None:
    mine, _ = two_sources
    limit_to(support, sources=[mine])
    response = login(support).get(
        reverse("lookup:index"), {"identifier_type": "user_id", "identifier": "alice"}
    )
    html = response.content.decode()
    assert "Mine" in html
    assert "Theirs" not in html
    assert response.context["found"].traits == {"a": 1}


def test_an_unlimited_support_person_sees_the_whole_history(two_sources, support) -> None:
    response = login(support).get(
        reverse("lookup:index"), {"identifier_type": "user_id", "identifier": "alice"}
    )
    assert response.context["found"].traits == {"a": 1, "b": 2}


def test_the_profile_api_of_a_workspace_outside_the_limits_is_not_asked(
    fake_segment, support
) -> None:
    from segadmin.credentials.models import Workspace
    from tests.lookup.test_lookup import PROFILE_TOKEN

    fake_segment.add_write_key(WRITE_KEY)
    workspace = Workspace(name="Acme", region="us", profiles_space_id="spa_test")
    workspace.set_public_api_token("sgp_LOOKUPpublicToken0123456789")
    workspace.set_profiles_token(PROFILE_TOKEN)
    workspace.save()
    fake_segment.state.add_space("spa_test", PROFILE_TOKEN)
    mine = make_source("Mine", WRITE_KEY)
    add_call(user=support, source=mine, call_type="identify", user_id="alice", traits={"a": 1})
    limit_to(support, sources=[mine])
    client = login(support)
    # Not offered, and not picked for them as "the only workspace with a Profile API".
    page = client.post(
        reverse("lookup:index"), {"identifier_type": "user_id", "identifier": "alice"}
    )
    assert page.context["workspace"] is None
    assert ">Acme (US)</option>" not in page.content.decode()
    forged = client.post(
        reverse("lookup:index"),
        {"identifier_type": "user_id", "identifier": "alice", "workspace": str(workspace.pk)},
    )
    assert "You may not act on the workspace “Acme”" in forged.content.decode()
    assert fake_segment.requests == []
    (entry,) = refusals()
    assert entry.workspace_id == workspace.pk and entry.details_data["entrance"] == "User lookup"
