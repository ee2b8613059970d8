"""Users (Admins): the list, adding a person with a role in one step, changing a role,
deactivating, reactivating and resetting a password, each on the audit record; the rules an
Admin cannot break on themselves; the one-time password changed at the first log-in; the
set-password link; and every forged POST from another role refused."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from segadmin.accounts.models import PasswordToChange
from segadmin.accounts.roles import role_of
from segadmin.audit.models import AuditEntry
from tests.conftest import PASSWORD, make_user
from tests.factories import login

pytestmark = pytest.mark.django_db


def _events(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def _add(client: Client, **fields: str):
    data = {"username": "nina", "email": "nina@example.com", "role": "Support"}
    data["how"] = "one-time password"
    data.update(fields)
    return client.post(reverse("users:add"), data)


def _log_in(username: str, password: str):
    return Client().post(reverse("accounts:login"), {"username": username, "password": password})


def test_the_list_shows_each_persons_role_last_login_and_status(admin_user, support) -> None:
    gone = make_user("gone", "Marketer", is_active=False)
    response = login(admin_user).get(reverse("users:list"))
    assert response.status_code == 200
    rows = {row["user"].username: row for row in response.context["rows"]}
    assert rows["ada"]["role"] == "Admin"
    assert rows["sam"]["role"] == "Support"
    assert rows["gone"]["status"] == "Deactivated"
    assert rows["sam"]["status"] == "Active"
    body = response.content.decode()
    assert "Last log-in" in body and "Never" in body
    assert reverse("users:detail", args=[gone.pk]) in body


def test_users_is_in_the_navigation_of_admins_only(admin_user, support, marketer) -> None:
    url = reverse("users:list")
    assert f'href="{url}"' in login(admin_user).get("/").content.decode()
    for person in (support, marketer):
        assert f'href="{url}"' not in login(person).get("/").content.decode()


def test_adding_a_person_with_a_role_is_one_step_with_a_one_time_password(admin_user) -> None:
    response = _add(login(admin_user))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    nina = User.objects.get(username="nina")
    assert role_of(nina) == "Support"
    assert nina.email == "nina@example.com"
    password = response.context["password"]
    assert re.fullmatch(r"(\w{4}-){3}\w{4}", password)
    assert password in response.content.decode()
    assert nina.check_password(password)
    assert PasswordToChange.objects.filter(user=nina).exists()
    (created,) = _events("user.created")
    assert created.username == "ada" and created.target_name == "nina"
    assert created.details_data == {
        "active": True,
        "password_login": True,
        "roles": ["Support"],
        "handed_over": "one-time password",
    }
    assert password not in created.details


def test_the_one_time_password_must_be_changed_at_the_first_log_in(admin_user) -> None:
    password = _add(login(admin_user)).context["password"]
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": "nina", "password": password})
    assert response.status_code == 302
    # Every page sends them to choose their own password first.
    for path in ("/", reverse("lookup:index"), reverse("audit:list")):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("users:own_password")
    page = client.get(reverse("users:own_password"))
    assert page.status_code == 200 and page.context["forced"]
    new = "a much better secret 42"
    response = client.post(
        reverse("users:own_password"), {"new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # still logged in, free to go on
    nina = User.objects.get(username="nina")
    assert nina.check_password(new)
    assert not PasswordToChange.objects.filter(user=nina).exists()
    changed = _events("user.password_changed")[-1]
    assert changed.username == "nina" and changed.target_name == "nina"
    # The one-time password's session is kept (no other was open).
    assert changed.details_data == {"password_login": True, "sessions_ended": 0}


def test_a_weak_new_password_is_refused_next_to_the_field(admin_user) -> None:
    password = _add(login(admin_user)).context["password"]
    client = Client()
    client.post(reverse("accounts:login"), {"username": "nina", "password": password})
    response = client.post(
        reverse("users:own_password"), {"new_password1": "nina", "new_password2": "nina"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    assert client.get("/").status_code == 302


def test_a_set_password_link_lets_the_person_choose_a_password_once(admin_user) -> None:
    response = _add(login(admin_user), how="set-password link")
    link = response.context["link"]
    assert link.startswith("http://testserver/users/set-password/")
    nina = User.objects.get(username="nina")
    assert not nina.has_usable_password()
    anonymous = Client()
    page = anonymous.get(link, follow=True)
    assert page.status_code == 200 and page.context["validlink"]
    new = "a much better secret 42"
    form_url = page.redirect_chain[-1][0]
    done = anonymous.post(form_url, {"new_password1": new, "new_password2": new})
    assert done.status_code == 302 and done["Location"] == reverse("accounts:login")
    nina.refresh_from_db()
    assert nina.check_password(new)
    changed = _events("user.password_changed")[-1]
    assert changed.username == "nina" and changed.role == "Support"
    # Used once: the same link no longer works.
    again = Client().get(link, follow=True)
    assert again.status_code == 200 and not again.context["validlink"]
    assert "does not work" in again.content.decode()


def test_an_existing_username_is_refused_next_to_the_field(admin_user, support) -> None:
    response = _add(login(admin_user), username="SAM")
    assert response.status_code == 200
    assert "There is already a person called SAM." in response.context["form"].errors["username"]
    assert User.objects.filter(username__iexact="sam").count() == 1
    assert _events("user.created") == []


def test_an_unknown_role_is_refused_and_nothing_is_made(admin_user) -> None:
    response = _add(login(admin_user), role="Superhero")
    assert "Choose Marketer, Support or Admin." in response.context["form"].errors["role"]
    assert not User.objects.filter(username="nina").exists()


def test_changing_a_role_is_recorded_with_before_and_after(admin_user, support) -> None:
    response = login(admin_user).post(reverse("users:role", args=[support.pk]), {"role": "Admin"})
    assert response.status_code == 302
    assert role_of(support) == "Admin"
    (event,) = _events("role.changed")
    assert event.target_name == "sam"
    assert event.details_data["before"]["roles"] == ["Support"]
    assert event.details_data["after"]["roles"] == ["Admin"]


def test_the_same_role_again_changes_and_records_nothing(admin_user, support) -> None:
    login(admin_user).post(reverse("users:role", args=[support.pk]), {"role": "Support"})
    assert _events("role.changed") == []


def test_an_admin_cannot_take_away_their_own_admin_role(admin_user) -> None:
    response = login(admin_user).post(
        reverse("users:role", args=[admin_user.pk]), {"role": "Marketer"}
    )
    assert response.status_code == 400
    assert "You cannot take away your own Admin role" in response.content.decode()
    assert role_of(admin_user) == "Admin"
    assert _events("role.changed") == []


def test_an_admin_cannot_deactivate_themselves(admin_user) -> None:
    url = reverse("users:active", args=[admin_user.pk])
    response = login(admin_user).post(url, {"active": "0"})
    assert response.status_code == 400
    assert "You cannot deactivate yourself" in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.is_active
    assert _events("user.deactivated") == []


def test_deactivating_ends_the_sessions_and_reactivating_lets_them_back(
    admin_user, support
) -> None:
    theirs = login(support)
    assert theirs.get("/").status_code == 200
    admin = login(admin_user)
    response = admin.post(reverse("users:active", args=[support.pk]), {"active": "0"})
    assert response.status_code == 302
    support.refresh_from_db()
    assert not support.is_active
    assert theirs.get("/").status_code == 302  # logged out
    assert _log_in("sam", PASSWORD).status_code == 200  # the form again: refused
    admin.post(reverse("users:active", args=[support.pk]), {"active": "1"})
    assert _log_in("sam", PASSWORD).status_code == 302
    # The account's changes, and the two log-ins through the page (refused while deactivated).
    assert [e.action for e in AuditEntry.objects.filter(target_type="user").order_by("seq")] == [
        "user.deactivated",
        "user.login_failed",
        "user.activated",
        "user.logged_in",
    ]
    assert AuditEntry.objects.get(action="user.login_failed").details_data["reason"] == "inactive"


def test_resetting_a_password_hands_over_a_new_one_time_password(admin_user, support) -> None:
    theirs = login(support)
    response = login(admin_user).post(
        reverse("users:reset", args=[support.pk]), {"how": "one-time password"}
    )
    assert response.status_code == 200
    password = response.context["password"]
    support.refresh_from_db()
    assert support.check_password(password) and not support.check_password(PASSWORD)
    assert PasswordToChange.objects.filter(user=support).exists()
    assert theirs.get("/").status_code == 302  # the old session ended
    (event,) = _events("user.password_changed")
    assert event.username == "ada" and event.target_name == "sam"
    assert event.details_data == {
        "password_login": True,
        "handed_over": "one-time password",
        "sessions_ended": 1,
    }


def test_resetting_with_a_link_stops_the_old_password(admin_user, support) -> None:
    response = login(admin_user).post(
        reverse("users:reset", args=[support.pk]), {"how": "set-password link"}
    )
    assert "/users/set-password/" in response.context["link"]
    support.refresh_from_db()
    assert not support.has_usable_password()
    (event,) = _events("user.password_changed")
    assert event.details_data == {
        "password_login": False,
        "handed_over": "set-password link",
        "sessions_ended": 0,
    }


def test_only_a_superuser_may_change_a_superuser(admin_user, superuser) -> None:
    client = login(admin_user)
    response = client.post(reverse("users:active", args=[superuser.pk]), {"active": "0"})
    assert response.status_code == 400
    assert "only a superuser may change them" in response.content.decode()
    url = reverse("users:reset", args=[superuser.pk])
    response = client.post(url, {"how": "one-time password"})
    assert response.status_code == 400
    superuser.refresh_from_db()
    assert superuser.is_active and superuser.check_password(PASSWORD)


@pytest.mark.parametrize("who", ["marketer", "support", "no_role_user"])
def test_forged_posts_from_other_roles_are_refused(persona, who, admin_user) -> None:
    client = login(persona(who))
    target = admin_user.pk
    forged = [
        (reverse("users:add"), {"username": "x", "role": "Admin", "how": "one-time password"}),
        (reverse("users:role", args=[target]), {"role": "Marketer"}),
        (reverse("users:active", args=[target]), {"active": "0"}),
        (reverse("users:reset", args=[target]), {"how": "one-time password"}),
    ]
    for url, data in forged:
        assert client.post(url, data).status_code == 403, url
    for url in (reverse("users:list"), reverse("users:detail", args=[target])):
        assert client.get(url).status_code == 403, url
    admin_user.refresh_from_db()
    assert admin_user.is_active and role_of(admin_user) == "Admin"
    assert admin_user.check_password(PASSWORD)
    assert not User.objects.filter(username="x").exists()
    assert not AuditEntry.objects.filter(target_type="user").exists()


def test_a_missing_person_is_a_404_not_a_500(admin_user) -> None:
    client = login(admin_user)
    assert client.get(reverse("users:detail", args=[999999])).status_code == 404
    assert client.post(reverse("users:role", args=[999999]), {"role": "Admin"}).status_code == 404


def test_anyone_may_change_their_own_password_from_the_menu(marketer) -> None:
    client = login(marketer)
    page = client.get(reverse("users:own_password"))
    assert page.status_code == 200 and not page.context["forced"]
    new = "another long secret 77"
    client.post(reverse("users:own_password"), {"new_password1": new, "new_password2": new})
    marketer.refresh_from_db()
    assert marketer.check_password(new)
    assert _events("user.password_changed")[-1].username == "maria"


def test_a_refused_addition_lists_its_problems_at_the_top_linked_to_their_fields(
    admin_user, support
) -> None:
    response = _add(login(admin_user), username="SAM", role="Superhero")
    page = response.content.decode()
    summary = page[
        page.index("data-error-summary") : page.index("</div>", page.index("data-error-summary"))
    ]
    assert "Nobody was added: fix these 2 problems." in summary
    assert 'href="#id_username"' in summary and "There is already a person called SAM." in summary
    assert 'href="#id_role_0"' in summary
