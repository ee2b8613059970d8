"""The Sources pages: list, add, edit, delete, with a write-only write key and audit entries."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.credentials.models import Source, Workspace
from tests.credentials.conftest import WRITE_KEY, assert_no_secret, credential_events

pytestmark = pytest.mark.django_db


def _post_new(client: Client, **fields: object) -> object:
    data: dict[str, object] = {
        "name": "Web",
        "region": "us",
        "write_key": WRITE_KEY,
        "enabled": "on",
    }
    data.update(fields)
    return client.post(reverse("credentials:source_add"), data)


def test_admin_adds_a_source_and_only_its_encrypted_write_key_is_stored(
    admin_client: Client, workspace: Workspace
) -> None:
    response = _post_new(admin_client, workspace=workspace.pk)
    assert response.status_code == 302
    source = Source.objects.get()
    assert source.workspace == workspace
    assert source.enabled
    assert WRITE_KEY not in source.write_key_encrypted
    assert source.write_key() == WRITE_KEY
    [event] = credential_events("credential.created")
    assert (event.target_type, event.target_name) == ("source", "Web")
    assert event.details_data == {
        "region": "us",
        "workspace": "Acme",
        "enabled": True,
        "production": False,
    }


def test_the_write_key_is_required_when_adding_a_source(admin_client: Client) -> None:
    response = _post_new(admin_client, write_key="")
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert not Source.objects.exists()


def test_a_source_must_be_in_its_workspaces_region(
    admin_client: Client, workspace: Workspace
) -> None:
    response = _post_new(admin_client, workspace=workspace.pk, region="eu")
    assert response.status_code == 200
    assert "The workspace “Acme” is in the US region; its sources must be too." in response.text
    assert not Source.objects.exists()
    assert_no_secret(response.text)


def test_the_edit_form_never_renders_the_write_key_back(
    admin_client: Client, source: Source
) -> None:
    response = admin_client.get(reverse("credentials:source_edit", args=[source.pk]))
    assert response.status_code == 200
    assert f"Leave blank to keep the stored value (shown as ••••{WRITE_KEY[-4:]})." in response.text
    assert_no_secret(response.text)
    assert source.write_key_encrypted not in response.text


def test_a_blank_write_key_on_edit_keeps_the_stored_one(
    admin_client: Client, source: Source
) -> None:
    before = source.write_key_encrypted
    response = admin_client.post(
        reverse("credentials:source_edit", args=[source.pk]),
        {"name": "Web", "region": "us", "workspace": source.workspace_id, "write_key": ""},
    )
    assert response.status_code == 302
    source.refresh_from_db()
    assert not source.enabled
    assert source.write_key_encrypted == before
    assert source.write_key() == WRITE_KEY
    [event] = credential_events("credential.changed")
    assert event.details_data == {"changed": ["Enabled"]}


def test_a_new_write_key_replaces_the_old_one(admin_client: Client, source: Source) -> None:
    new_key = "NEWwriteKEY0123456789abcdefXYZ"
    admin_client.post(
        reverse("credentials:source_edit", args=[source.pk]),
        {
            "name": "Web",
            "region": "us",
            "workspace": source.workspace_id,
            "write_key": new_key,
            "enabled": "on",
        },
    )
    source.refresh_from_db()
    assert source.write_key() == new_key
    assert source.write_key_hint == new_key[-4:]
    [event] = credential_events("credential.changed")
    assert event.details_data == {"changed": ["Write key"]}
    assert_no_secret(event.details, new_key)


def test_deleting_a_source_asks_first_and_records_it(admin_client: Client, source: Source) -> None:
    url = reverse("credentials:source_delete", args=[source.pk])
    page = admin_client.get(url)
    assert "Delete the source “Web”?" in page.text
    assert Source.objects.exists()
    response = admin_client.post(url)
    assert response.status_code == 302
    assert not Source.objects.exists()
    [event] = credential_events("credential.deleted")
    assert (event.target_type, event.target_name, event.target_id) == (
        "source",
        "Web",
        str(source.pk),
    )
    assert event.details_data == {"region": "us", "workspace": "Acme", "segment_source_id": None}


def test_the_source_list_shows_region_workspace_enabled_and_the_mask(
    admin_client: Client, source: Source
) -> None:
    Source.objects.create(name="Old app", region="eu", enabled=False, write_key_encrypted="")
    response = admin_client.get(reverse("credentials:source_list"))
    assert response.status_code == 200
    text = response.text
    for expected in ("Web", "US", "Acme", "Enabled", "Old app", "EU", "Disabled"):
        assert expected in text
    assert f"••••{WRITE_KEY[-4:]}" in text
    assert_no_secret(text)


def test_the_source_list_takes_the_same_number_of_queries_for_many_rows(
    admin_client: Client, workspace: Workspace, django_assert_num_queries: object
) -> None:
    for number in range(25):
        src = Source(name=f"Source {number}", workspace=workspace)
        src.set_write_key(WRITE_KEY)
        src.save()
    admin_client.get(reverse("credentials:source_list"))
    # session, user, the person (permissions, the nav role and source limits: one query), the
    # sources joined with their workspaces
    with django_assert_num_queries(4):  # type: ignore[operator]
        admin_client.get(reverse("credentials:source_list"))


def test_a_nonexistent_source_is_a_404_not_a_crash(admin_client: Client) -> None:
    assert admin_client.get(reverse("credentials:source_edit", args=[999])).status_code == 404
