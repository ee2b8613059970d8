"""Test connection: which workspace the token opens, or Segment's error in plain words."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Workspace
from tests.credentials.conftest import (
    SEGMENT_WORKSPACE,
    PublicApi,
    assert_no_secret,
    credential_events,
)

pytestmark = pytest.mark.django_db


def _test(client: Client, workspace: Workspace, **headers: str) -> object:
    return client.post(reverse("credentials:workspace_test", args=[workspace.pk]), **headers)


def test_it_says_which_workspace_the_token_opens_and_remembers_it(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    response = _test(admin_client, workspace)
    assert response.status_code == 200
    assert "This token opens workspace “Acme” (acme)." in response.text
    workspace.refresh_from_db()
    assert workspace.segment_workspace_id == SEGMENT_WORKSPACE["id"]
    assert workspace.slug == "acme"
    [event] = credential_events("credential.changed")
    assert event.details_data == {
        "changed": ["Segment workspace ID", "Slug"],
        "by": "Test connection",
    }


def test_with_htmx_it_answers_only_the_result_fragment(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    response = _test(admin_client, workspace, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "This token opens workspace “Acme” (acme)." in response.text
    assert "<html" not in response.text
    assert 'data-testid="connection-result"' in response.text
    # The "Segment workspace" line of the page is refreshed out of band.
    assert 'id="segment-workspace" hx-swap-oob="true">acme' in response.text


def test_the_request_is_in_the_audit_log_without_the_token(
    admin_client: Client, admin_user: object, workspace: Workspace, public_api: PublicApi
) -> None:
    _test(admin_client, workspace)
    request = AuditEntry.objects.get(kind="request")
    assert request.api == "public"
    assert request.method == "GET"
    assert request.url == f"{public_api.fake.url}/"
    assert request.workspace_id == workspace.pk
    assert request.username == "ada"
    assert request.outcome == "sent"
    assert request.response_status == 200
    assert request.request_headers_data["Authorization"] == "Bearer ****"
    assert_no_secret(request.request_headers + str(request.request_body_data))


def test_a_second_test_with_the_same_answer_changes_nothing(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    _test(admin_client, workspace)
    _test(admin_client, workspace)
    assert len(credential_events("credential.changed")) == 1
    assert AuditEntry.objects.filter(kind="request").count() == 2


def test_a_refused_token_is_explained_in_plain_words(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    public_api.forget_token()
    response = _test(admin_client, workspace)
    assert response.status_code == 200
    assert 'class="alert alert-danger' in response.text
    assert "Segment refused the Public API token" in response.text
    assert "this workspace is set to US" in response.text
    assert_no_secret(response.text)
    workspace.refresh_from_db()
    assert workspace.segment_workspace_id == ""
    request = AuditEntry.objects.get(kind="request")
    assert request.outcome == "rejected"
    assert request.response_status == 401


def test_when_segment_cannot_be_reached_it_says_so(
    admin_client: Client, workspace: Workspace, settings: object
) -> None:
    # Nothing listens on this loopback port: a real "connection refused".
    settings.SEGMENT_PUBLIC_API_URL = "http://127.0.0.1:9"  # type: ignore[attr-defined]
    response = _test(admin_client, workspace)
    assert response.status_code == 200
    assert 'class="alert alert-danger' in response.text
    assert "refused" in response.text.lower()
    request = AuditEntry.objects.get(kind="request")
    assert request.outcome == "failed"
    assert_no_secret(response.text)


def test_the_token_is_never_in_the_page_or_the_logs(
    admin_client: Client,
    workspace: Workspace,
    public_api: PublicApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    response = _test(admin_client, workspace)
    assert_no_secret(response.text)
    assert_no_secret(caplog.text)


def test_segments_error_quoting_the_token_in_any_encoding_is_shown_masked(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    import base64
    import json

    from tests.credentials.conftest import TOKEN

    quoted = f"{TOKEN.encode().hex()} {base64.b64encode(TOKEN.encode()).decode()}"
    body = {"errors": [{"type": "Unauthorized", "message": f"Unknown token {quoted}"}]}
    public_api.fake.queue_faults([{"status": 401, "body": json.dumps(body)}])
    response = _test(admin_client, workspace)
    assert "Segment said: Unknown token **** ****" in response.text
    assert_no_secret(response.text)
    outcome = AuditEntry.objects.get(kind="outcome")
    assert_no_secret(outcome.response_body_text() + outcome.response_headers)


def test_a_workspace_named_after_its_token_is_shown_masked(
    admin_client: Client, workspace: Workspace, fake_segment: object
) -> None:
    from tests.credentials.conftest import TOKEN

    fake_segment.add_workspace(TOKEN, slug="acme", name=f"Acme {TOKEN}")  # type: ignore[attr-defined]
    response = _test(admin_client, workspace)
    assert "This token opens workspace “Acme ****” (acme)." in response.text
    assert_no_secret(response.text)
