"""The first account (`manage.py ensure_admin`, run by `make run`): its random password is a
one-time password, so the first log-in leads to choosing one's own before anything else, as for
a person an Admin added with a one-time password; created and changed on the record."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from segadmin.accounts.models import PasswordToChange
from segadmin.audit.models import AuditEntry

pytestmark = pytest.mark.django_db
NEW = "the first admin's own long secret"


def _ensure_admin() -> str:
    out = io.StringIO()
    call_command("ensure_admin", "--host", "127.0.0.1", "--port", "8000", stdout=out)
    return out.getvalue()


def _password(printed: str) -> str:
    return printed.split("password: ", 1)[1].split()[0]


def _events(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def test_the_first_admin_must_change_the_printed_password_and_it_is_recorded() -> None:
    printed = _ensure_admin()
    admin = User.objects.get(username="admin")
    assert PasswordToChange.objects.filter(user=admin).exists()
    (created,) = _events("user.created")
    assert (created.username, created.role, created.target_name) == (
        "ensure_admin",
        "system",
        "admin",
    )
    assert created.details_data == {
        "active": True,
        "password_login": True,
        "roles": ["Admin"],
        "handed_over": "one-time password",
    }
    assert _password(printed) not in created.details


def test_the_banner_says_the_first_log_in_asks_for_a_new_password() -> None:
    printed = _ensure_admin()
    assert "Log in at http://127.0.0.1:8000/" in printed
    assert (
        "  This password is shown only once. Your first log-in with it asks you\n"
        "  to choose your own password before anything else.\n"
    ) in printed
    assert "change it after logging in" not in printed


def test_the_first_log_in_leads_to_choosing_ones_own_password() -> None:
    password = _password(_ensure_admin())
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": "admin", "password": password})
    assert response.status_code == 302
    for path in ("/", reverse("users:list"), reverse("audit:list"), "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("users:own_password"), path
    page = client.get(reverse("users:own_password"))
    assert page.status_code == 200 and page.context["forced"]
    response = client.post(
        reverse("users:own_password"), {"new_password1": NEW, "new_password2": NEW}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    admin = User.objects.get(username="admin")
    assert admin.check_password(NEW) and not admin.check_password(password)
    assert not PasswordToChange.objects.filter(user=admin).exists()
    (changed,) = _events("user.password_changed")
    assert (changed.username, changed.target_name) == ("admin", "admin")
    assert changed.details_data == {"password_login": True, "sessions_ended": 0}
    # The next log-in goes straight on.
    again = Client()
    again.post(reverse("accounts:login"), {"username": "admin", "password": NEW})
    assert again.get("/").status_code == 200


def test_a_forged_post_before_the_change_is_sent_to_choose_a_password(fake_segment) -> None:
    password = _password(_ensure_admin())
    client = Client()
    client.post(reverse("accounts:login"), {"username": "admin", "password": password})
    for path in (reverse("users:add"), reverse("calls:identify"), reverse("audit:verify")):
        response = client.post(path, {"username": "mallory", "user_id": "u-1"})
        assert response.status_code == 302, path
        assert response["Location"] == reverse("users:own_password"), path
    assert User.objects.count() == 1
    assert fake_segment.messages() == []
    assert not AuditEntry.objects.filter(kind="request").exists()


def test_a_too_weak_new_password_is_refused_and_the_note_stays() -> None:
    password = _password(_ensure_admin())
    client = Client()
    client.post(reverse("accounts:login"), {"username": "admin", "password": password})
    response = client.post(
        reverse("users:own_password"), {"new_password1": "short", "new_password2": "short"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert PasswordToChange.objects.filter(user__username="admin").exists()
    assert client.get("/")["Location"] == reverse("users:own_password")


def test_ensure_admin_does_nothing_once_someone_exists(admin_user) -> None:
    assert _ensure_admin() == ""
    assert not PasswordToChange.objects.exists()
