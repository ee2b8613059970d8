from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client

from segadmin.accounts.permissions import SEND_PERMISSIONS, may_send
from segadmin.accounts.roles import ADMIN, MARKETER, SUPPORT, role_of
from segadmin.calls.forms import SCREENS

pytestmark = pytest.mark.django_db


def perms(group: str) -> set[str]:
    return set(
        Group.objects.get(name=group).permissions.values_list("codename", flat=True).distinct()
    )


def test_the_migration_creates_the_three_roles() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {MARKETER, SUPPORT, ADMIN}


def test_marketers_send_calls_and_bulk_imports_but_never_touch_secrets_or_raw_calls() -> None:
    granted = perms(MARKETER)
    assert {"send_identify", "send_events", "bulk_import"} <= granted
    assert not granted & {"make_api_call", "manage_credentials", "view_all_audit", "manage_users"}


def test_support_fixes_traits_looks_users_up_and_reads_every_audit_entry() -> None:
    granted = perms(SUPPORT)
    assert {"send_identify", "lookup_users", "view_all_audit"} <= granted
    assert not granted & {"make_api_call", "manage_credentials", "export_audit", "manage_users"}


def test_admins_may_do_everything() -> None:
    granted = perms(ADMIN)
    assert {
        "send_identify",
        "send_events",
        "make_api_call",
        "bulk_import",
        "lookup_users",
        "view_all_audit",
        "export_audit",
        "manage_credentials",
        "manage_users",
        "manage_imports",
        "change_user",
    } <= granted


def test_only_admins_may_change_someone_elses_bulk_import() -> None:
    assert "manage_imports" in perms(ADMIN)
    assert "manage_imports" not in perms(MARKETER)
    assert "manage_imports" not in perms(SUPPORT)


def test_support_may_send_identify_only_by_every_path(support, marketer) -> None:
    assert [c for c in SEND_PERMISSIONS if may_send(support, c)] == ["identify"]
    assert all(may_send(marketer, c) for c in SEND_PERMISSIONS)
    assert not may_send(marketer, "raw")


def test_the_call_screens_need_the_permission_every_other_path_asks_for() -> None:
    assert {name: screen.permission for name, screen in SCREENS.items()} == SEND_PERMISSIONS


def test_role_of_names_the_strongest_role(marketer, support, admin_user, superuser) -> None:
    assert role_of(marketer) == MARKETER
    assert role_of(support) == SUPPORT
    assert role_of(admin_user) == ADMIN
    assert role_of(superuser) == ADMIN
    support.groups.add(Group.objects.get(name=ADMIN))
    assert role_of(User.objects.get(pk=support.pk)) == ADMIN


def test_admins_manage_users_and_their_roles_in_the_admin(client: Client, admin_user) -> None:
    client.force_login(admin_user)
    response = client.get("/admin/auth/user/")
    assert response.status_code == 200
    assert "ada" in response.content.decode()


def test_the_navigation_links_users_only_for_admins(client: Client, admin_user, marketer) -> None:
    client.force_login(admin_user)
    assert 'href="/admin/"' in client.get("/").content.decode()
    client.force_login(marketer)
    assert 'href="/admin/"' not in client.get("/").content.decode()


def test_a_user_without_a_role_is_told_to_ask_for_one(client: Client, no_role_user) -> None:
    client.force_login(no_role_user)
    assert "has no role yet" in client.get("/").content.decode()


def test_ensure_admin_creates_the_first_account_once_and_prints_its_password(
    client: Client,
) -> None:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    printed = out.getvalue()
    password = printed.split("password:")[1].split()[0]
    logged_in = client.post("/accounts/login/", {"username": "admin", "password": password})
    assert logged_in.status_code == 302
    assert role_of(User.objects.get(username="admin")) == ADMIN

    again = io.StringIO()
    call_command("ensure_admin", stdout=again)
    assert again.getvalue() == ""
    assert User.objects.count() == 1
