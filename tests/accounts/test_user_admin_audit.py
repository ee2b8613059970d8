"""Every change to a person's account is on the record, whoever makes it and by whatever path:
the Django admin's user pages (create, delete one or many, password, activate, deactivate)
and the management commands that create users or set passwords. No entry holds the password
or its hash. Passwords need 12 characters."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from segadmin.audit.chain import verify_chain
from segadmin.audit.models import AuditEntry, Kind
from tests.factories import change_form

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "violet kettle 42 harbour"
ELEVEN = "kq7#vbn2!xz"  # 11 characters, otherwise unremarkable


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client(REMOTE_ADDR="192.0.2.9")
    client.force_login(admin_user)
    return client


def user_events(action: str | None = None) -> list[AuditEntry]:
    events = AuditEntry.objects.filter(kind=Kind.EVENT, target_type="user").order_by("seq")
    return list(events.filter(action=action) if action else events)


def assert_no_password_anywhere(*secrets: str) -> None:
    """No audit entry holds any of ``secrets`` (a password or a stored hash) in any column."""
    for entry in AuditEntry.objects.all():
        for field in AuditEntry._meta.concrete_fields:
            value = str(getattr(entry, field.attname))
            for secret in secrets:
                assert secret not in value, f"{field.name} of entry #{entry.seq} holds a secret"


def assert_by_ada_about(event: AuditEntry, user: User | str) -> None:
    username = user if isinstance(user, str) else user.username
    assert (event.username, event.role, event.ip) == ("ada", "Admin", "192.0.2.9")
    assert event.target_type == "user" and event.target_name == username


# --- creating -------------------------------------------------------------------------------


def test_creating_a_user_in_the_admin_is_recorded_without_the_password(admin_client) -> None:
    response = admin_client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newbie",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    newbie = User.objects.get(username="newbie")
    [event] = user_events("user.created")
    assert_by_ada_about(event, newbie)
    assert event.target_id == str(newbie.pk)
    assert event.details_data == {"active": True, "password_login": True}
    assert_no_password_anywhere(NEW_PASSWORD, newbie.password)
    assert verify_chain().ok


def test_an_eleven_character_password_is_refused_and_nobody_is_created(admin_client) -> None:
    response = admin_client.post(
        reverse("admin:auth_user_add"),
        {"username": "newbie", "usable_password": "true", "password1": ELEVEN, "password2": ELEVEN},
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()
    assert user_events() == []


def test_the_password_rules_want_twelve_characters() -> None:
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password(ELEVEN)
    validate_password(ELEVEN + "q")


# --- deleting -------------------------------------------------------------------------------


def test_deleting_a_user_in_the_admin_is_recorded(admin_client, marketer) -> None:
    pk = marketer.pk
    response = admin_client.post(reverse("admin:auth_user_delete", args=[pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=pk).exists()
    [event] = user_events("user.deleted")
    assert_by_ada_about(event, "maria")
    assert event.target_id == str(pk)
    assert event.details_data["roles"] == ["Marketer"]
    assert verify_chain().ok


def test_deleting_several_users_at_once_records_each(admin_client, marketer, support) -> None:
    response = admin_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [marketer.pk, support.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not User.objects.filter(username__in=["maria", "sam"]).exists()
    events = user_events("user.deleted")
    assert sorted(e.target_name for e in events) == ["maria", "sam"]
    for event in events:
        assert_by_ada_about(event, event.target_name)


def test_a_refused_deletion_records_nothing(admin_client, superuser) -> None:
    # An Admin who is not a superuser may not delete a superuser.
    response = admin_client.post(
        reverse("admin:auth_user_delete", args=[superuser.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert User.objects.filter(pk=superuser.pk).exists()
    assert user_events() == []


def test_an_admin_cannot_delete_a_superuser_among_several(admin_client, marketer, superuser):
    response = admin_client.post(
        reverse("admin:auth_user_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [marketer.pk, superuser.pk],
            "post": "yes",
        },
    )
    assert response.status_code == 403
    assert User.objects.filter(pk__in=[marketer.pk, superuser.pk]).count() == 2
    assert user_events() == []


# --- passwords ------------------------------------------------------------------------------


def test_changing_a_password_in_the_admin_is_recorded_without_it(admin_client, marketer) -> None:
    old_hash = marketer.password
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[marketer.pk]),
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    marketer.refresh_from_db()
    assert marketer.check_password(NEW_PASSWORD)
    [event] = user_events("user.password_changed")
    assert_by_ada_about(event, marketer)
    assert event.details_data == {"password_login": True, "sessions_ended": 0}
    assert_no_password_anywhere(NEW_PASSWORD, marketer.password, old_hash)


def test_turning_password_log_in_off_in_the_admin_is_recorded(admin_client, marketer) -> None:
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[marketer.pk]),
        {"usable_password": "false", "unset-password": "Disable password-based authentication"},
    )
    assert response.status_code == 302
    marketer.refresh_from_db()
    assert not marketer.has_usable_password()
    [event] = user_events("user.password_changed")
    assert event.details_data == {"password_login": False, "sessions_ended": 0}


def test_a_too_short_new_password_is_refused_and_nothing_is_recorded(admin_client, marketer):
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[marketer.pk]),
        {"usable_password": "true", "password1": ELEVEN, "password2": ELEVEN},
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    marketer.refresh_from_db()
    assert not marketer.check_password(ELEVEN)
    assert user_events() == []


# --- activating and deactivating ------------------------------------------------------------


def test_deactivating_a_user_in_the_admin_is_recorded(admin_client, marketer) -> None:
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[marketer.pk]),
        change_form(marketer, is_active=None),
    )
    assert response.status_code == 302
    assert not User.objects.get(pk=marketer.pk).is_active
    [event] = user_events()
    assert event.action == "user.deactivated"
    assert_by_ada_about(event, marketer)


def test_activating_a_user_in_the_admin_is_recorded(admin_client, marketer) -> None:
    User.objects.filter(pk=marketer.pk).update(is_active=False)
    marketer.refresh_from_db()
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[marketer.pk]), change_form(marketer)
    )
    assert response.status_code == 302
    assert User.objects.get(pk=marketer.pk).is_active
    [event] = user_events()
    assert event.action == "user.activated"
    assert_by_ada_about(event, marketer)


def test_deactivating_and_changing_roles_at_once_records_both(admin_client, marketer) -> None:
    admin_client.post(
        reverse("admin:auth_user_change", args=[marketer.pk]),
        change_form(marketer, is_active=None, groups=[]),
    )
    assert [e.action for e in user_events()] == ["user.deactivated", "role.changed"]


# --- management commands --------------------------------------------------------------------


def test_ensure_admin_records_the_account_it_creates_and_its_password_passes_the_rules(
    capsys,
) -> None:
    call_command("ensure_admin")
    printed = capsys.readouterr().out
    password = printed.split("password: ", 1)[1].split()[0]
    admin = User.objects.get(username="admin")
    assert admin.check_password(password)
    validate_password(password, admin)
    [event] = user_events("user.created")
    assert (event.username, event.role) == ("ensure_admin", "system")
    assert event.target_name == "admin"
    assert_no_password_anywhere(password, admin.password)


def test_createsuperuser_records_the_account(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", NEW_PASSWORD)
    call_command("createsuperuser", "--noinput", "--username=boss", "--email=boss@example.com")
    boss = User.objects.get(username="boss")
    [event] = user_events("user.created")
    assert (event.username, event.role, event.target_name) == ("createsuperuser", "system", "boss")
    assert_no_password_anywhere(NEW_PASSWORD, boss.password)


def test_createsuperuser_refuses_a_short_password_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ELEVEN)
    with pytest.raises(CommandError, match="at least 12 characters"):
        call_command("createsuperuser", "--noinput", "--username=boss", "--email=b@example.com")
    assert not User.objects.filter(username="boss").exists()
    assert user_events() == []


def test_changepassword_records_the_change(monkeypatch, marketer) -> None:
    from django.contrib.auth.management.commands import changepassword

    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    call_command("changepassword", "maria")
    marketer.refresh_from_db()
    assert marketer.check_password(NEW_PASSWORD)
    [event] = user_events("user.password_changed")
    assert (event.username, event.role, event.target_name) == ("changepassword", "system", "maria")
    assert_no_password_anywhere(NEW_PASSWORD, marketer.password)
