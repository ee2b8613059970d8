"""An Admin's change that must log a person out ends every open session of theirs at once
(their rows in django_session go, found through ``accounts.UserSession``): deactivation, a
password reset (Users page, Django admin, ``changepassword``) and the removal of their second
factor; the audit event says how many ("sessions_ended"). A role or source-limit change keeps
them logged in and applies at their next request. Nobody is given a password who signs in only
with single sign-on: the Users page offers no reset, a forged POST, the Django admin and
``changepassword`` are refused (recorded as "access.refused"), and nothing changes."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from segadmin.accounts.models import UserSession
from segadmin.audit.models import AuditEntry
from tests.conftest import PASSWORD, make_sso_user, make_user
from tests.factories import change_form, login, make_source
from tests.second_factor import enrol

pytestmark = pytest.mark.django_db
LOGIN = reverse("accounts:login")
NEW_PASSWORD = "violet kettle 42 harbour"


def _sessions_of(user: User) -> int:
    """Open sessions logged in as ``user``, read from the sessions themselves (not the notes)."""
    return sum(
        1
        for session in Session.objects.all()
        if session.get_decoded().get(SESSION_KEY) == str(user.pk)
    )


def _logged_in_by_the_form(user: User) -> Client:
    client = Client()
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    return client


def _sent_to_log_in(client: Client) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


def _event(action: str) -> AuditEntry:
    (entry,) = AuditEntry.objects.filter(action=action)
    return entry


@pytest.fixture
def sams_browsers(support: User) -> list[Client]:
    """sam logged in three times: twice by the log-in form, once directly."""
    browsers = [_logged_in_by_the_form(support), _logged_in_by_the_form(support), login(support)]
    for browser in browsers:
        assert browser.get("/").status_code == 200
    assert _sessions_of(support) == 3
    assert UserSession.objects.filter(user=support).count() == 3
    return browsers


def test_deactivation_ends_every_session_of_the_person(
    admin_user: User, support: User, sams_browsers: list[Client]
) -> None:
    admin = login(admin_user)
    response = admin.post(reverse("users:active", args=[support.pk]), {"active": "0"})
    assert response.status_code == 302
    assert _sessions_of(support) == 0
    assert not UserSession.objects.filter(user=support).exists()
    for browser in sams_browsers:
        assert _sent_to_log_in(browser)
    assert admin.get(reverse("users:list")).status_code == 200  # the Admin's own stays
    assert _event("user.deactivated").details_data == {"sessions_ended": 3}
    # Reactivating ends nothing and says nothing of sessions.
    admin.post(reverse("users:active", args=[support.pk]), {"active": "1"})
    assert _event("user.activated").details_data is None


@pytest.mark.parametrize("how", ["one-time password", "set-password link"])
def test_a_password_reset_by_an_admin_ends_every_session(
    how: str, admin_user: User, support: User, sams_browsers: list[Client]
) -> None:
    response = login(admin_user).post(reverse("users:reset", args=[support.pk]), {"how": how})
    assert response.status_code == 200
    assert _sessions_of(support) == 0
    for browser in sams_browsers:
        assert _sent_to_log_in(browser)
    assert _event("user.password_changed").details_data["sessions_ended"] == 3


def test_removing_the_second_factor_ends_every_session(
    admin_user: User, support: User, sams_browsers: list[Client]
) -> None:
    enrol(support)
    url = reverse("users:second_factor_reset", args=[support.pk])
    response = login(admin_user).post(url, {"confirm": str(support.pk)})
    assert response.status_code == 302
    assert _sessions_of(support) == 0
    for browser in sams_browsers:
        assert _sent_to_log_in(browser)
    assert _event("user.second_factor_reset").details_data["sessions_ended"] == 3


def test_a_refused_change_ends_nothing(admin_user: User, superuser: User) -> None:
    theirs = login(superuser)
    response = login(admin_user).post(reverse("users:active", args=[superuser.pk]), {"active": "0"})
    assert response.status_code == 400
    assert theirs.get("/").status_code == 200
    assert _sessions_of(superuser) == 1


def test_a_role_change_keeps_the_person_logged_in_and_applies_at_their_next_request(
    admin_user: User,
) -> None:
    other = make_user("otto", "Admin")
    theirs = login(other)
    assert theirs.get(reverse("users:list")).status_code == 200
    response = login(admin_user).post(reverse("users:role", args=[other.pk]), {"role": "Marketer"})
    assert response.status_code == 302
    assert theirs.get("/").status_code == 200  # still logged in
    assert theirs.get(reverse("users:list")).status_code == 403  # as a Marketer now
    assert _sessions_of(other) == 1
    login(admin_user).post(reverse("users:role", args=[other.pk]), {"role": "Admin"})
    assert theirs.get(reverse("users:list")).status_code == 200


def test_new_source_limits_keep_the_person_logged_in_and_apply_at_their_next_request(
    admin_user: User, marketer: User
) -> None:
    mine = make_source("Mine", "wk-mine-0123456789")
    theirs = make_source("Theirs", "wk-theirs-0123456789")
    browser = login(marketer)
    html = browser.get("/calls/track/").content.decode()
    assert f'<option value="{mine.pk}"' in html and f'<option value="{theirs.pk}"' in html
    response = login(admin_user).post(
        reverse("users:limits", args=[marketer.pk]), {"sources": [mine.pk]}
    )
    assert response.status_code == 302
    page = browser.get("/calls/track/")
    assert page.status_code == 200  # still logged in
    html = page.content.decode()
    assert f'<option value="{mine.pk}"' in html and f'<option value="{theirs.pk}"' not in html
    assert _sessions_of(marketer) == 1


def test_choosing_ones_own_password_ends_the_other_sessions_and_keeps_this_one(
    support: User, sams_browsers: list[Client]
) -> None:
    here, *others = sams_browsers
    url = reverse("users:own_password")
    response = here.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert here.get("/").status_code == 200
    for browser in others:
        assert _sent_to_log_in(browser)
    assert _event("user.password_changed").details_data["sessions_ended"] == 2
    # The session kept (under the new key Django gave it) is still noted: a deactivation ends it.
    assert UserSession.objects.filter(user=support).count() == 1
    admin = login(make_user("ada", "Admin"))
    admin.post(reverse("users:active", args=[support.pk]), {"active": "0"})
    assert _sent_to_log_in(here)


def test_the_django_admin_ends_the_sessions_too(
    admin_user: User, support: User, sams_browsers: list[Client]
) -> None:
    admin = login(admin_user)
    response = admin.post(
        reverse("admin:auth_user_password_change", args=[support.pk]),
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert _sessions_of(support) == 0
    assert _event("user.password_changed").details_data["sessions_ended"] == 3
    again = _logged_in_by_the_form_with(support, NEW_PASSWORD)
    response = admin.post(
        reverse("admin:auth_user_change", args=[support.pk]), change_form(support, is_active=None)
    )
    assert response.status_code == 302
    assert _sent_to_log_in(again)
    assert _event("user.deactivated").details_data == {"sessions_ended": 1}


def test_an_admin_changing_their_own_password_in_the_django_admin_stays_logged_in(
    admin_user: User,
) -> None:
    elsewhere = login(admin_user)
    admin = login(admin_user)
    response = admin.post(
        reverse("admin:auth_user_password_change", args=[admin_user.pk]),
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert admin.get(reverse("users:list")).status_code == 200
    assert _sent_to_log_in(elsewhere)
    assert _event("user.password_changed").details_data["sessions_ended"] == 1


def test_changepassword_ends_the_sessions(
    monkeypatch: Any, support: User, sams_browsers: list[Client]
) -> None:
    from django.contrib.auth.management.commands import changepassword

    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    call_command("changepassword", "sam")
    assert _sessions_of(support) == 0
    for browser in sams_browsers:
        assert _sent_to_log_in(browser)
    assert _event("user.password_changed").details_data["sessions_ended"] == 3


def _logged_in_by_the_form_with(user: User, password: str) -> Client:
    client = Client()
    response = client.post(LOGIN, {"username": user.username, "password": password})
    assert response.status_code == 302
    return client


def test_the_sessions_open_before_the_upgrade_are_noted_by_the_migration(
    support: User, marketer: User
) -> None:
    login(support), login(support), login(marketer)
    Client().get(LOGIN)  # an anonymous session: nobody's
    UserSession.objects.all().delete()
    migration = importlib.import_module("segadmin.accounts.migrations.0008_user_sessions")
    migration.note_open_sessions(apps, None)
    assert UserSession.objects.filter(user=support).count() == 2
    assert UserSession.objects.filter(user=marketer).count() == 1
    assert UserSession.objects.count() == 3


# --- single sign-on only: no password from an Admin ------------------------------------------


@pytest.fixture
def sso_only(db: None, settings: Any) -> User:
    settings.SEGADMIN_OIDC_NAME = "Acme ID"
    return make_sso_user("olga", "Support", uid="olga-sub")


def _nothing_changed(user: User, password_hash: str) -> None:
    user.refresh_from_db()
    assert user.password == password_hash and not user.has_usable_password()
    assert not AuditEntry.objects.filter(action="user.password_changed").exists()
    refused = _event("access.refused")
    assert refused.target_type == "user" and refused.target_name == "olga"
    assert refused.details_data["entrance"] == "Reset the password"
    assert refused.details_data["provider"] == "Acme ID"


def test_the_users_page_offers_no_reset_for_a_single_sign_on_person(
    admin_user: User, sso_only: User
) -> None:
    page = login(admin_user).get(reverse("users:detail", args=[sso_only.pk])).content.decode()
    assert "olga signs in with single sign-on: their identity provider (Acme ID)" in page
    assert reverse("users:reset", args=[sso_only.pk]) not in page
    # Everyone else's page keeps the button.
    other = make_user("pat", "Support")
    page = login(admin_user).get(reverse("users:detail", args=[other.pk])).content.decode()
    assert reverse("users:reset", args=[other.pk]) in page


@pytest.mark.parametrize("how", ["one-time password", "set-password link"])
def test_a_forged_reset_of_a_single_sign_on_person_is_refused(
    how: str, admin_user: User, sso_only: User
) -> None:
    theirs = login(sso_only)
    before = sso_only.password
    response = login(admin_user).post(reverse("users:reset", args=[sso_only.pk]), {"how": how})
    assert response.status_code == 400
    page = response.content.decode()
    assert "their identity provider (Acme ID) manages their sign-in" in page
    assert "Nothing was changed" in page
    _nothing_changed(sso_only, before)
    assert theirs.get("/").status_code == 200  # nothing ended either


def test_the_django_admin_refuses_a_password_for_a_single_sign_on_person(
    admin_user: User, sso_only: User
) -> None:
    before = sso_only.password
    response = login(admin_user).post(
        reverse("admin:auth_user_password_change", args=[sso_only.pk]),
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        follow=True,
    )
    assert response.status_code == 200
    assert "their identity provider (Acme ID) manages their sign-in" in response.content.decode()
    _nothing_changed(sso_only, before)


def test_changepassword_refuses_a_single_sign_on_person(monkeypatch: Any, sso_only: User) -> None:
    from django.contrib.auth.management.commands import changepassword

    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    before = sso_only.password
    with pytest.raises(CommandError, match="manages their sign-in"):
        call_command("changepassword", "olga")
    _nothing_changed(sso_only, before)


def test_a_person_with_a_password_and_single_sign_on_may_still_be_reset(
    admin_user: User, support: User
) -> None:
    SocialAccount.objects.create(user=support, provider="sso", uid="sam-sub")
    response = login(admin_user).post(
        reverse("users:reset", args=[support.pk]), {"how": "one-time password"}
    )
    assert response.status_code == 200 and response.context["password"]


# --- deleting a person ----------------------------------------------------------------------


def _keys_of(browsers: list[Client]) -> list[str]:
    return [browser.session.session_key for browser in browsers]


def _no_session_left(user_pk: int, keys: list[str]) -> bool:
    return (
        not Session.objects.filter(session_key__in=keys).exists()
        and not UserSession.objects.filter(user_id=user_pk).exists()
        and not UserSession.objects.filter(session_id__in=keys).exists()
    )


def test_deleting_a_person_in_the_django_admin_ends_every_session_of_theirs(
    admin_user: User, support: User, sams_browsers: list[Client]
) -> None:
    pk, keys = support.pk, _keys_of(sams_browsers)
    admin = login(admin_user)
    response = admin.post(reverse("admin:auth_user_delete", args=[pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=pk).exists()
    assert _no_session_left(pk, keys)
    for browser in sams_browsers:
        assert _sent_to_log_in(browser)
    assert admin.get(reverse("users:list")).status_code == 200  # the Admin's own stays
    assert _event("user.deleted").details_data == {
        "roles": ["Support"],
        "superuser": False,
        "sessions_ended": 3,
    }


def test_deleting_several_people_at_once_ends_each_ones_sessions(
    admin_user: User, support: User, marketer: User, sams_browsers: list[Client]
) -> None:
    marias = [_logged_in_by_the_form(marketer)]
    keys = _keys_of(sams_browsers) + _keys_of(marias)
    response = login(admin_user).post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [support.pk, marketer.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert _no_session_left(support.pk, keys) and _no_session_left(marketer.pk, keys)
    for browser in sams_browsers + marias:
        assert _sent_to_log_in(browser)
    ended = {
        entry.target_name: entry.details_data["sessions_ended"]
        for entry in AuditEntry.objects.filter(action="user.deleted")
    }
    assert ended == {"sam": 3, "maria": 1}


@pytest.mark.parametrize("how", ["instance", "queryset"])
def test_any_deletion_of_a_user_ends_their_sessions(
    how: str, support: User, sams_browsers: list[Client]
) -> None:
    # The shell, a script, another app: not only the Django admin.
    pk, keys = support.pk, _keys_of(sams_browsers)
    if how == "instance":
        support.delete()
    else:
        User.objects.filter(username="sam").delete()
    assert _no_session_left(pk, keys)
    for browser in sams_browsers:
        assert _sent_to_log_in(browser)


def test_deleting_a_person_leaves_everyone_elses_sessions(
    support: User, marketer: User, sams_browsers: list[Client]
) -> None:
    maria = _logged_in_by_the_form(marketer)
    support.delete()
    assert maria.get("/").status_code == 200
    assert UserSession.objects.filter(user=marketer).count() == 1


@pytest.mark.parametrize("persona_name", ["marketer", "support"])
def test_a_forged_deletion_by_a_marketer_or_support_ends_nothing(
    persona: Any, persona_name: str, admin_user: User
) -> None:
    target = make_user("otto", "Admin")
    theirs = _logged_in_by_the_form(target)
    forger = login(persona(persona_name))
    forger.post(reverse("admin:auth_user_delete", args=[target.pk]), {"post": "yes"})
    forger.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"},
    )
    assert User.objects.filter(pk=target.pk).exists()
    assert theirs.get("/").status_code == 200
    assert UserSession.objects.filter(user=target).count() == 1
    assert not AuditEntry.objects.filter(action="user.deleted").exists()


def test_an_admin_may_not_delete_a_superuser_nor_end_their_sessions(
    admin_user: User, superuser: User
) -> None:
    theirs = login(superuser)
    response = login(admin_user).post(
        reverse("admin:auth_user_delete", args=[superuser.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert theirs.get("/").status_code == 200
    assert _sessions_of(superuser) == 1


def _sessions_of_pk(pk: int) -> int:
    return sum(
        1 for session in Session.objects.all() if session.get_decoded().get(SESSION_KEY) == str(pk)
    )


def test_an_admin_who_deletes_their_own_account_is_logged_out_cleanly(admin_user: User) -> None:
    pk = admin_user.pk
    elsewhere = _logged_in_by_the_form(admin_user)
    admin = login(admin_user)
    response = admin.post(reverse("admin:auth_user_delete", args=[pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=pk).exists()
    assert not UserSession.objects.filter(user_id=pk).exists()
    assert _sessions_of_pk(pk) == 0
    assert _sent_to_log_in(admin) and _sent_to_log_in(elsewhere)
    assert _event("user.deleted").details_data["sessions_ended"] == 2
