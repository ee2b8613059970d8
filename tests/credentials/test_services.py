"""credentials.services: each change writes exactly its audit event, in the same transaction.
When the event cannot be written the change is rolled back; with no event writer set, nothing
changes at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from segadmin.accounts.actors import Actor
from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials import services
from segadmin.credentials.models import Source, Workspace
from tests.credentials.conftest import TOKEN, WRITE_KEY, assert_no_secret

pytestmark = pytest.mark.django_db

ACTOR = Actor(user=None, username="ada", role="Admin", ip="10.0.0.9", user_agent="pytest")
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


class EventWriteFailed(Exception):
    pass


@pytest.fixture
def failing_recorder(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(**kwargs: Any) -> None:
        raise EventWriteFailed(kwargs["action"])

    monkeypatch.setattr(services, "recorder", fail)


@pytest.fixture
def workspace() -> Workspace:
    workspace = Workspace(name="Acme", region="us")
    workspace.set_public_api_token(TOKEN)
    services.create(actor=ACTOR, obj=workspace, details={"region": "us"})
    return workspace


@pytest.fixture
def source(workspace: Workspace) -> Source:
    source = Source(name="Web", region="us", workspace=workspace)
    source.set_write_key(WRITE_KEY)
    services.create(actor=ACTOR, obj=source, details={"region": "us"})
    return source


def events_after(before: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(kind=Kind.EVENT).order_by("seq"))[before:]


def event_count() -> int:
    return AuditEntry.objects.filter(kind=Kind.EVENT).count()


def test_creating_a_workspace_writes_one_created_event_naming_it() -> None:
    workspace = Workspace(name="Acme", region="eu")
    workspace.set_public_api_token(TOKEN)
    services.create(actor=ACTOR, obj=workspace, details={"region": "eu"})
    [event] = events_after(0)
    assert (event.action, event.target_type, event.target_id) == (
        "credential.created",
        "workspace",
        str(workspace.pk),
    )
    assert event.workspace_id == workspace.pk
    assert event.username == "ada"
    assert_no_secret(f"{event.details} {event.target_name}")


def test_editing_a_source_writes_one_changed_event(source: Source) -> None:
    before = event_count()
    source.name = "Web shop"
    services.edit(actor=ACTOR, obj=source, details={"changed": ["Name"]})
    [event] = events_after(before)
    assert (event.action, event.target_name, event.source_id) == (
        "credential.changed",
        "Web shop",
        source.pk,
    )
    assert Source.objects.get(pk=source.pk).name == "Web shop"


def test_deleting_a_source_writes_one_deleted_event_that_survives_it(source: Source) -> None:
    before, pk = event_count(), source.pk
    services.delete(actor=ACTOR, obj=source, details={"region": "us"})
    [event] = events_after(before)
    assert (event.action, event.target_id, event.source_name) == (
        "credential.deleted",
        str(pk),
        "Web",
    )
    assert not Source.objects.filter(pk=pk).exists()


def test_importing_a_source_writes_one_imported_event(workspace: Workspace) -> None:
    before = event_count()
    source = services.import_source(
        actor=ACTOR,
        workspace=workspace,
        segment_source_id="src_9",
        name="App",
        slug="app",
        enabled=True,
        write_key=WRITE_KEY,
    )
    [event] = events_after(before)
    assert event.action == "credential.imported"
    assert event.source_id == source.pk
    assert event.details_data["segment_source_id"] == "src_9"
    assert source.write_key() == WRITE_KEY
    assert_no_secret(f"{event.details} {event.target_name}")


def test_rotating_a_row_writes_one_rotated_event() -> None:
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[OLD_KEY]):
        source = Source(name="Web", region="us")
        source.set_write_key(WRITE_KEY)
        source.save()
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert services.rotate(actor=ACTOR, model=Source, pk=source.pk) == (1, [])
        [event] = events_after(0)
        assert (event.action, event.details_data) == (
            "credential.rotated",
            {"rotated": ["Write key"]},
        )
        source.refresh_from_db()
        Fernet(NEW_KEY.encode()).decrypt(source.write_key_encrypted.encode())


# --- the event and the change commit together ------------------------------------------------


def _stored(model: type[Workspace] | type[Source]) -> list[tuple]:
    return list(model.objects.order_by("pk").values_list())


@pytest.mark.parametrize(
    "action",
    ["create workspace", "create source", "edit", "link", "delete", "import", "rotate"],
)
def test_when_the_event_cannot_be_written_the_change_is_rolled_back(
    action: str, source: Source, workspace: Workspace, request: pytest.FixtureRequest
) -> None:
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[OLD_KEY]):
        old = Source(name="Old", region="us")
        old.set_write_key(WRITE_KEY)
        old.save()
    sources, workspaces, events = _stored(Source), _stored(Workspace), event_count()
    change = _changes(source, workspace, old)[action]
    request.getfixturevalue("failing_recorder")
    with (
        override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]),
        pytest.raises(EventWriteFailed),
    ):
        change()
    assert _stored(Source) == sources
    assert _stored(Workspace) == workspaces
    assert event_count() == events


def test_without_an_event_writer_nothing_changes_and_it_says_why(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "recorder", None)
    sources, events = _stored(Source), event_count()
    source.name = "Renamed"
    with pytest.raises(ImproperlyConfigured, match="Nothing was changed"):
        services.edit(actor=ACTOR, obj=source, details={"changed": ["Name"]})
    assert _stored(Source) == sources
    assert event_count() == events


def test_the_audit_app_hands_its_event_writer_to_the_credentials_service() -> None:
    from segadmin.audit.log import record_event

    assert services.recorder is record_event


def _changes(source: Source, workspace: Workspace, old: Source) -> dict[str, Callable[[], Any]]:
    new_workspace = Workspace(name="Beta", region="us")
    new_workspace.set_public_api_token(TOKEN)
    new_source = Source(name="New", region="us")
    new_source.set_write_key(WRITE_KEY)

    def edit() -> None:
        source.name = "Renamed"
        services.edit(actor=ACTOR, obj=source, details={"changed": ["Name"]})

    def link() -> None:  # what Test connection saves
        workspace.segment_workspace_id, workspace.slug = "ws_1", "acme"
        services.edit(
            actor=ACTOR,
            obj=workspace,
            details={"changed": ["Slug"], "by": "Test connection"},
            update_fields=["segment_workspace_id", "slug", "updated_at"],
        )

    return {
        "create workspace": lambda: services.create(actor=ACTOR, obj=new_workspace, details={}),
        "create source": lambda: services.create(actor=ACTOR, obj=new_source, details={}),
        "edit": edit,
        "link": link,
        "delete": lambda: services.delete(actor=ACTOR, obj=source, details={}),
        "import": lambda: services.import_source(
            actor=ACTOR,
            workspace=workspace,
            segment_source_id="src_9",
            name="App",
            slug="app",
            enabled=True,
            write_key=WRITE_KEY,
        ),
        "rotate": lambda: services.rotate(actor=ACTOR, model=Source, pk=old.pk),
    }
