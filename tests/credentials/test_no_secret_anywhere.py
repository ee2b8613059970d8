"""The whole Admin journey, then a search for the secrets everywhere they must never be.

An Admin adds a workspace, tests it, imports its sources, lists them again with Make an API
call (``GET /sources``, whose answer holds every write key), adds and edits a source by hand,
makes a few mistakes on the forms and rotates the keys. Afterwards no table (read with raw
SQL, compressed bodies unpacked), no page, no log line and no audit entry holds a secret in
plaintext or in base64/hex/percent-encoding, with or without the ":" of Basic auth. What
removes them all is one module, segadmin/segment/redaction.py.
"""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Source, Workspace
from tests.credentials.conftest import (
    PROFILES_TOKEN,
    TOKEN,
    WRITE_KEY,
    PublicApi,
    assert_no_secret,
    database_text,
)

pytestmark = pytest.mark.django_db

IMPORTED_KEYS = [f"writekey{n:03d}ABCDEFGHIJKLMNOP" for n in range(1, 6)]
HAND_KEY = "handTypedWriteKey9876543210zz"
ALL_SECRETS = (TOKEN, PROFILES_TOKEN, WRITE_KEY, HAND_KEY, *IMPORTED_KEYS)


def test_no_secret_reaches_the_database_pages_logs_or_audit_log(
    admin_client: Client,
    public_api: PublicApi,
    caplog: pytest.LogCaptureFixture,
    settings: object,
) -> None:
    caplog.set_level("DEBUG")
    public_api.add_sources(range(1, 6))
    pages: list[str] = []

    def visit(response: object) -> None:
        assert response.status_code in (200, 302), response  # type: ignore[attr-defined]
        pages.append(response.content.decode())  # type: ignore[attr-defined]

    # Add a workspace (a first attempt fails on a missing space ID, with secrets typed in).
    visit(
        admin_client.post(
            reverse("credentials:workspace_add"),
            {"name": "Acme", "region": "us", "token": TOKEN, "profiles_token": PROFILES_TOKEN},
        )
    )
    visit(
        admin_client.post(
            reverse("credentials:workspace_add"),
            {
                "name": "Acme",
                "region": "us",
                "token": TOKEN,
                "profiles_space_id": "spa_1",
                "profiles_token": PROFILES_TOKEN,
            },
        )
    )
    workspace = Workspace.objects.get()
    visit(admin_client.get(reverse("credentials:workspace_detail", args=[workspace.pk])))
    visit(admin_client.post(reverse("credentials:workspace_test", args=[workspace.pk])))
    visit(admin_client.get(reverse("credentials:workspace_import", args=[workspace.pk])))
    visit(
        admin_client.post(
            reverse("credentials:workspace_import", args=[workspace.pk]), {"action": "list"}
        )
    )
    visit(
        admin_client.post(
            reverse("credentials:workspace_import", args=[workspace.pk]),
            {"action": "import", "source_ids": [f"src{n:03d}" for n in range(1, 6)]},
            follow=True,
        )
    )
    # The same listing, raw: Segment's answer holds every write key.
    visit(
        admin_client.post(
            reverse("calls:api"),
            {
                "api": "public",
                "workspace": str(workspace.pk),
                "method": "GET",
                "url": "/sources",
                "body": "",
                "headers__mode": "rows",
                "query__mode": "rows",
                "action": "send",
            },
        )
    )
    # A source by hand: first refused (wrong region for its workspace), then saved.
    hand = {
        "name": "Hand",
        "region": "eu",
        "workspace": workspace.pk,
        "write_key": WRITE_KEY,
        "enabled": "on",
    }
    visit(admin_client.post(reverse("credentials:source_add"), hand))
    visit(admin_client.post(reverse("credentials:source_add"), {**hand, "region": "us"}))
    source = Source.objects.get(name="Hand")
    visit(
        admin_client.post(
            reverse("credentials:source_edit", args=[source.pk]),
            {**hand, "region": "us", "write_key": HAND_KEY},
        )
    )
    visit(admin_client.get(reverse("credentials:source_edit", args=[source.pk])))
    visit(admin_client.get(reverse("credentials:source_list")))
    visit(admin_client.get(reverse("credentials:workspace_list")))
    visit(admin_client.get(reverse("credentials:workspace_edit", args=[workspace.pk])))
    # A rotation to a new key.
    settings.SEGADMIN_ENCRYPTION_KEYS = [  # type: ignore[attr-defined]
        Fernet.generate_key().decode(),
        *settings.SEGADMIN_ENCRYPTION_KEYS,  # type: ignore[attr-defined]
    ]
    out = StringIO()
    call_command("rotate_keys", stdout=out, stderr=out)
    assert "Re-encrypted 8 secrets" in out.getvalue()
    visit(admin_client.get(reverse("credentials:source_list")))

    # Every step is in the audit log...
    actions = list(
        AuditEntry.objects.filter(kind="event").order_by("seq").values_list("action", flat=True)
    )
    assert actions == [
        "credential.created",
        "credential.changed",  # Test connection learned the Segment workspace id
        *["credential.imported"] * 5,
        "credential.created",
        "credential.changed",
        *["credential.rotated"] * 7,
    ]
    call_types = list(
        AuditEntry.objects.filter(kind="request")
        .order_by("seq")
        .values_list("call_type", flat=True)
    )
    assert call_types == ["public:get_workspace", *["public:list_sources"] * 6, "raw"]
    assert Source.objects.count() == 6

    # ...and no secret is anywhere.
    assert_no_secret(database_text(), *ALL_SECRETS)
    for page in pages:
        assert_no_secret(page, *ALL_SECRETS)
    assert_no_secret(caplog.text, *ALL_SECRETS)
    for entry in AuditEntry.objects.all():
        text = " ".join(
            [
                entry.details,
                entry.url,
                entry.request_headers,
                str(entry.request_body_data),
                entry.response_headers,
                entry.response_body_text(),
                entry.error,
            ]
        )
        assert_no_secret(text, *ALL_SECRETS)


def test_the_database_check_would_find_a_leak(workspace: Workspace) -> None:
    """The search itself works: a secret written in base64 somewhere is found."""
    import base64

    Source.objects.create(
        name=base64.b64encode(f"{TOKEN}:".encode()).decode(), write_key_encrypted="x"
    )
    with pytest.raises(AssertionError):
        assert_no_secret(database_text(), TOKEN)
