"""The audit list's Email filter: the message index's ``email`` column, searched like the
other ID filters (exact, as the index keeps it: trimmed and lower-cased), inside batches too,
with the same role and source limits, the same "still being indexed" notice, kept in the page
links and in the export."""

from __future__ import annotations

import pytest
import responses
from django.urls import reverse

from segadmin.audit import backlog
from segadmin.audit.models import AuditEntry
from tests.audit.entries import WRITE_KEY, add_call, exported_lines, make_source
from tests.audit.test_message_index import a_batch
from tests.bulk.test_index_later import BATCH_URL, send_later
from tests.factories import limit_to, login

pytestmark = pytest.mark.django_db
LIST = reverse("audit:list")
EXPORT = reverse("audit:export")
OTHER_KEY = "wk_EMAILotherKey0123456789abcdef"


def identify(user, source, email: str, user_id: str = "nina-1"):
    """An Identify by ``user`` to ``source`` with ``email`` in its traits."""
    return add_call(
        user=user, source=source, call_type="identify", user_id=user_id, traits={"email": email}
    )


@pytest.fixture
def nina(marketer, support):
    """Nina's email on calls by a Marketer and by Support, to two sources, and someone else."""
    mine, theirs = make_source("Mine", WRITE_KEY), make_source("Theirs", OTHER_KEY)
    return {
        "mine": mine,
        "theirs": theirs,
        "m_identify": identify(marketer, mine, "  Nina@Example.COM "),
        "m_track": add_call(
            user=marketer,
            source=mine,
            user_id="nina-1",
            event="Signed Up",
            context={"traits": {"email": "nina@example.com"}},
        ),
        "s_identify": identify(support, theirs, "nina@example.com"),
        "other": identify(marketer, mine, "someone@example.com", user_id="other"),
        "no_email": add_call(user=marketer, source=mine, user_id="nina-1"),
    }


def listed(client, **query) -> list[int]:
    response = client.get(LIST, query)
    assert response.status_code == 200
    return [entry.seq for entry in response.context["page"].entries]


def seqs(entries: dict, *names: str) -> list[int]:
    return sorted((entries[name].seq for name in names), reverse=True)


@pytest.mark.parametrize("typed", ["nina@example.com", "  NINA@example.com ", "Nina@Example.COM"])
def test_support_and_admins_find_every_entry_with_the_email_as_the_index_keeps_it(
    nina, support, admin_user, typed
) -> None:
    everyone = seqs(nina, "m_identify", "m_track", "s_identify")
    assert listed(login(support), email=typed) == everyone
    assert listed(login(admin_user), email=typed) == everyone


def test_a_marketer_finds_only_their_own_entries_by_email(nina, marketer) -> None:
    assert listed(login(marketer), email="nina@example.com") == seqs(nina, "m_identify", "m_track")


def test_the_email_filter_is_exact_not_a_part_of_an_address(nina, admin_user) -> None:
    client = login(admin_user)
    assert listed(client, email="example.com@") == []
    assert listed(client, email="ina@example.com") == []
    assert listed(client, email="nina@example.co") == []


def test_it_combines_with_the_other_filters(nina, admin_user) -> None:
    client = login(admin_user)
    assert listed(client, email="nina@example.com", call_type="identify") == seqs(
        nina, "m_identify", "s_identify"
    )
    assert listed(client, email="nina@example.com", person="sam") == seqs(nina, "s_identify")
    assert listed(client, email="nina@example.com", user_id="other") == []


@pytest.mark.parametrize("who", ["marketer", "support", "admin_user"])
def test_what_is_no_email_gets_the_words_of_user_lookup_for_every_role(nina, persona, who) -> None:
    response = login(persona(who)).get(LIST, {"email": "nina at example"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter an email address, such as ada@example.com." in html
    assert 'data-testid="filter-errors"' in html
    assert response.context["page"].entries == []


@pytest.mark.parametrize("who", ["marketer", "support", "admin_user"])
def test_every_role_gets_the_email_field_in_the_filter_form(nina, persona, who) -> None:
    html = login(persona(who)).get(LIST, {"email": "nina@example.com"}).content.decode()
    assert 'name="email"' in html
    assert 'value="nina@example.com"' in html


@pytest.mark.parametrize("who", ["marketer", "support", "admin_user", "no_role_user"])
def test_a_forged_post_with_the_filter_changes_nothing(nina, persona, who) -> None:
    before = AuditEntry.objects.count()
    response = login(persona(who)).post(LIST, {"email": "nina@example.com"})
    assert response.status_code in (403, 405)
    assert AuditEntry.objects.count() == before


def test_people_without_a_role_may_not_search_by_email(nina, no_role_user) -> None:
    assert login(no_role_user).get(LIST, {"email": "nina@example.com"}).status_code == 403


def test_a_person_limited_to_chosen_sources_finds_only_their_sources_and_own_entries(
    nina, support
) -> None:
    limit_to(support, sources=[nina["mine"]])
    assert listed(login(support), email="nina@example.com") == seqs(
        nina, "m_identify", "m_track", "s_identify"
    )  # s_identify is their own
    limit_to(support, sources=[nina["theirs"]])
    assert listed(login(support), email="nina@example.com") == seqs(nina, "s_identify")


def test_it_finds_a_message_deep_inside_a_bulk_batch_and_says_so(admin_user) -> None:
    # a_batch's messages have no email; one with emails inside a batch:
    from segadmin.audit.index import index_batch
    from segadmin.audit.log import record_request
    from segadmin.segment import client
    from segadmin.segment.messages import build_message
    from tests.audit.entries import actor_for

    a_batch(rows=range(1, 3))
    messages = [
        build_message("identify", user_id=f"user-{row}", traits={"email": f"p{row}@example.com"})
        for row in range(1, 5)
    ]
    entry = record_request(
        actor=actor_for(None, "bulk worker"),
        request=client.batch_request(messages, write_key=WRITE_KEY, region="us"),
        bulk_job_id="job-7",
        index=index_batch(messages, rows=[1, 2, 3, 4]),
    )
    response = login(admin_user).get(LIST, {"email": "P3@example.com"})
    assert [e.seq for e in response.context["page"].entries] == [entry.seq]
    html = response.content.decode()
    ids = html[html.index('class="small audit-ids"') :]
    ids = ids[: ids.index("</td>")]
    assert "<code>p3@example.com</code>" in ids and "in this batch" in ids
    # Not the batch's first user, as if that were the person with the email.
    assert "user-1<" not in ids


def test_the_filter_stays_in_the_links_of_the_next_pages(nina, admin_user, settings) -> None:
    from segadmin.audit import views

    settings.DEBUG = False
    views.PAGE_SIZE, old = 1, views.PAGE_SIZE
    try:
        response = login(admin_user).get(LIST, {"email": "nina@example.com"})
    finally:
        views.PAGE_SIZE = old
    assert "email=nina%40example.com" in response.context["older_query"]
    assert "email=nina%40example.com" in response.context["query"]


def test_the_export_takes_the_email_filter(nina, admin_user) -> None:
    response = login(admin_user).get(EXPORT, {"format": "jsonl", "email": "Nina@example.com"})
    assert response.status_code == 200
    lines = exported_lines(response)
    assert sorted((line["seq"] for line in lines), reverse=True) == seqs(
        nina, "m_identify", "m_track", "s_identify"
    )
    refused = login(admin_user).get(EXPORT, {"format": "csv", "email": "nobody"})
    assert refused.status_code == 400
    assert "Email: Enter an email address, such as ada@example.com." in refused.content.decode()


@pytest.mark.parametrize("who", ["marketer", "support"])
def test_who_may_not_export_cannot_export_by_email(nina, persona, who) -> None:
    response = login(persona(who)).get(EXPORT, {"format": "csv", "email": "nina@example.com"})
    assert response.status_code == 403


def test_the_export_of_a_limited_admin_by_email_holds_only_their_sources(nina, admin_user):
    limit_to(admin_user, sources=[nina["theirs"]])
    response = login(admin_user).get(EXPORT, {"format": "jsonl", "email": "nina@example.com"})
    lines = exported_lines(response)
    assert [line["seq"] for line in lines] == [nina["s_identify"].seq]


@responses.activate
def test_a_search_by_email_says_when_the_index_is_still_catching_up(support) -> None:
    responses.post(BATCH_URL, json={"success": True})
    send_later(make_source("Website", WRITE_KEY), [2, 3, 4, 5])
    notice = 'data-testid="index-backlog"'
    client = login(support)
    searched = client.get(LIST, {"email": "bo@example.com"})
    assert notice in searched.content.decode()
    assert "are not searchable by ID or email yet" in " ".join(searched.content.decode().split())
    assert searched.context["page"].entries == []  # not indexed yet: the notice says why

    backlog.catch_up()
    searched = client.get(LIST, {"email": "bo@example.com"})
    assert notice not in searched.content.decode()
    assert len(searched.context["page"].entries) == 1


def test_it_costs_the_same_queries_as_the_user_id_filter(nina, admin_user) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(admin_user)
    client.get(LIST, {"user_id": "nina-1"})  # warm the session and caches
    with CaptureQueriesContext(connection) as by_user_id:
        client.get(LIST, {"user_id": "nina-1"})
    with CaptureQueriesContext(connection) as by_email:
        client.get(LIST, {"email": "nina@example.com"})
    assert len(by_email) == len(by_user_id)
