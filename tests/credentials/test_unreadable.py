"""A secret no configured key can decrypt: a clear message naming it, never a crash or a blank."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.test import Client
from django.urls import reverse

from segadmin.credentials.models import Source, Workspace
from tests.credentials.conftest import PublicApi

pytestmark = pytest.mark.django_db

OTHER_KEY = Fernet.generate_key().decode()
WORKSPACE_MESSAGE = 'The Public API token of workspace "Acme" (id {pk}) cannot be decrypted'
SOURCE_MESSAGE = 'The write key of source "Web" (id {pk}) cannot be decrypted'


@pytest.fixture
def key_removed(source: Source, settings: object) -> Source:
    """The rows were written under the test key; now only another key is configured."""
    settings.SEGADMIN_ENCRYPTION_KEYS = [OTHER_KEY]  # type: ignore[attr-defined]
    return source


def _has(text: str, message: str, pk: int) -> bool:
    # Templates escape the quotes.
    return message.format(pk=pk).replace('"', "&quot;") in text


def test_the_model_raises_the_error_naming_the_source(key_removed: Source) -> None:
    from segadmin.credentials.crypto import SecretUnreadable

    with pytest.raises(SecretUnreadable, match=r'write key of source "Web" \(id \d+\)'):
        key_removed.write_key()


def test_the_lists_flag_the_unreadable_secrets(admin_client: Client, key_removed: Source) -> None:
    workspace = key_removed.workspace
    assert workspace is not None
    response = admin_client.get(reverse("credentials:source_list"))
    assert response.status_code == 200
    assert _has(response.text, SOURCE_MESSAGE, key_removed.pk)
    assert "SEGADMIN_ENCRYPTION_KEYS" in response.text
    response = admin_client.get(reverse("credentials:workspace_list"))
    assert response.status_code == 200
    assert _has(response.text, WORKSPACE_MESSAGE, workspace.pk)


def test_the_edit_and_detail_pages_explain_it(admin_client: Client, key_removed: Source) -> None:
    workspace = key_removed.workspace
    assert workspace is not None
    response = admin_client.get(reverse("credentials:source_edit", args=[key_removed.pk]))
    assert _has(response.text, SOURCE_MESSAGE, key_removed.pk)
    response = admin_client.get(reverse("credentials:workspace_detail", args=[workspace.pk]))
    assert _has(response.text, WORKSPACE_MESSAGE, workspace.pk)


def test_entering_the_secret_again_makes_it_readable(
    admin_client: Client, key_removed: Source
) -> None:
    admin_client.post(
        reverse("credentials:source_edit", args=[key_removed.pk]),
        {
            "name": "Web",
            "region": "us",
            "workspace": key_removed.workspace_id,
            "write_key": "aFreshWriteKey0123456789",
            "enabled": "on",
        },
    )
    key_removed.refresh_from_db()
    assert key_removed.write_key() == "aFreshWriteKey0123456789"


def test_test_connection_and_import_show_the_error_and_send_nothing(
    admin_client: Client, key_removed: Source, public_api: PublicApi
) -> None:
    workspace = key_removed.workspace
    assert workspace is not None
    response = admin_client.post(reverse("credentials:workspace_test", args=[workspace.pk]))
    assert response.status_code == 200
    assert _has(response.text, WORKSPACE_MESSAGE, workspace.pk)
    response = admin_client.post(
        reverse("credentials:workspace_import", args=[workspace.pk]), {"action": "list"}
    )
    assert response.status_code == 200
    assert _has(response.text, WORKSPACE_MESSAGE, workspace.pk)
    assert public_api.requests == []


def test_without_any_key_saving_a_source_is_a_form_error_not_a_crash(
    admin_client: Client, settings: object, db: None
) -> None:
    settings.SEGADMIN_ENCRYPTION_KEYS = []  # type: ignore[attr-defined]
    response = admin_client.post(
        reverse("credentials:source_add"),
        {"name": "Web", "region": "us", "write_key": "aFreshWriteKey0123456789", "enabled": "on"},
    )
    assert response.status_code == 200
    assert "SEGADMIN_ENCRYPTION_KEYS is not set" in response.text
    assert not Source.objects.exists()
    assert not Workspace.objects.exists()
