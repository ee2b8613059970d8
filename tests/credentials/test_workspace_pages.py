"""The Workspaces pages: list, add, edit, delete, with write-only secrets and audit entries."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.credentials.models import Source, Workspace
from tests.credentials.conftest import PROFILES_TOKEN, TOKEN, assert_no_secret, credential_events

pytestmark = pytest.mark.django_db


def _post_new(client: Client, **fields: str) -> object:
    data = {"name": "Acme", "region": "us", "token": TOKEN, "profiles_space_id": ""}
    data.update(fields)
    return client.post(reverse("credentials:workspace_add"), data)


def test_admin_adds_a_workspace_and_only_its_encrypted_token_is_stored(
    admin_client: Client,
) -> None:
    response = _post_new(admin_client)
    workspace = Workspace.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("credentials:workspace_detail", args=[workspace.pk])
    assert workspace.token_encrypted != TOKEN
    assert TOKEN not in workspace.token_encrypted
    assert workspace.public_api_token() == TOKEN
    assert workspace.token_hint == TOKEN[-4:]
    [event] = credential_events("credential.created")
    assert event.target_name == "Acme"
    assert event.details_data == {"region": "us", "profile_api": False}


def test_the_token_is_required_when_adding_a_workspace(admin_client: Client) -> None:
    response = _post_new(admin_client, token="")
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert not Workspace.objects.exists()
    assert credential_events() == []


def test_a_token_with_a_line_break_is_refused_with_a_clear_message(admin_client: Client) -> None:
    response = _post_new(admin_client, token="abc\r\nX-Evil: 1")
    assert response.status_code == 200
    assert "cannot contain spaces, line breaks or control characters" in response.text
    assert not Workspace.objects.exists()


def test_the_edit_form_never_renders_the_token_back_only_its_mask(
    admin_client: Client, workspace: Workspace
) -> None:
    workspace.set_profiles_token(PROFILES_TOKEN)
    workspace.profiles_space_id = "spa_1"
    workspace.save()
    response = admin_client.get(reverse("credentials:workspace_edit", args=[workspace.pk]))
    assert response.status_code == 200
    assert f"••••{TOKEN[-4:]}" in response.text
    assert f"••••{PROFILES_TOKEN[-4:]}" in response.text
    assert 'type="password"' in response.text
    assert_no_secret(response.text)
    assert workspace.token_encrypted not in response.text


def test_a_blank_token_on_edit_keeps_the_stored_one(
    admin_client: Client, workspace: Workspace
) -> None:
    before = workspace.token_encrypted
    response = admin_client.post(
        reverse("credentials:workspace_edit", args=[workspace.pk]),
        {"name": "Acme Inc", "region": "us", "token": "", "profiles_space_id": ""},
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.name == "Acme Inc"
    assert workspace.token_encrypted == before
    assert workspace.public_api_token() == TOKEN
    [event] = credential_events("credential.changed")
    assert event.details_data == {"changed": ["Name"]}


def test_a_new_token_on_edit_replaces_it_and_the_audit_names_the_field_not_the_value(
    admin_client: Client, workspace: Workspace
) -> None:
    new_token = "sgp_SECONDtokenZyXwVuTsRqPoNmLkJi9876"
    admin_client.post(
        reverse("credentials:workspace_edit", args=[workspace.pk]),
        {"name": "Acme", "region": "us", "token": new_token, "profiles_space_id": ""},
    )
    workspace.refresh_from_db()
    assert workspace.public_api_token() == new_token
    [event] = credential_events("credential.changed")
    assert event.details_data == {"changed": ["Public API token"]}
    assert_no_secret(event.details, new_token)


def test_saving_an_unchanged_workspace_records_nothing(
    admin_client: Client, workspace: Workspace
) -> None:
    response = admin_client.post(
        reverse("credentials:workspace_edit", args=[workspace.pk]),
        {"name": "Acme", "region": "us", "token": "", "profiles_space_id": ""},
        follow=True,
    )
    assert "Nothing changed." in response.text
    assert credential_events() == []


def test_a_profile_api_token_needs_its_space_id(admin_client: Client) -> None:
    response = _post_new(admin_client, profiles_token=PROFILES_TOKEN)
    assert response.status_code == 200
    assert "The Profile API token needs the space ID it belongs to." in response.text
    assert_no_secret(response.text)


def test_a_space_id_needs_a_profile_api_token(admin_client: Client) -> None:
    response = _post_new(admin_client, profiles_space_id="spa_1")
    assert "The Profile API needs an access token too." in response.text


def test_the_profile_api_token_can_be_set_and_removed(
    admin_client: Client, workspace: Workspace
) -> None:
    url = reverse("credentials:workspace_edit", args=[workspace.pk])
    admin_client.post(
        url,
        {
            "name": "Acme",
            "region": "us",
            "profiles_space_id": "spa_1",
            "profiles_token": PROFILES_TOKEN,
        },
    )
    workspace.refresh_from_db()
    assert workspace.has_profiles_api
    assert workspace.profiles_token() == PROFILES_TOKEN
    admin_client.post(
        url,
        {"name": "Acme", "region": "us", "profiles_space_id": "", "remove_profiles_token": "on"},
    )
    workspace.refresh_from_db()
    assert workspace.profiles_token() is None
    assert not workspace.has_profiles_api
    changes = [event.details_data["changed"] for event in credential_events("credential.changed")]
    assert changes == [
        ["Profile API space ID", "Profile API token"],
        ["Profile API space ID", "Profile API token removed"],
    ]


def test_deleting_a_workspace_asks_first_then_keeps_its_sources(
    admin_client: Client, source: Source
) -> None:
    workspace = source.workspace
    assert workspace is not None
    url = reverse("credentials:workspace_delete", args=[workspace.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "Delete the workspace “Acme”?" in page.text
    assert "Its 1 source will stay, without a workspace." in page.text
    assert Workspace.objects.exists()

    response = admin_client.post(url)
    assert response.status_code == 302
    assert not Workspace.objects.exists()
    source.refresh_from_db()
    assert source.workspace is None
    [event] = credential_events("credential.deleted")
    assert event.target_name == "Acme"
    assert event.details_data == {"region": "us", "sources_detached": 1}


def test_the_workspace_list_shows_masks_and_never_the_token(
    admin_client: Client, workspace: Workspace
) -> None:
    response = admin_client.get(reverse("credentials:workspace_list"))
    assert response.status_code == 200
    assert "Acme" in response.text
    assert f"••••{TOKEN[-4:]}" in response.text
    assert_no_secret(response.text)


def test_the_workspace_list_takes_the_same_number_of_queries_for_many_rows(
    admin_client: Client, django_assert_num_queries: object
) -> None:
    for number in range(20):
        ws = Workspace(name=f"Workspace {number}")
        ws.set_public_api_token(TOKEN)
        ws.save()
        Source.objects.create(name=f"S{number}", workspace=ws, write_key_encrypted="x")
    admin_client.get(reverse("credentials:workspace_list"))  # warm the session and permissions
    # session, user, the person (permissions, the nav role and source limits: one query), the
    # workspaces with their source counts
    with django_assert_num_queries(4):  # type: ignore[operator]
        admin_client.get(reverse("credentials:workspace_list"))


def test_a_workspace_cannot_leave_its_sources_in_another_region(
    admin_client: Client, source: Source
) -> None:
    workspace = source.workspace
    assert workspace is not None
    response = admin_client.post(
        reverse("credentials:workspace_edit", args=[workspace.pk]),
        {"name": "Acme", "region": "eu", "token": "", "profiles_space_id": ""},
    )
    assert response.status_code == 200
    assert "This workspace has 1 source in the US region" in response.text
    workspace.refresh_from_db()
    assert workspace.region == "us"


def test_the_import_page_lists_the_sources_as_it_opens_so_importing_is_two_presses(
    admin_client: Client, workspace: Workspace
) -> None:
    """Import sources (one press) opens the page, which asks for the list by itself with a
    POST (htmx, on load); Import the chosen sources is the second press. Without scripts the
    list button stays."""
    html = admin_client.get(reverse("credentials:workspace_import", args=[workspace.pk]))
    page = html.content.decode()
    assert 'hx-trigger="load, submit"' in page
    assert 'name="action" value="list"' in page
    assert "List the sources in Segment" in page
    # The GET itself asked Segment nothing (nothing on the record).
    from segadmin.audit.models import AuditEntry

    assert not AuditEntry.objects.filter(kind="request").exists()
