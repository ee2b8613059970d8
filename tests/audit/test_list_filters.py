"""The audit list: each filter alone and combined, who sees what, and keyset pagination."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from segadmin.audit import views
from segadmin.audit.log import record_event
from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Workspace
from tests.audit.entries import actor_for, add_call, make_source
from tests.factories import login

pytestmark = pytest.mark.django_db
LIST = reverse("audit:list")


def seqs(response) -> list[int]:
    assert response.status_code == 200
    return [entry.seq for entry in response.context["page"].entries]


@pytest.fixture
def world(marketer, support, admin_user):
    """A small log: calls by three people to two sources, with every outcome, and an event."""
    web, app = make_source("Web"), make_source("App", write_key="wk_APPsecret0123456789abcd")
    workspace = Workspace(name="Acme", region="us")
    workspace.set_public_api_token("sgp_AUDITtoken0123456789")
    workspace.save()
    e = {}
    e["m_track"] = add_call(user=marketer, source=web, user_id="alice", event="Signed Up")
    e["m_identify"] = add_call(
        user=marketer, source=web, call_type="identify", user_id="alice", traits={"plan": "pro"}
    )
    e["m_rejected"] = add_call(user=marketer, source=app, anonymous_id="anon-7", status=400)
    e["s_failed"] = add_call(user=support, source=app, user_id="bob", status=None)
    e["s_noanswer"] = add_call(user=support, source=web, user_id="bob", answered=False)
    e["a_page"] = add_call(
        user=admin_user,
        source=web,
        call_type="page",
        user_id="carol",
        name="Pricing",
        message_id="msg-fixed-1",
    )
    e["a_429"] = add_call(user=admin_user, source=app, user_id="carol", status=429)
    e["event"] = record_event(
        actor=actor_for(admin_user),
        action="credential.created",
        target_type="workspace",
        target_id=workspace.pk,
        target_name="Acme",
    )
    return {"entries": e, "web": web, "app": app, "workspace": workspace}


def expect(world, *names: str) -> list[int]:
    return sorted((world["entries"][n].seq for n in names), reverse=True)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        (
            {},
            [
                "m_track",
                "m_identify",
                "m_rejected",
                "s_failed",
                "s_noanswer",
                "a_page",
                "a_429",
                "event",
            ],
        ),
        ({"person": "sam"}, ["s_failed", "s_noanswer"]),
        ({"role": "Admin"}, ["a_page", "a_429", "event"]),
        ({"call_type": "identify"}, ["m_identify"]),
        ({"call_type": "page"}, ["a_page"]),
        ({"call_type": "events"}, ["event"]),
        ({"outcome": "sent"}, ["m_track", "m_identify", "a_page"]),
        ({"outcome": "rejected"}, ["m_rejected", "a_429"]),
        ({"outcome": "failed"}, ["s_failed"]),
        ({"outcome": "none"}, ["s_noanswer"]),
        ({"status": "429"}, ["a_429"]),
        ({"user_id": "alice"}, ["m_track", "m_identify"]),
        ({"anonymous_id": "anon-7"}, ["m_rejected"]),
        ({"event": "Signed Up"}, ["m_track"]),
        ({"message_id": "msg-fixed-1"}, ["a_page"]),
    ],
)
def test_each_filter_alone_finds_exactly_its_entries(world, admin_user, query, names) -> None:
    assert seqs(login(admin_user).get(LIST, query)) == expect(world, *names)


def test_the_source_and_workspace_filters_find_their_entries(world, admin_user) -> None:
    client = login(admin_user)
    web = client.get(LIST, {"source": world["web"].pk})
    assert seqs(web) == expect(world, "m_track", "m_identify", "s_noanswer", "a_page")
    app = client.get(LIST, {"source": world["app"].pk})
    assert seqs(app) == expect(world, "m_rejected", "s_failed", "a_429")
    assert seqs(client.get(LIST, {"workspace": world["workspace"].pk})) == expect(world, "event")


def test_filters_combine_with_and(world, admin_user) -> None:
    client = login(admin_user)
    both = client.get(LIST, {"user_id": "carol", "outcome": "rejected", "source": world["app"].pk})
    assert seqs(both) == expect(world, "a_429")
    none = client.get(LIST, {"user_id": "alice", "outcome": "failed"})
    assert seqs(none) == []
    assert "No entries match these filters." in none.content.decode()
    three = client.get(LIST, {"person": "maria", "call_type": "track", "outcome": "sent"})
    assert seqs(three) == expect(world, "m_track")


def test_the_date_range_includes_the_end_day_and_excludes_other_days(world, admin_user) -> None:
    today = datetime.now(UTC).date()
    client = login(admin_user)
    everything = expect(world, *world["entries"])
    assert seqs(client.get(LIST, {"date_from": today, "date_to": today})) == everything
    tomorrow = today + timedelta(days=1)
    assert seqs(client.get(LIST, {"date_from": tomorrow})) == []
    assert seqs(client.get(LIST, {"date_to": today - timedelta(days=1)})) == []


def test_the_since_filter_of_the_home_page_is_exact(world, admin_user) -> None:
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert seqs(login(admin_user).get(LIST, {"since": later.isoformat()})) == []


def test_the_filters_stay_in_the_links_of_the_next_pages(world, admin_user, settings) -> None:
    with mock.patch.object(views, "PAGE_SIZE", 1):
        response = login(admin_user).get(LIST, {"user_id": "alice"})
    html = response.content.decode()
    assert f"user_id=alice&amp;before={world['entries']['m_identify'].seq}" in html
    assert re.search(r'name="user_id"[^>]*value="alice"', html)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"status": "abc"}, "Enter an HTTP status code such as 400."),
        ({"status": "999"}, "HTTP status codes run from 100 to 599."),
        ({"date_from": "2024-02-30"}, "Enter a valid date."),
        ({"date_from": "2024-05-02", "date_to": "2024-05-01"}, "The end date is before"),
        ({"source": "99999"}, "That source does not exist"),
        ({"outcome": "great"}, "Select a valid choice."),
    ],
)
def test_bad_filters_get_a_clear_message_not_an_error_page(world, admin_user, query, message):
    response = login(admin_user).get(LIST, query)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "The filters need fixing" in html


def test_a_broken_page_link_shows_the_newest_entries_with_a_note(world, admin_user) -> None:
    response = login(admin_user).get(LIST, {"before": "12abc"})
    assert seqs(response)[0] == world["entries"]["event"].seq
    assert "That page link is broken" in response.content.decode()


# --- who sees what --------------------------------------------------------------------------


def test_a_marketer_sees_only_their_own_entries(world, marketer) -> None:
    response = login(marketer).get(LIST)
    assert seqs(response) == expect(world, "m_track", "m_identify", "m_rejected")
    assert 'name="person"' not in response.content.decode()


def test_a_marketer_cannot_widen_the_list_with_filters(world, marketer) -> None:
    client = login(marketer)
    assert seqs(client.get(LIST, {"user_id": "bob"})) == []
    assert seqs(client.get(LIST, {"person": "sam"})) == expect(
        world, "m_track", "m_identify", "m_rejected"
    )  # the person filter is not theirs to use: ignored


def test_support_and_admins_see_every_entry(world, support, admin_user) -> None:
    everything = expect(world, *world["entries"])
    assert seqs(login(support).get(LIST)) == everything
    assert seqs(login(admin_user).get(LIST)) == everything


def test_people_without_a_role_may_not_open_the_audit_log(world, no_role_user) -> None:
    assert login(no_role_user).get(LIST).status_code == 403


def test_outcome_rows_are_not_listed_on_their_own(world, admin_user) -> None:
    listed = set(seqs(login(admin_user).get(LIST)))
    outcome_rows = set(AuditEntry.objects.filter(kind=Kind.OUTCOME).values_list("seq", flat=True))
    assert outcome_rows and not listed & outcome_rows


# --- keyset pagination ----------------------------------------------------------------------

SAME_TIME = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def many(admin_user):
    """25 answered calls all at the same instant: only seq tells them apart."""
    source = make_source()
    with mock.patch("segadmin.audit.chain.timezone.now", return_value=SAME_TIME):
        entries = [add_call(user=admin_user, source=source, user_id=f"u{i}") for i in range(25)]
    return entries


def walk(client: Client, query: dict, direction: str = "older") -> list[list[int]]:
    pages, response = [], client.get(LIST, query)
    while True:
        page = response.context["page"]
        pages.append([e.seq for e in page.entries])
        cursor = page.older_cursor if direction == "older" else page.newer_cursor
        if cursor is None:
            return pages
        key = "before" if direction == "older" else "after"
        response = client.get(LIST, {**query, key: cursor})


def test_keyset_pages_cover_every_entry_once_across_equal_timestamps(many, admin_user) -> None:
    client = login(admin_user)
    with mock.patch.object(views, "PAGE_SIZE", 10):
        pages = walk(client, {})
    flat = [seq for page in pages for seq in page]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert flat == sorted((e.seq for e in many), reverse=True)


def test_the_oldest_page_and_walking_back_to_the_newest(many, admin_user) -> None:
    client = login(admin_user)
    with mock.patch.object(views, "PAGE_SIZE", 10):
        oldest = client.get(LIST, {"after": 0})
        assert seqs(oldest) == sorted((e.seq for e in many[:10]), reverse=True)
        assert oldest.context["page"].has_older is False
        newer = walk(client, {"after": 0}, direction="newer")
    # After the oldest page, newer pages hold the rest, each newest first.
    flat = [seq for page in reversed(newer) for seq in page]
    assert flat == sorted((e.seq for e in many), reverse=True)


def test_a_keyset_page_of_a_filtered_list_skips_the_other_entries(many, admin_user) -> None:
    extra = add_call(user=admin_user, user_id="u3")
    client = login(admin_user)
    with mock.patch.object(views, "PAGE_SIZE", 1):
        pages = walk(client, {"user_id": "u3"})
    assert pages == [[extra.seq], [many[3].seq]]


# --- queries per page -----------------------------------------------------------------------
# Fixed costs: session, user, the person (permissions, role for the navigation and source
# limits: one query), and the source and workspace choices of the filter form. Then the page:
# the first page needs one query for its rows, any other page one more to know whether there
# are newer entries.
BASE_QUERIES = 5


@pytest.mark.parametrize(
    ("query", "page_queries"),
    [
        ({}, 1),
        # A search by ID or event asks one more: whether an import's batches still wait for
        # their message index rows (audit.backlog; the page then says so).
        ({"user_id": "u5", "outcome": "sent", "call_type": "track"}, 2),
        # On SQLite an event name costs one more query (a capped count: see _message_filter).
        (
            {"event": "Order Completed", "anonymous_id": "a1", "message_id": "m1"},
            3 if connection.vendor == "sqlite" else 2,
        ),
        ({"bulk_job": "4f0616d8-096d-4825-a06b-cb81ea987abd"}, 1),
        ({"before": 10_000}, 2),
        ({"after": 0}, 2),
        ({"after": 5, "outcome": "sent"}, 2),
    ],
)
def test_a_page_costs_the_same_number_of_queries_however_many_entries(
    many, admin_user, django_assert_num_queries, query, page_queries
) -> None:
    client = login(admin_user)
    client.get(LIST)  # warm the session
    base = BASE_QUERIES
    with django_assert_num_queries(base + page_queries):
        assert client.get(LIST, query).status_code == 200
    for i in range(30):
        add_call(user=admin_user, user_id=f"more{i}")
    with django_assert_num_queries(base + page_queries):
        assert client.get(LIST, query).status_code == 200


def test_a_marketers_page_costs_no_more_queries(marketer, django_assert_num_queries) -> None:
    for i in range(12):
        add_call(user=marketer, user_id=f"x{i}")
    client = login(marketer)
    with mock.patch.object(views, "PAGE_SIZE", 5), django_assert_num_queries(BASE_QUERIES + 1):
        assert len(seqs(client.get(LIST))) == 5
