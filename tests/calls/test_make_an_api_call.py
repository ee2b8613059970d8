"""Make an API call: Admins only, only to the configured base, the answer shown whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from segadmin.audit.models import AuditEntry
from segadmin.calls.forms import GROUP_EXAMPLE
from segadmin.credentials.models import Source, Workspace
from tests.calls.conftest import TOKEN, WRITE_KEY, errors_of

pytestmark = pytest.mark.django_db


def api_data(source: Source | None = None, workspace: Workspace | None = None, **fields: Any):
    data: dict[str, Any] = {
        "api": "public" if workspace else "tracking",
        "method": "POST",
        "url": "/v1/group",
        "body": "",
        "headers__mode": "rows",
        "query__mode": "rows",
        "action": "preview",
    }
    if source:
        data["source"] = str(source.pk)
    if workspace:
        data["workspace"] = str(workspace.pk)
    data.update(fields)
    return data


def test_the_group_example_from_the_make_documentation_works(
    admin_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    page = admin_client.get("/calls/api/?example=group").content.decode()
    assert 'value="/v1/group"' in page
    data = api_data(source, body=GROUP_EXAMPLE["body"], action="send")
    response = admin_client.post("/calls/api/", data)
    assert response.status_code == 200, errors_of(response)
    panel = response.context["panel"]
    assert panel["status"] == 200
    (message,) = fake_segment.messages()
    assert message["groupId"] == "8e9df332ac"
    assert message["traits"] == {
        "name": "Example Inc.",
        "industry": "Technology",
        "employees": "420",
    }
    html = response.content.decode()
    assert "Response headers" in html
    assert "&quot;success&quot;: true" in html  # the body, pretty-printed
    assert AuditEntry.objects.filter(pk=panel["entry_id"]).exists()
    assert WRITE_KEY not in html


def test_a_public_api_call_uses_the_workspace_token_and_shows_the_whole_answer(
    admin_client: Client, workspace: Workspace, fake_segment: Any
) -> None:
    fake_segment.add_workspace(TOKEN)
    data = api_data(workspace=workspace, method="GET", url="/sources", action="send")
    data.update({"query__mode": "json", "query__json": json.dumps({"pagination.count": "2"})})
    response = admin_client.post("/calls/api/", data)
    panel = response.context["panel"]
    assert panel["status"] == 200
    assert panel["body_is_json"]
    assert json.loads(panel["body"])["data"]["sources"] == []
    request = fake_segment.requests[-1]
    assert request.path == "/sources"
    assert "pagination.count=2" in request.query
    assert request.headers.get("Authorization") == f"Bearer {TOKEN}"
    assert TOKEN not in response.content.decode()


def test_the_preview_shows_the_request_with_the_credential_masked(
    admin_client: Client, workspace: Workspace, fake_segment: Any
) -> None:
    data = api_data(workspace=workspace, method="GET", url="/sources")
    html = admin_client.post("/calls/api/", data).content.decode()
    assert "Bearer ****" in html
    assert "Authorization: Bearer $SEGMENT_TOKEN" in html
    assert fake_segment.requests == []


REFUSED_URLS = [
    ("https://evil.example/v1/track", "not a full URL"),
    ("//evil.example/v1/track", "not a full URL"),
    ("/v1/../../admin", "'..'"),
    ("/v1/%2e%2e/admin", "'..'"),
    ("/v1/track@evil.example", "cannot contain @"),
    ("/v1\\track", "backslashes"),
    ("/v1/track\x00", "Null characters are not allowed."),
    ("/v1/track\r\nHost: evil", "control characters"),
    ("v1/track", "must start with /"),
    ("/v1/track?x=1", "Query String"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED_URLS)
@pytest.mark.parametrize("action", ["preview", "send"])
def test_a_url_that_could_leave_the_configured_base_is_refused(
    url: str, message: str, action: str, admin_client: Client, source: Source, fake_segment: Any
) -> None:
    response = admin_client.post("/calls/api/", api_data(source, url=url, action=action))
    assert response.status_code == 422
    assert message in " ".join(errors_of(response)["url"])
    assert fake_segment.requests == []
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Basic abc"}, "Remove the Authorization header"),
        ({"authorization": "Bearer x"}, "Remove the Authorization header"),
        ({"X-Test": "a\r\nX-Injected: 1"}, "line break"),
        ({"Bad Name": "x"}, "is not a valid header name"),
        ({"Host": "evil.example"}, "set automatically"),
    ],
)
def test_unsafe_headers_are_refused(
    headers: dict[str, str], message: str, admin_client: Client, source: Source, fake_segment: Any
) -> None:
    data = api_data(source, action="send")
    data.update({"headers__mode": "json", "headers__json": json.dumps(headers)})
    response = admin_client.post("/calls/api/", data)
    assert response.status_code == 422
    assert message in " ".join(errors_of(response)["headers"])
    assert fake_segment.requests == []


def test_a_json_body_that_does_not_parse_says_where(admin_client: Client, source: Source) -> None:
    body = '{"userId": "u",\n  "x": }'
    response = admin_client.post("/calls/api/", api_data(source, body=body))
    assert errors_of(response)["body"] == [
        "The Body is not valid JSON: Expecting value at line 2, column 8."
    ]


def test_the_chosen_api_needs_its_credential(admin_client: Client) -> None:
    response = admin_client.post("/calls/api/", api_data())
    assert errors_of(response)["source"] == ["Choose the source whose write key signs the request."]
    response = admin_client.post("/calls/api/", {**api_data(), "api": "public"})
    assert errors_of(response)["workspace"] == [
        "Choose the workspace whose token signs the request."
    ]
