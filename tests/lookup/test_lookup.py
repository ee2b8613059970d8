"""User lookup: the timeline and traits from the audit log, with and without the Profile API
(against the local fake), and Fix traits."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Workspace
from segadmin.lookup.history import compare, fold_traits
from tests.audit.entries import add_call, make_source
from tests.factories import login

pytestmark = pytest.mark.django_db
LOOKUP = reverse("lookup:index")
PROFILE_TOKEN = "pt_LOOKUPprofileToken0123456789"


@pytest.fixture
def history_of_alice(marketer):
    source = make_source()
    entries = [
        add_call(
            user=marketer,
            source=source,
            call_type="identify",
            user_id="alice",
            traits={"plan": "free", "email": "a@example.com", "age": 30},
        ),
        add_call(user=marketer, source=source, user_id="alice", event="Signed Up"),
        add_call(
            user=marketer,
            source=source,
            call_type="identify",
            user_id="alice",
            traits={"plan": "pro", "age": None},
        ),
        # Rejected by Segment: it changed nothing.
        add_call(
            user=marketer,
            source=source,
            call_type="identify",
            user_id="alice",
            traits={"plan": "enterprise"},
            status=400,
        ),
        add_call(
            user=marketer,
            source=source,
            call_type="identify",
            user_id="bob",
            traits={"plan": "bob's"},
        ),
    ]
    return source, entries


def test_fold_traits_lets_later_values_win_and_null_unset() -> None:
    assert fold_traits([{"a": 1, "b": 2}, {"a": 3, "b": None}, {"c": [1]}]) == {"a": 3, "c": [1]}


def test_compare_marks_every_kind_of_difference() -> None:
    rows = {r.key: r.state for r in compare({"a": 1, "b": 2, "c": 3}, {"a": 1.0, "b": 5, "d": 4})}
    assert rows == {"a": "same", "b": "different", "c": "only ours", "d": "only Segment"}
    assert compare({"x": True}, {"x": 1})[0].state == "different"


def test_the_timeline_and_the_traits_as_they_stand(history_of_alice, support) -> None:
    _, entries = history_of_alice
    response = login(support).get(LOOKUP, {"identifier_type": "user_id", "identifier": "alice"})
    assert response.status_code == 200
    found = response.context["found"]
    assert [e.seq for e in found.timeline] == sorted((e.seq for e in entries[:4]), reverse=True)
    assert found.traits == {"plan": "pro", "email": "a@example.com"}
    assert [i.counted for i in found.identifies] == [False, True, True]
    html = response.content.decode()
    assert 'data-testid="profile"' not in html  # no workspace has a Profile API token
    assert "Fix traits" in html


def test_looking_up_by_anonymous_id(marketer, support) -> None:
    entry = add_call(user=marketer, anonymous_id="anon-1", event="Viewed")
    response = login(support).get(
        LOOKUP, {"identifier_type": "anonymous_id", "identifier": "anon-1"}
    )
    assert [e.seq for e in response.context["found"].timeline] == [entry.seq]


def test_nobody_found_says_so(support) -> None:
    response = login(support).get(LOOKUP, {"identifier_type": "user_id", "identifier": "ghost"})
    assert "segadmin has sent nothing for this User ID." in response.content.decode()


def test_a_lookup_without_an_id_asks_for_one(support) -> None:
    response = login(support).get(LOOKUP, {"identifier_type": "user_id", "identifier": ""})
    assert response.status_code == 200
    assert "Enter the User ID, Anonymous ID or email to look up." in response.content.decode()


@pytest.mark.parametrize("persona_name", ["marketer", "no_role_user"])
def test_only_support_and_admins_look_users_up(persona, persona_name) -> None:
    assert login(persona(persona_name)).get(LOOKUP).status_code == 403


# --- with the Profile API -------------------------------------------------------------------


@pytest.fixture
def profile_workspace(fake_segment, history_of_alice):
    source, _ = history_of_alice
    workspace = Workspace(name="Acme", region="us", profiles_space_id="spa_test")
    workspace.set_public_api_token("sgp_LOOKUPpublicToken0123456789")
    workspace.set_profiles_token(PROFILE_TOKEN)
    workspace.save()
    source.workspace = workspace
    source.save()
    fake_segment.state.add_space("spa_test", PROFILE_TOKEN)
    return workspace


def test_segments_traits_are_shown_beside_ours_with_the_differences(
    fake_segment, profile_workspace, support
) -> None:
    fake_segment.add_profile(
        space_id="spa_test",
        token=PROFILE_TOKEN,
        user_id="alice",
        traits={"plan": "pro", "email": "old@example.com", "score": 7},
    )
    response = login(support).post(LOOKUP, {"identifier_type": "user_id", "identifier": "alice"})
    states = {row.key: row.state for row in response.context["comparison"]}
    assert states == {"plan": "same", "email": "different", "score": "only Segment"}
    html = response.content.decode()
    assert "2 differences" in html
    assert 'data-state="different"' in html
    assert PROFILE_TOKEN not in html
    # The Profile API request is on the record, under the workspace, its token masked.
    entry = AuditEntry.objects.get(call_type="profiles:traits")
    assert entry.workspace_id == profile_workspace.pk and entry.outcome == "sent"
    assert PROFILE_TOKEN not in entry.request_headers


def test_no_profile_yet_is_said_plainly(fake_segment, profile_workspace, support) -> None:
    response = login(support).post(LOOKUP, {"identifier_type": "user_id", "identifier": "alice"})
    assert response.context["profile"] is None
    html = response.content.decode()
    assert 'data-testid="no-profile"' in html and "No profile yet" in html


def test_a_refused_profile_token_is_explained(fake_segment, profile_workspace, support) -> None:
    fake_segment.state.add_space("spa_test", "a-different-token")
    response = login(support).post(LOOKUP, {"identifier_type": "user_id", "identifier": "alice"})
    html = response.content.decode()
    assert 'data-testid="profile-error"' in html
    assert PROFILE_TOKEN not in html


# --- Only a POST asks Segment: a link cannot make someone call the Profile API --------------


def test_opening_a_lookup_link_shows_our_history_without_asking_segment(
    fake_segment, profile_workspace, support
) -> None:
    fake_segment.add_profile(
        space_id="spa_test", token=PROFILE_TOKEN, user_id="alice", traits={"plan": "pro"}
    )
    response = login(support).get(LOOKUP, {"identifier_type": "user_id", "identifier": "alice"})
    assert response.status_code == 200
    assert response.context["found"].traits == {"plan": "pro", "email": "a@example.com"}
    assert fake_segment.requests == []
    assert not AuditEntry.objects.filter(call_type="profiles:traits").exists()
    html = response.content.decode()
    # The panel offers to read Segment's traits, by POST.
    assert 'data-testid="read-profile"' in html
    assert 'data-testid="comparison"' not in html


def test_looking_up_by_post_asks_segment_and_records_the_request(
    fake_segment, profile_workspace, support
) -> None:
    response = login(support).post(LOOKUP, {"identifier_type": "user_id", "identifier": "alice"})
    assert response.status_code == 200
    assert [r.path for r in fake_segment.requests] == [
        "/v1/spaces/spa_test/collections/users/profiles/user_id:alice/traits"
    ]
    assert AuditEntry.objects.filter(call_type="profiles:traits").count() == 1


def test_a_cross_site_post_without_a_csrf_token_is_refused(
    fake_segment, profile_workspace, support
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(support)
    response = client.post(LOOKUP, {"identifier_type": "user_id", "identifier": "alice"})
    assert response.status_code == 403
    assert fake_segment.requests == []
    assert not AuditEntry.objects.filter(call_type="profiles:traits").exists()


def test_a_lookup_posted_by_htmx_answers_with_the_result_and_a_bookmarkable_address(
    fake_segment, profile_workspace, support
) -> None:
    response = login(support).post(
        LOOKUP,
        {"identifier_type": "user_id", "identifier": "alice smith"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Push-Url"] == f"{LOOKUP}?identifier_type=user_id&identifier=alice+smith"
    html = response.content.decode()
    assert "<html" not in html and 'data-testid="looked-up"' in html


def test_an_invalid_posted_lookup_asks_for_the_id_and_asks_nobody(
    fake_segment, profile_workspace, support
) -> None:
    response = login(support).post(LOOKUP, {"identifier_type": "user_id", "identifier": ""})
    assert response.status_code == 200
    assert "Enter the User ID, Anonymous ID or email to look up." in response.content.decode()
    assert fake_segment.requests == []


@pytest.mark.parametrize("persona_name", ["marketer", "no_role_user"])
def test_a_forged_lookup_post_by_someone_without_the_role_asks_segment_nothing(
    fake_segment, profile_workspace, persona, persona_name
) -> None:
    client = login(persona(persona_name))
    response = client.post(LOOKUP, {"identifier_type": "user_id", "identifier": "alice"})
    assert response.status_code == 403
    assert fake_segment.requests == []
    assert not AuditEntry.objects.filter(call_type="profiles:traits").exists()


# --- Fix traits -----------------------------------------------------------------------------


def test_fix_traits_opens_its_own_page_starting_from_our_traits(history_of_alice, support) -> None:
    source, _ = history_of_alice
    client = login(support)
    response = client.post(
        reverse("lookup:fix_traits"),
        {"identifier_type": "user_id", "identifier": "alice", "start_from": "ours"},
    )
    assert response.status_code == 200
    assert response.templates[0].name == "lookup/fix_traits.html"  # not the Identify screen
    starting = {row.key: row.text for row in response.context["rows"]}
    assert starting == {"plan": "pro", "email": "a@example.com"}
    assert response.context["form"].initial["source"] == source.pk


def test_fix_traits_can_start_from_segments_profile(
    fake_segment, profile_workspace, support
) -> None:
    fake_segment.add_profile(
        space_id="spa_test", token=PROFILE_TOKEN, user_id="alice", traits={"plan": "trial"}
    )
    client = login(support)
    response = client.post(
        reverse("lookup:fix_traits"),
        {"identifier_type": "user_id", "identifier": "alice", "start_from": "segment"},
    )
    rows = {row.key: row for row in response.context["rows"]}
    assert rows["plan"].text == "trial"  # Segment's value
    # Segment holds no email: nothing to start from, so nothing is sent unless one is typed.
    assert (rows["email"].ours_shown, rows["email"].text) == ('"a@example.com"', "")


def test_fix_traits_without_an_id_goes_back_with_a_message(support) -> None:
    response = login(support).post(reverse("lookup:fix_traits"), {}, follow=True)
    assert "Look the user up first" in response.content.decode()


def test_the_lookup_page_costs_a_fixed_number_of_queries(
    history_of_alice, support, django_assert_num_queries
) -> None:
    client = login(support)
    query = {"identifier_type": "user_id", "identifier": "alice"}
    client.get(LOOKUP, query)
    # session, user, the person (role, permissions and source limits: one query), workspace
    # choices (the form), timeline, identifies, the latest source (for its workspace), the
    # Profile API workspaces; the recently viewed list: this lookup moved first (one UPDATE)
    # and the list read; whether an import's batches still wait for their message index rows
    # (audit.backlog).
    with django_assert_num_queries(11):
        client.get(LOOKUP, query)


def test_segments_traits_named_like_secrets_are_shown_masked(
    fake_segment, profile_workspace, support, marketer
) -> None:
    source, _ = history_of_alice_source(profile_workspace)
    add_call(
        user=marketer,
        source=source,
        call_type="identify",
        user_id="alice",
        traits={"apiToken": "ourTokenValue123456"},
    )
    fake_segment.add_profile(
        space_id="spa_test",
        token=PROFILE_TOKEN,
        user_id="alice",
        traits={
            "plan": "pro",
            "apiToken": "segmentTokenValue987654",
            "login": {"password": "hunter2hunter2", "user": "alice"},
            "echo": PROFILE_TOKEN,
        },
    )
    response = login(support).post(LOOKUP, {"identifier_type": "user_id", "identifier": "alice"})
    rows = {row.key: row for row in response.context["comparison"]}
    assert rows["apiToken"].theirs == '"****"' and rows["apiToken"].ours == '"****"'
    assert rows["apiToken"].state == "different"  # decided on the real values
    assert rows["login"].theirs == '{"password": "****", "user": "alice"}'
    assert rows["echo"].theirs == '"****"'
    assert rows["plan"].state == "same"
    html = response.content.decode()
    # (Our own traits are in our request bodies, which keep traits readable by design.)
    for value in ("segmentTokenValue987654", "hunter2hunter2"):
        assert value not in html
    assert PROFILE_TOKEN not in html
    # The audit log stored the same redacted answer.
    outcome = AuditEntry.objects.get(request_entry__call_type="profiles:traits")
    assert "segmentTokenValue987654" not in outcome.response_body_text()
    assert "hunter2hunter2" not in outcome.response_body_text()


def history_of_alice_source(workspace: Workspace):
    source = workspace.sources.get()
    return source, workspace
