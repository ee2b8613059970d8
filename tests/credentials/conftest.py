"""Fixtures for the credentials tests: known secrets, stored rows and a fake Public API."""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import json
import zlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Source, Workspace
from tests.conftest import TOKEN
from tests.factories import make_source
from tests.fake_segment import FakeSegment

PROFILES_TOKEN = "pt_TESTprofilesAbCdEfGh1234567890"
WRITE_KEY = "0j4zjt3VGSKQ1rNDXXaEPM7Tnbg0V55K"
SEGMENT_WORKSPACE = {"id": "9aQ1Lj62S4bomZKLF4DPqW", "slug": "acme", "name": "Acme"}


def forbidden_forms(secret: str) -> list[str]:
    """The secret and the reversible encodings someone might store or print it in."""
    forms = {secret, quote(secret, safe=""), binascii.hexlify(secret.encode()).decode()}
    for raw in (secret, f"{secret}:"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(raw.encode()).decode()
            forms.add(encoded)
            forms.add(encoded.rstrip("="))
    return sorted(forms)


def _texts(value: Any) -> Iterable[str]:
    if value is None:
        return
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        yield value.decode("latin-1")
        # Compressed bodies, with or without a one-byte format marker in front.
        for data in (value, value[1:]):
            for unpack in (gzip.decompress, zlib.decompress):
                with contextlib.suppress(OSError, zlib.error, EOFError):
                    yield unpack(data).decode("latin-1")
        return
    yield value if isinstance(value, str) else json.dumps(value, default=str)


def database_text() -> str:
    """Every value of every table, as text (compressed bytes unpacked), read with raw SQL."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    chunks.extend(_texts(value))
    return "\n".join(chunks)


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets or (TOKEN, PROFILES_TOKEN, WRITE_KEY):
        for form in forbidden_forms(secret):
            assert form not in text, f"found a form of a secret: {form[:6]}…"


def credential_events(action: str | None = None) -> list[AuditEntry]:
    """The credential events of the audit log, oldest first (optionally of one action)."""
    entries = AuditEntry.objects.filter(kind="event", action__startswith="credential.")
    if action:
        entries = entries.filter(action=action)
    return list(entries.order_by("seq"))


@pytest.fixture
def source(workspace: Workspace) -> Source:
    return make_source("Web", WRITE_KEY, workspace=workspace)


def imported_write_key(number: int) -> str:
    return f"writekey{number:03d}ABCDEFGHIJKLMNOP"


class PublicApi:
    """The local fake's Public API holding workspace “Acme” (token TOKEN), two sources a page."""

    def __init__(self, fake: FakeSegment) -> None:
        self.fake = fake
        self.workspace = fake.add_workspace(TOKEN, max_page_size=2, **SEGMENT_WORKSPACE)

    def add_sources(self, numbers: Iterable[int]) -> None:
        for number in numbers:
            self.fake.add_source(
                id=f"src{number:03d}",
                slug=f"site-{number}",
                name=f"Site {number}",
                token=TOKEN,
                write_keys=[imported_write_key(number)],
                enabled=number % 5 != 0,
                labels={"environment": "prod"},
            )

    def hide_write_keys(self) -> None:
        """As for a token without the Source Admin role."""
        self.workspace.source_admin = False

    def forget_token(self) -> None:
        """Segment no longer knows the token: every call gets a 401."""
        with self.fake.state.lock:
            del self.fake.state.workspaces[TOKEN]

    @property
    def requests(self) -> list[str]:
        return [f"{r.path}?{r.query}" for r in self.fake.requests]


@pytest.fixture
def public_api(fake_segment: FakeSegment) -> PublicApi:
    return PublicApi(fake_segment)
