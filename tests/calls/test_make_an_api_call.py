"""Make an API call: Admins only, only to the configured base, the answer shown whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from segadmin.audit.models import AuditEntry
from segadmin.calls.forms import GROUP_EXAMPLE
from segadmin.credentials.models import Source, Workspace
from tests.calls.conftest import WRITE_KEY, errors_of, submitted_form
from tests.calls.plan_fixtures import connect, shop_plan
from tests.conftest import TOKEN
from tests.factories import make_source

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


# --- Segment's answers never show a secret (issue 11) ----------------------------------------

LISTED_KEYS = ("wkLISTEDfirstAbCdEfGh0123456789", "wkLISTEDsecondIjKlMnOp9876543210")


def encoded_forms(secret: str) -> list[str]:
    """A secret and every reversible encoding it could be shown or stored in."""
    import base64
    import binascii
    from urllib.parse import quote

    forms = {secret, quote(secret, safe=""), binascii.hexlify(secret.encode()).decode()}
    for raw in (secret.encode(), f"{secret}:".encode()):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.update({encode(raw).decode(), encode(raw).decode().rstrip("=")})
    return sorted(forms)


def leaked(text: str, *secrets: str) -> list[str]:
    return [form[:8] for secret in secrets for form in encoded_forms(secret) if form in text]


def stored_text(entry_id: int) -> str:
    """Every field of a request's audit entry and of its outcome row, as stored."""
    entry = AuditEntry.objects.get(pk=entry_id)
    outcome = AuditEntry.objects.get(request_entry=entry)
    return " ".join(
        [
            entry.url,
            entry.request_headers,
            json.dumps(entry.request_body_data),
            outcome.response_headers,
            outcome.response_body_text(),
            outcome.error,
        ]
    )


def list_sources(admin_client: Client, workspace: Workspace) -> Any:
    data = api_data(workspace=workspace, method="GET", url="/sources", action="send")
    return admin_client.post("/calls/api/", data)


def test_get_sources_shows_the_write_keys_segment_lists_only_as_masks(
    admin_client: Client, workspace: Workspace, fake_segment: Any
) -> None:
    fake_segment.add_workspace(TOKEN)
    fake_segment.add_source(token=TOKEN, slug="web", write_keys=[LISTED_KEYS[0]])
    fake_segment.add_source(token=TOKEN, slug="app", write_keys=[LISTED_KEYS[1]])
    response = list_sources(admin_client, workspace)
    assert response.status_code == 200, errors_of(response)
    html = response.content.decode()
    panel = response.context["panel"]
    sources = json.loads(panel["body"])["data"]["sources"]
    assert [source["slug"] for source in sources] == ["web", "app"]
    assert [source["writeKeys"] for source in sources] == [["****"], ["****"]]
    assert leaked(html, *LISTED_KEYS, TOKEN) == []
    assert leaked(stored_text(panel["entry_id"]), *LISTED_KEYS, TOKEN) == []


def test_the_result_panel_shows_the_answer_the_audit_log_stores(
    admin_client: Client, workspace: Workspace, fake_segment: Any
) -> None:
    fake_segment.add_workspace(TOKEN)
    fake_segment.add_source(token=TOKEN, slug="web", write_keys=[LISTED_KEYS[0]])
    panel = list_sources(admin_client, workspace).context["panel"]
    outcome = AuditEntry.objects.get(request_entry_id=panel["entry_id"])
    assert json.loads(panel["body"]) == json.loads(outcome.response_body_text())
    assert dict(panel["headers"]) == outcome.response_headers_data


def test_a_successful_get_says_segment_answered_200_not_sent(
    admin_client: Client, workspace: Workspace, fake_segment: Any
) -> None:
    fake_segment.add_workspace(TOKEN)
    response = list_sources(admin_client, workspace)
    assert response.context["panel"]["verdict"] == "Segment answered 200."
    html = response.content.decode()
    assert "Segment answered 200." in html
    assert "Sent:" not in html
    assert "“Sent” means" not in html


def test_a_refused_get_says_what_segment_answered(
    admin_client: Client, workspace: Workspace, fake_segment: Any
) -> None:
    fake_segment.add_workspace("sgp_someOtherWorkspaceToken0123456789")
    verdict = list_sources(admin_client, workspace).context["panel"]["verdict"]
    assert verdict == "Segment answered 401: it refused the request."


def test_a_send_to_the_tracking_api_still_says_sent(
    admin_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    data = api_data(source, body=GROUP_EXAMPLE["body"], action="send")
    response = admin_client.post("/calls/api/", data)
    assert response.context["panel"]["verdict"] == "Sent: Segment accepted the request."
    assert "delivered" not in response.content.decode().lower()


def test_response_headers_named_like_secrets_are_masked_on_the_page_and_in_the_audit_log(
    admin_client: Client, workspace: Workspace, fake_segment: Any
) -> None:
    fake_segment.add_workspace(TOKEN)
    answer_token = "tokFROMsegmentAbCdEfGh0123456789"
    fake_segment.queue_faults(
        [
            {
                "status": 200,
                "body": '{"data": {}}',
                "headers": {
                    "X-Api-Token": answer_token,
                    "Set-Cookie": f"session={answer_token}; HttpOnly",
                    "X-Request-Id": "req-42",
                },
            }
        ]
    )
    response = list_sources(admin_client, workspace)
    panel = response.context["panel"]
    headers = dict(panel["headers"])
    assert headers["X-Api-Token"] == "****"
    assert headers["Set-Cookie"] == "****"
    assert headers["X-Request-Id"] == "req-42"
    assert leaked(response.content.decode(), answer_token) == []
    assert leaked(stored_text(panel["entry_id"]), answer_token) == []


def test_an_answer_that_echoes_the_token_shows_it_masked(
    admin_client: Client, workspace: Workspace, fake_segment: Any
) -> None:
    import base64

    fake_segment.add_workspace(TOKEN)
    echoed = f"{TOKEN} {base64.b64encode(TOKEN.encode()).decode()} {TOKEN.encode().hex()}"
    fake_segment.queue_faults([{"status": 400, "body": echoed}])
    response = list_sources(admin_client, workspace)
    panel = response.context["panel"]
    assert panel["body"] == "**** **** ****"
    assert leaked(response.content.decode(), TOKEN) == []
    assert leaked(stored_text(panel["entry_id"]), TOKEN) == []


def _track_body(**properties: Any) -> str:
    return json.dumps({"userId": "u-1", "event": "Order Completed", "properties": properties})


def test_a_tracking_body_for_a_source_with_a_plan_shows_its_plan_findings_as_warnings_and_is_sent(
    admin_client: Client, source: Source, workspace: Workspace, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    connect(source, shop_plan(workspace))  # Block: the call screens would refuse this body
    body = _track_body(total="twenty")
    response = admin_client.post(
        "/calls/api/", api_data(source, url="/v1/track", body=body, action="send")
    )
    assert response.status_code == 200, errors_of(response)
    warnings = {(w.field, w.message) for w in response.context["form"].warnings}
    assert ("properties.total", "total must be a number") in warnings
    assert any(
        field == "properties.order_id" and "required by the tracking plan “Shop plan”" in message
        for field, message in warnings
    )
    html = response.content.decode()
    assert 'data-testid="rule-warnings"' in html
    assert "total must be a number" in html
    (received,) = fake_segment.messages("/v1/track")  # sent as typed: this screen is raw
    assert received["properties"] == {"total": "twenty"}


def test_a_batch_body_names_each_items_plan_findings_by_its_index(
    admin_client: Client, source: Source, workspace: Workspace
) -> None:
    connect(source, shop_plan(workspace), unplanned_events="warn")
    body = json.dumps(
        {
            "batch": [
                {
                    "type": "track",
                    "userId": "u-1",
                    "event": "Order Completed",
                    "properties": {"order_id": "o-1", "total": 3},
                },
                {"type": "track", "userId": "u-1", "event": "Order Complete"},
            ]
        }
    )
    response = admin_client.post("/calls/api/", api_data(source, url="/v1/batch", body=body))
    assert response.status_code == 200, errors_of(response)
    fields = [w.field for w in response.context["form"].warnings]
    assert any(field.startswith("batch[1]") for field in fields)
    assert not any(field.startswith("batch[0]") for field in fields)


def test_a_public_api_body_is_not_checked_against_a_tracking_plan(
    admin_client: Client, source: Source, workspace: Workspace
) -> None:
    connect(source, shop_plan(workspace))
    response = admin_client.post(
        "/calls/api/",
        api_data(workspace=workspace, url="/v1/track", body=_track_body(total="twenty")),
    )
    assert response.status_code == 200, errors_of(response)
    assert response.context["form"].warnings == []


def test_load_the_example_fills_the_source_so_sending_it_works_at_once(
    admin_client: Client, source: Source, fake_segment: Any
) -> None:
    """Issue 14: "Load the example" left the source empty, so Send failed at once."""
    fake_segment.add_write_key(WRITE_KEY)
    make_source("Zulu site", "wk_second_source_kept_last_0123456")
    page = admin_client.get("/calls/api/?example=group")
    data = submitted_form(page.content.decode(), "api-form")
    assert data["source"] == str(source.pk)  # the first source offered, by name
    response = admin_client.post("/calls/api/", {**data, "action": "send"})
    assert response.status_code == 200, errors_of(response)
    assert response.context["panel"]["status"] == 200
    (message,) = fake_segment.messages()
    assert message["groupId"] == "8e9df332ac"
    assert message["traits"]["name"] == "Example Inc."


def test_load_the_example_keeps_a_source_given_in_the_address(
    admin_client: Client, source: Source
) -> None:
    other = make_source("Another site", "wk_another_source_of_the_example_01")
    page = admin_client.get(f"/calls/api/?example=group&source={source.pk}")
    assert submitted_form(page.content.decode(), "api-form")["source"] == str(source.pk)
    page = admin_client.get(f"/calls/api/?example=group&source={other.pk}")
    assert submitted_form(page.content.decode(), "api-form")["source"] == str(other.pk)
