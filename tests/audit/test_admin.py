"""The Django admin shows audit entries read-only, and records role changes made in it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from segadmin.audit.chain import verify_chain
from segadmin.audit.log import Actor, record_event
from segadmin.audit.models import AuditEntry, Kind
from tests.factories import change_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry() -> AuditEntry:
    return record_event(
        actor=Actor.system("tests"),
        action="credential.created",
        target_type="workspace",
        target_id=3,
        target_name="Acme",
    )


def test_an_admin_can_read_the_audit_log_in_the_admin(admin_client, entry):
    listing = admin_client.get(reverse("admin:audit_auditentry_changelist"))
    assert listing.status_code == 200
    assert "Acme" in listing.text
    detail = admin_client.get(reverse("admin:audit_auditentry_change", args=[entry.pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.text


def test_the_admin_refuses_to_change_an_entry(admin_client, entry):
    response = admin_client.post(
        reverse("admin:audit_auditentry_change", args=[entry.pk]),
        {"target_name": "Evil", "_save": "Save"},
    )
    assert response.status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).target_name == "Acme"


def test_the_admin_refuses_to_delete_an_entry(admin_client, entry):
    url = reverse("admin:audit_auditentry_delete", args=[entry.pk])
    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_admin_offers_no_bulk_delete_and_refuses_one(admin_client, entry):
    url = reverse("admin:audit_auditentry_changelist")
    assert "delete_selected" not in admin_client.get(url).text
    admin_client.post(
        url, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_admin_refuses_to_add_an_entry(admin_client):
    url = reverse("admin:audit_auditentry_add")
    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"kind": "event"}).status_code == 403
    assert not AuditEntry.objects.exists()


# --- role changes ---------------------------------------------------------------------------


def test_changing_a_users_role_in_the_admin_is_recorded(admin_client, admin_user, marketer):
    support = Group.objects.get(name="Support")
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[marketer.pk]),
        change_form(marketer, groups=[support.pk]),
        REMOTE_ADDR="192.0.2.9",
    )
    assert response.status_code == 302
    assert list(marketer.groups.values_list("name", flat=True)) == ["Support"]
    event = AuditEntry.objects.get(kind=Kind.EVENT, action="role.changed")
    assert (event.username, event.role, event.ip) == ("ada", "Admin", "192.0.2.9")
    assert (event.target_type, event.target_id, event.target_name) == (
        "user",
        str(marketer.pk),
        "maria",
    )
    assert event.details_data["before"]["roles"] == ["Marketer"]
    assert event.details_data["after"]["roles"] == ["Support"]
    assert verify_chain().ok


def test_saving_a_user_without_changing_roles_records_nothing(admin_client, marketer):
    admin_client.post(
        reverse("admin:auth_user_change", args=[marketer.pk]),
        change_form(marketer, first_name="Maria"),
    )
    assert User.objects.get(pk=marketer.pk).first_name == "Maria"
    assert not AuditEntry.objects.exists()


def test_an_admin_who_is_not_a_superuser_cannot_grant_superuser_status(admin_client, marketer):
    admin_client.post(
        reverse("admin:auth_user_change", args=[marketer.pk]),
        change_form(marketer, is_superuser="on", is_staff="on"),
    )
    assert not User.objects.get(pk=marketer.pk).is_superuser


def test_an_admin_who_is_not_a_superuser_cannot_change_a_superuser(admin_client, superuser):
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[superuser.pk]),
        change_form(superuser, first_name="Hacked"),
    )
    assert response.status_code == 403
    assert User.objects.get(pk=superuser.pk).first_name == ""


def test_a_superuser_can_grant_superuser_status_and_it_is_recorded(client, superuser, marketer):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:auth_user_change", args=[marketer.pk]),
        change_form(marketer, is_superuser="on"),
    )
    assert response.status_code == 302
    assert User.objects.get(pk=marketer.pk).is_superuser
    event = AuditEntry.objects.get(action="role.changed")
    assert (
        event.details_data["before"]["superuser"],
        event.details_data["after"]["superuser"],
    ) == (
        False,
        True,
    )
