"""The audit log of a Support person limited to chosen sources: the list, an entry's page, the
export and Send again show and act on only their sources' entries (and their own); entries of
no source of theirs (credential, user and approval changes of others) are not shown. People
without limits are unaffected."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from segadmin.audit.log import record_event
from segadmin.audit.models import AuditEntry, Kind
from tests.audit.entries import WRITE_KEY, actor_for, add_call, exported_lines, make_source
from tests.factories import limit_to, login, make_workspace

pytestmark = pytest.mark.django_db
OTHER_KEY = "wk_AUDITotherKey0123456789abcdef"


@pytest.fixture
def log(marketer: User, support: User):
    mine = make_source("Mine", WRITE_KEY)
    theirs = make_source("Theirs", OTHER_KEY)
    shop = make_workspace("tok-shop-0123456789", name="Shop")
    entries = {
        "mine": add_call(user=marketer, source=mine, call_type="identify", user_id="m-1"),
        "theirs": add_call(user=marketer, source=theirs, call_type="identify", user_id="t-1"),
        "own": add_call(user=support, source=theirs, call_type="identify", user_id="o-1"),
        "event": record_event(
            actor=actor_for(marketer),
            action="user.created",
            target_type="user",
            target_id=1,
            target_name="someone",
        ),
        "workspace": record_event(
            actor=actor_for(marketer),
            action="credential.changed",
            target_type="workspace",
            target_id=shop.pk,
            target_name=shop.name,
        ),
    }
    return mine, theirs, shop, entries


def listed(client) -> set[int]:
    page = client.get("/audit/")
    assert page.status_code == 200
    return {entry.pk for entry in page.context["page"].entries}


def test_a_limited_support_person_lists_only_their_sources_entries_and_their_own(
    log, support
) -> None:
    mine, _, _, entries = log
    limit_to(support, sources=[mine])
    assert listed(login(support)) == {entries["mine"].pk, entries["own"].pk}


def test_a_chosen_workspace_shows_its_entries_of_no_source(log, support) -> None:
    _, _, shop, entries = log
    limit_to(support, workspaces=[shop])
    assert listed(login(support)) == {entries["workspace"].pk, entries["own"].pk}


def test_the_source_filter_offers_only_their_sources(log, support) -> None:
    mine, theirs, _, _ = log
    limit_to(support, sources=[mine])
    html = login(support).get("/audit/").content.decode()
    assert f'<option value="{mine.pk}"' in html
    assert f'<option value="{theirs.pk}"' not in html


def test_other_entries_pages_are_not_found(log, support) -> None:
    mine, _, _, entries = log
    limit_to(support, sources=[mine])
    client = login(support)
    assert client.get(f"/audit/{entries['mine'].pk}/").status_code == 200
    assert client.get(f"/audit/{entries['own'].pk}/").status_code == 200
    for name in ("theirs", "event", "workspace"):
        assert client.get(f"/audit/{entries[name].pk}/").status_code == 404, name
    # An outcome row is read as its request.
    outcome = AuditEntry.objects.get(kind=Kind.OUTCOME, request_entry=entries["theirs"])
    assert client.get(f"/audit/{outcome.pk}/").status_code == 404


def test_people_without_limits_are_unaffected(log, support) -> None:
    _, _, _, entries = log
    assert listed(login(support)) >= {e.pk for e in entries.values()}


def test_the_export_of_a_limited_admin_holds_only_their_sources_entries(log, admin_user) -> None:
    mine, _, _, entries = log
    limit_to(admin_user, sources=[mine])
    client = login(admin_user)
    response = client.get("/audit/export/", {"format": "jsonl"})
    assert response.status_code == 200
    lines = exported_lines(response)
    assert {line["seq"] for line in lines} == {entries["mine"].seq}
    full = client.get("/audit/export/", {"format": "jsonl", "full": "1"})
    assert full.status_code == 403
    assert "not for a person an Admin limited to chosen sources" in full.content.decode()


def test_send_again_is_refused_for_a_source_outside_the_limits(log, support, fake_segment) -> None:
    mine, theirs, _, entries = log
    fake_segment.add_write_key(OTHER_KEY)
    own = entries["own"]  # their own entry, to a source they may no longer use
    limit_to(support, sources=[mine])
    client = login(support)
    page = client.get(f"/audit/{own.pk}/").content.decode()
    assert "You may not use the source “Theirs”" in page  # instead of the Send again button
    response = client.post(f"/audit/{own.pk}/send-again/", follow=True)
    assert "Not sent again: You may not use the source “Theirs”" in response.content.decode()
    assert fake_segment.requests == []
    refusal = AuditEntry.objects.get(kind=Kind.EVENT, action="access.refused")
    assert refusal.source_id == theirs.pk
    assert refusal.details_data["entrance"] == "Send again"


def test_send_again_works_for_the_persons_source(log, support, fake_segment) -> None:
    mine, _, _, entries = log
    fake_segment.add_write_key(WRITE_KEY)
    limit_to(support, sources=[mine])
    response = login(support).post(f"/audit/{entries['mine'].pk}/send-again/", follow=True)
    assert "Sent again as entry" in response.content.decode()
    assert len(fake_segment.messages()) == 1


def test_edit_and_send_does_not_carry_a_source_outside_the_limits(log, support) -> None:
    mine, theirs, _, entries = log
    limit_to(support, sources=[mine])
    client = login(support)
    response = client.post(f"/audit/{entries['own'].pk}/edit/", follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<option value="{theirs.pk}"' not in html
