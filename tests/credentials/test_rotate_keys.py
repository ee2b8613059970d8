"""manage.py rotate_keys: every secret under the first key, safe to repeat, loud on a bad one."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.test import override_settings

from segadmin.credentials.models import Source, Workspace
from tests.credentials.conftest import (
    PROFILES_TOKEN,
    TOKEN,
    WRITE_KEY,
    assert_no_secret,
    credential_events,
)

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
STRANGER_KEY = Fernet.generate_key().decode()


def _under(key: str, token: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except Exception:  # noqa: BLE001 - any failure means "not under this key"
        return False
    return True


def _rotate() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rotate_keys", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def old_rows() -> tuple[Workspace, Source]:
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[OLD_KEY]):
        workspace = Workspace(name="Acme", profiles_space_id="spa_1")
        workspace.set_public_api_token(TOKEN)
        workspace.set_profiles_token(PROFILES_TOKEN)
        workspace.save()
        source = Source(name="Web", workspace=workspace)
        source.set_write_key(WRITE_KEY)
        source.save()
    return workspace, source


def test_rotation_moves_every_secret_under_the_new_first_key(
    old_rows: tuple[Workspace, Source],
) -> None:
    workspace, source = old_rows
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        # Before rotating, the old rows are readable through the second key.
        assert source.write_key() == WRITE_KEY
        out, err = _rotate()
    assert out.strip() == "Re-encrypted 3 secrets under the first key."
    assert err == ""
    workspace.refresh_from_db()
    source.refresh_from_db()
    for token in (
        workspace.token_encrypted,
        workspace.profiles_token_encrypted,
        source.write_key_encrypted,
    ):
        assert _under(NEW_KEY, token)
        assert not _under(OLD_KEY, token)
    # The old key can now be removed.
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY]):
        assert workspace.public_api_token() == TOKEN
        assert workspace.profiles_token() == PROFILES_TOKEN
        assert source.write_key() == WRITE_KEY


def test_rotation_is_recorded_per_row_without_a_secret(old_rows: tuple[Workspace, Source]) -> None:
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        _rotate()
    events = credential_events("credential.rotated")
    assert [(e.target_type, e.target_name, e.details_data) for e in events] == [
        ("workspace", "Acme", {"rotated": ["Public API token", "Profile API token"]}),
        ("source", "Web", {"rotated": ["Write key"]}),
    ]
    assert {e.username for e in events} == {"rotate_keys"}
    assert_no_secret(" ".join(e.details for e in events))


def test_running_it_twice_is_safe(old_rows: tuple[Workspace, Source]) -> None:
    workspace, source = old_rows
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        _rotate()
        out, _ = _rotate()
    assert "Re-encrypted 3 secrets" in out
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY]):
        source.refresh_from_db()
        workspace.refresh_from_db()
        assert source.write_key() == WRITE_KEY
        assert workspace.public_api_token() == TOKEN


def test_rotation_does_not_touch_updated_at(old_rows: tuple[Workspace, Source]) -> None:
    _, source = old_rows
    before = source.updated_at
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        _rotate()
    source.refresh_from_db()
    assert source.updated_at == before


def test_an_unreadable_secret_is_named_the_others_rotate_and_the_exit_is_non_zero(
    old_rows: tuple[Workspace, Source],
) -> None:
    _, source = old_rows
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[STRANGER_KEY]):
        lost = Source(name="Lost", workspace=None)
        lost.set_write_key("lostWriteKey0123456789abc")
        lost.save()
    out, err = StringIO(), StringIO()
    with (
        override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]),
        pytest.raises(CommandError, match="1 secret could not be decrypted"),
    ):
        call_command("rotate_keys", stdout=out, stderr=err)
    assert "Re-encrypted 3 secrets under the first key." in out.getvalue()
    assert f'The write key of source "Lost" (id {lost.pk}) cannot be decrypted' in err.getvalue()
    assert "lostWriteKey0123456789abc" not in err.getvalue() + out.getvalue()
    source.refresh_from_db()
    assert _under(NEW_KEY, source.write_key_encrypted)
    lost.refresh_from_db()
    assert _under(STRANGER_KEY, lost.write_key_encrypted)  # left as it was


def test_the_command_exits_non_zero_from_the_shell_too(
    old_rows: tuple[Workspace, Source],
) -> None:
    # OLD_KEY removed too early: nothing can be rotated.
    with (
        override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY]),
        pytest.raises(CommandError) as caught,
    ):
        call_command("rotate_keys", stdout=StringIO(), stderr=StringIO())
    assert caught.value.returncode == 1
    assert "3 secrets could not be decrypted" in str(caught.value)


@override_settings(SEGADMIN_ENCRYPTION_KEYS=[])
def test_without_keys_it_says_which_variable_to_set(old_rows: tuple[Workspace, Source]) -> None:
    with pytest.raises(CommandError, match="SEGADMIN_ENCRYPTION_KEYS is not set"):
        _rotate()


def test_an_interrupted_run_leaves_every_row_readable_and_a_rerun_finishes(
    old_rows: tuple[Workspace, Source], monkeypatch: pytest.MonkeyPatch
) -> None:
    from segadmin.credentials import services

    workspace, source = old_rows
    real_record_event = services.recorder
    assert real_record_event is not None
    calls = []

    def interrupted_on_the_second_row(**kwargs: object) -> object:
        calls.append(kwargs)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the source's transaction
        return real_record_event(**kwargs)

    monkeypatch.setattr(services, "recorder", interrupted_on_the_second_row)
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        with pytest.raises(KeyboardInterrupt):
            _rotate()
        workspace.refresh_from_db()
        source.refresh_from_db()
        assert _under(NEW_KEY, workspace.token_encrypted)  # committed before the interruption
        assert _under(OLD_KEY, source.write_key_encrypted)  # rolled back with its audit entry
        assert source.write_key() == WRITE_KEY
        assert len(credential_events("credential.rotated")) == 1

        monkeypatch.setattr(services, "recorder", real_record_event)
        out, _ = _rotate()
    assert "Re-encrypted 3 secrets" in out
    source.refresh_from_db()
    assert _under(NEW_KEY, source.write_key_encrypted)
