"""Import sources: every source of the workspace across all pages, new or already present."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Source, Workspace
from tests.credentials.conftest import (
    PublicApi,
    assert_no_secret,
    credential_events,
)

pytestmark = pytest.mark.django_db


def _import_url(workspace: Workspace) -> str:
    return reverse("credentials:workspace_import", args=[workspace.pk])


def test_it_lists_every_source_across_three_pages(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    public_api.add_sources(range(1, 6))  # 2 + 2 + 1
    response = admin_client.post(_import_url(workspace), {"action": "list"})
    assert response.status_code == 200
    sources_requests = [url for url in public_api.requests if "/sources" in url]
    assert len(sources_requests) == 3
    for number in range(1, 6):
        assert f"Site {number}" in response.text
        assert f'value="src{number:03d}"' in response.text
    assert "5 sources in Segment" in response.text
    assert AuditEntry.objects.filter(kind="request", call_type="public:list_sources").count() == 3
    for number in range(1, 6):
        assert_no_secret(response.text, f"writekey{number:03d}ABCDEFGHIJKLMNOP")


def test_sources_already_present_are_marked_and_cannot_be_chosen_again(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    public_api.add_sources([1, 2])
    Source.objects.create(name="Mine", segment_source_id="src001", write_key_encrypted="x")
    response = admin_client.post(_import_url(workspace), {"action": "list"})
    assert "already present" in response.text
    assert 'value="src001"' not in response.text
    assert 'value="src002"' in response.text
    assert ">new</span>" in response.text


def test_importing_the_chosen_sources_stores_them_with_their_write_keys(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    workspace.region = "eu"
    workspace.save()
    public_api.add_sources(range(1, 6))
    response = admin_client.post(
        _import_url(workspace),
        {"action": "import", "source_ids": ["src002", "src005"]},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("credentials:source_list")
    assert "Imported 2 sources from “Acme”: Site 2, Site 5." in response.text
    imported = {s.segment_source_id: s for s in Source.objects.all()}
    assert set(imported) == {"src002", "src005"}
    site5 = imported["src005"]
    assert site5.name == "Site 5"
    assert site5.slug == "site-5"
    assert site5.region == "eu"
    assert site5.workspace == workspace
    assert site5.enabled is False
    assert site5.write_key() == "writekey005ABCDEFGHIJKLMNOP"
    events = credential_events("credential.imported")
    assert [e.target_name for e in events] == ["Site 2", "Site 5"]
    assert events[0].details_data == {
        "workspace": "Acme",
        "workspace_id": workspace.pk,
        "segment_source_id": "src002",
        "region": "eu",
        "production": False,
    }
    assert_no_secret(response.text, "writekey002ABCDEFGHIJKLMNOP", "writekey005ABCDEFGHIJKLMNOP")


def test_importing_twice_does_not_duplicate_a_source(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    public_api.add_sources([1])
    data = {"action": "import", "source_ids": ["src001"]}
    admin_client.post(_import_url(workspace), data)
    response = admin_client.post(_import_url(workspace), data, follow=True)
    assert Source.objects.count() == 1
    assert "Not imported: Site 1 (already present)." in response.text
    assert len(credential_events("credential.imported")) == 1


def test_choosing_nothing_is_a_clear_message(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    public_api.add_sources([1])
    response = admin_client.post(_import_url(workspace), {"action": "import"})
    assert response.status_code == 200
    assert "Choose at least one source to import." in response.text
    assert not Source.objects.exists()


def test_a_token_without_source_admin_permission_gets_a_clear_message(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    public_api.add_sources(range(1, 4))
    public_api.hide_write_keys()
    response = admin_client.post(_import_url(workspace), {"action": "list"})
    assert "the token has no Source Admin permission, so write keys are hidden" in response.text
    assert "no write key visible" in response.text
    assert 'name="source_ids"' not in response.text

    response = admin_client.post(
        _import_url(workspace), {"action": "import", "source_ids": ["src001"]}, follow=True
    )
    assert not Source.objects.exists()
    assert "Not imported: Site 1 (no write key visible)." in response.text


def test_a_refused_token_stops_the_import_with_segments_error(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    public_api.forget_token()
    response = admin_client.post(_import_url(workspace), {"action": "list"})
    assert response.status_code == 200
    assert 'data-testid="import-error"' in response.text
    assert "Segment refused the Public API token" in response.text
    assert "this workspace is set to US" in response.text


def test_with_htmx_the_listing_is_a_fragment(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    public_api.add_sources([1])
    response = admin_client.post(
        _import_url(workspace), {"action": "list"}, headers={"HX-Request": "true"}
    )
    assert "<html" not in response.text
    assert 'data-testid="import-list"' in response.text


def test_an_empty_workspace_says_so(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    response = admin_client.post(_import_url(workspace), {"action": "list"})
    assert "This workspace has no sources in Segment." in response.text


def test_a_source_named_after_its_write_key_is_listed_and_imported_masked(
    admin_client: Client, workspace: Workspace, public_api: PublicApi
) -> None:
    from tests.credentials.conftest import TOKEN, database_text

    key = "wkNAMEDafterItselfAbCdEf012345"
    public_api.fake.add_source(
        id="src900",
        slug="careless",
        name=f"Careless {key}",
        token=TOKEN,
        write_keys=[key],
        labels={"note": f"key {key}"},
    )
    response = admin_client.post(_import_url(workspace), {"action": "list"})
    assert "Careless ****" in response.text
    assert_no_secret(response.text, key)
    admin_client.post(_import_url(workspace), {"action": "import", "source_ids": ["src900"]})
    source = Source.objects.get(segment_source_id="src900")
    assert source.name == "Careless ****"
    assert source.write_key() == key  # the key itself is kept, encrypted
    assert_no_secret(database_text(), key)
