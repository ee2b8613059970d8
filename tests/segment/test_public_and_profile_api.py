"""Public API (workspace, sources with pagination) and Profile API (traits) against the fake."""

from __future__ import annotations

import base64

import pytest
import responses

from segadmin.segment import client
from segadmin.segment.client import ApiError, Source, sources_hide_write_keys

TOKEN = "sgp_test_token_0123456789"
SPACE = "spa_test"
SPACE_TOKEN = "profile_token_0123456789"


@pytest.fixture
def workspace(fake_segment):
    fake_segment.add_workspace(TOKEN, id="ws_1", slug="acme", name="Acme")
    for index in range(5):
        fake_segment.add_source(
            id=f"src_{index}",
            slug=f"source-{index}",
            name=f"Source {index}",
            token=TOKEN,
            write_keys=[f"key_{index}"],
            labels={"environment": "prod"},
        )
    return fake_segment


def test_the_workspace_of_the_token(workspace):
    found = client.get_workspace(token=TOKEN, region="us", transport=client.send)
    assert found == client.Workspace(id="ws_1", slug="acme", name="Acme")
    assert workspace.requests[-1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_sources_are_listed_across_three_pages(workspace):
    sources = client.list_sources(token=TOKEN, region="us", page_size=2, transport=client.send)
    assert [s.id for s in sources] == [f"src_{i}" for i in range(5)]
    assert sources[0].write_keys == ("key_0",)
    assert sources[0].labels == {"environment": "prod"}
    assert sources[0].workspace_id == "ws_1" and sources[0].source_type == "HTTP API"
    queries = [r.query for r in workspace.requests]
    assert len(queries) == 3
    assert queries[0] == "pagination.count=2"
    assert queries[1].startswith("pagination.count=2&pagination.cursor=")
    assert not sources_hide_write_keys(sources)


def test_the_fake_paginates_in_the_official_sdks_spelling_too(workspace):
    def page(query):
        request = client.raw_public_request(
            method="GET",
            path="/sources",
            headers={},
            query=query,
            body=None,
            token=TOKEN,
            region="us",
        )
        return client.send(request).json()["data"]

    ids, cursor, pages = [], None, 0
    while True:
        query = [("pagination[count]", "2")] + ([("pagination[cursor]", cursor)] if cursor else [])
        data = page(query)
        pages += 1
        ids += [s["id"] for s in data["sources"]]
        cursor = data["pagination"]["next"]
        if cursor is None:
            break
    assert pages == 3
    assert ids == [f"src_{i}" for i in range(5)]
    assert data["pagination"]["totalEntries"] == 5


def test_a_token_without_source_admin_gets_sources_without_write_keys(fake_segment):
    fake_segment.add_workspace(TOKEN, source_admin=False)
    fake_segment.add_source(id="src_a", token=TOKEN, write_keys=["hidden"])
    sources = client.list_sources(token=TOKEN, region="us", transport=client.send)
    assert [s.write_keys for s in sources] == [()]
    assert sources_hide_write_keys(sources)
    assert "Source Admin" in client.WRITE_KEYS_HIDDEN


def test_no_sources_is_not_taken_for_hidden_write_keys():
    assert not sources_hide_write_keys([])
    assert not sources_hide_write_keys(ApiError("network", "x", None))
    assert sources_hide_write_keys([Source(id="a", slug="a", name="a", enabled=True)])


def test_one_source_by_id(workspace):
    source = client.get_source(token=TOKEN, region="us", source_id="src_3", transport=client.send)
    assert (source.id, source.name, source.write_keys) == ("src_3", "Source 3", ("key_3",))
    missing = client.get_source(token=TOKEN, region="us", source_id="nope", transport=client.send)
    assert (missing.kind, missing.status) == ("not_found", 404)
    assert (
        client.get_source(token=TOKEN, region="us", source_id=" ", transport=client.send).kind
        == "invalid_request"
    )


def test_a_wrong_token_is_a_readable_error_without_the_token(workspace):
    error = client.get_workspace(token="wrong-token-value", region="us", transport=client.send)
    assert (error.kind, error.status) == ("unauthorized", 401)
    assert "refused the Public API token" in error.message
    assert "wrong-token-value" not in error.message
    assert (
        client.list_sources(token="wrong-token-value", region="us", transport=client.send).kind
        == "unauthorized"
    )


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"status": 429, "retry_after": 30}, "rate_limited"),
        ({"status": 500}, "server_error"),
        ({"status": 422}, "request_failed"),
        ({"status": 200, "body": "not json"}, "invalid_response"),
        ({"status": 302}, "invalid_response"),
        ({"drop": True}, "network"),
    ],
)
def test_public_api_failures_become_readable_errors(workspace, fault, kind):
    workspace.queue_faults([fault, fault])
    error = client.list_sources(token=TOKEN, region="us", transport=client.send)
    assert isinstance(error, ApiError)
    assert error.kind == kind
    assert error.message and TOKEN not in error.message


def test_a_rate_limit_error_says_when_to_try_again(workspace):
    workspace.queue_faults([{"status": 429, "retry_after": 30}])
    error = client.get_workspace(token=TOKEN, region="us", transport=client.send)
    assert error.message == "Segment is limiting the request rate: try again in 30 s."


@responses.activate
def test_a_cursor_that_repeats_does_not_loop_forever():
    page = {"data": {"sources": [], "pagination": {"next": "MA=="}}}
    responses.get("https://api.segmentapis.com/sources", json=page)
    error = client.list_sources(token=TOKEN, region="us", transport=client.send)
    assert error.kind == "invalid_response"
    assert len(responses.calls) == 2


def test_each_page_goes_through_the_transport_given(workspace):
    seen = []

    def transport(request):
        seen.append(request.call_type)
        return client.send(request)

    client.list_sources(token=TOKEN, region="us", page_size=2, transport=transport)
    client.get_workspace(token=TOKEN, region="us", transport=transport)
    assert seen == ["public:list_sources"] * 3 + ["public:get_workspace"]


# --- Profile API ----------------------------------------------------------------------------


@pytest.fixture
def space(fake_segment):
    fake_segment.add_profile(
        space_id=SPACE,
        token=SPACE_TOKEN,
        user_id="u+1@example.com",
        traits={"first_name": "Bob", "emails_opened": 33},
    )
    return fake_segment


def traits(identifier, identifier_type="user_id", token=SPACE_TOKEN, **kwargs):
    return client.get_profile_traits(
        space_id=SPACE,
        token=token,
        region="us",
        identifier_type=identifier_type,
        identifier=identifier,
        **kwargs,
        transport=client.send,
    )


def test_a_users_current_traits_with_the_identifier_url_encoded(space):
    assert traits("u+1@example.com") == {"first_name": "Bob", "emails_opened": 33}
    request = space.requests[-1]
    assert request.path.endswith("/profiles/user_id:u%2B1%40example.com/traits")
    assert request.headers["Authorization"] == (
        "Basic " + base64.b64encode(f"{SPACE_TOKEN}:".encode()).decode()
    )


def test_traits_are_followed_across_pages(fake_segment):
    many = {f"trait_{i:03}": i for i in range(450)}
    fake_segment.add_profile(space_id=SPACE, token=SPACE_TOKEN, anonymous_id="a1", traits=many)
    assert traits("a1", "anonymous_id") == many
    assert len(fake_segment.requests) == 3
    assert "next=" in fake_segment.requests[1].query


def test_no_profile_yet_for_a_404(space):
    error = traits("someone-else")
    assert (error.kind, error.status) == ("no_profile", 404)
    assert error.message.startswith("No profile yet")


def test_a_wrong_profile_token_is_unauthorized(space):
    error = traits("u+1@example.com", token="wrong")
    assert (error.kind, error.status) == ("unauthorized", 401)
    assert "Profile API access token" in error.message


def test_an_empty_identifier_is_a_clear_error_before_any_request(space):
    assert traits("  ").kind == "invalid_request"
    assert space.requests == []


def test_only_user_ids_anonymous_ids_and_emails_can_be_looked_up():
    with pytest.raises(ValueError, match="identifier_type"):
        traits("x", "phone")


def test_a_users_traits_by_their_email_external_id(space):
    # The fake resolves email:... to the profile an Identify with that email trait made.
    space.add_profile(
        space_id=SPACE,
        token=SPACE_TOKEN,
        user_id="u-9",
        email="nina@example.com",
        traits={"email": "nina@example.com", "plan": "pro"},
    )
    assert traits("nina@example.com", "email") == {"email": "nina@example.com", "plan": "pro"}
    request = client.profile_traits_request(
        space_id=SPACE,
        token=SPACE_TOKEN,
        region="us",
        identifier_type="email",
        identifier="nina@example.com",
    )
    assert "/profiles/email:nina%40example.com/traits" in request.url
