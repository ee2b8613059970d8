"""Users: an Admin removes the second factor of a person who lost their phone or keys (every
authenticator app, recovery code and security key of theirs), POST only, with the box naming
the person ticked, after a recent log-in or confirmation, never on themselves, audited with the
kinds removed and no secret; other roles' forged POSTs are refused; an Admin whose factor was
removed is sent to set one up again when SEGADMIN_REQUIRE_MFA is on."""

from __future__ import annotations

import time
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.webauthn.internal.auth import WebAuthn
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from segadmin.audit.models import AuditEntry
from tests.conftest import PASSWORD, make_user, mark_recently_authenticated
from tests.factories import login
from tests.second_factor import enrol, security_key_credential, totp

pytestmark = pytest.mark.django_db

ACTION = "user.second_factor_reset"
CONFIRM = "/accounts/reauthenticate/"


def _url(person: User) -> str:
    return reverse("users:second_factor_reset", args=[person.pk])


def _kinds(person: User) -> list[str]:
    return sorted(Authenticator.objects.filter(user=person).values_list("type", flat=True))


def _events() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=ACTION).order_by("seq"))


@pytest.fixture
def lost(support: User) -> tuple[User, str, list[str]]:
    """sam, with an authenticator app, recovery codes and a security key: (sam, secret, codes)."""
    secret, codes = enrol(support)
    WebAuthn.add(support, "Sam's key", security_key_credential())
    return support, secret, codes


def test_an_admin_removes_every_second_factor_of_a_person_and_it_is_audited(
    admin_user: User, lost: tuple[User, str, list[str]]
) -> None:
    sam, secret, codes = lost
    assert _kinds(sam) == ["recovery_codes", "totp", "webauthn"]
    client = login(admin_user)
    page = client.get(reverse("users:detail", args=[sam.pk])).content.decode()
    assert "Remove second factor" in page
    assert "Remove every second factor of sam" in page
    assert f'action="{_url(sam)}"' in page

    response = client.post(_url(sam), {"confirm": str(sam.pk)})
    assert response.status_code == 302
    assert response["Location"] == reverse("users:detail", args=[sam.pk])
    assert _kinds(sam) == []
    page = client.get(response["Location"]).content.decode()
    assert "second factor is removed" in page
    assert client.get(reverse("users:detail", args=[sam.pk])).context["second_factor"] == "None"
    rows = {r["user"].username: r for r in client.get(reverse("users:list")).context["rows"]}
    assert rows["sam"]["second_factor"] == "None"

    (entry,) = _events()
    assert entry.username == "ada" and entry.target_type == "user"
    assert entry.target_name == "sam" and str(entry.target_id) == str(sam.pk)
    assert entry.details_data == {
        "removed": ["authenticator app", "recovery codes", "security key"],
        "security_keys": 1,
        "sessions_ended": 0,
    }
    for secret_text in (secret, totp(secret), *codes):
        assert secret_text not in entry.details
    # The person logs in with the password alone now.
    answer = Client().post(reverse("accounts:login"), {"username": "sam", "password": PASSWORD})
    assert answer.status_code == 302 and answer["Location"] == "/"


def test_without_the_box_naming_the_person_nothing_is_removed(
    admin_user: User, lost: tuple[User, str, list[str]]
) -> None:
    sam = lost[0]
    client = login(admin_user)
    for data in ({}, {"confirm": str(admin_user.pk)}, {"confirm": "yes"}):
        response = client.post(_url(sam), data)
        assert response.status_code == 400
        assert "Tick the box that names sam" in response.content.decode()
    assert _kinds(sam) == ["recovery_codes", "totp", "webauthn"]
    assert _events() == []


def test_a_get_removes_nothing(admin_user: User, lost: tuple[User, str, list[str]]) -> None:
    sam = lost[0]
    assert login(admin_user).get(_url(sam), {"confirm": str(sam.pk)}).status_code == 405
    assert _kinds(sam) == ["recovery_codes", "totp", "webauthn"]
    assert _events() == []


@pytest.mark.parametrize("who", ["marketer", "support", "no_role_user"])
def test_a_forged_post_of_another_role_is_refused(persona: Any, who: str, admin_user: User) -> None:
    enrol(admin_user)
    person = persona(who)
    response = login(person).post(_url(admin_user), {"confirm": str(admin_user.pk)})
    assert response.status_code == 403
    assert _kinds(admin_user) == ["recovery_codes", "totp"]
    assert _events() == []


def test_an_admin_cannot_remove_their_own_here(admin_user: User) -> None:
    enrol(admin_user)
    client = login(admin_user)
    page = client.get(reverse("users:detail", args=[admin_user.pk])).content.decode()
    assert "Remove second factor" not in page
    assert reverse("mfa_index") in page
    response = client.post(_url(admin_user), {"confirm": str(admin_user.pk)})
    assert response.status_code == 400
    assert "Manage your own second factor on the Second factor page" in response.content.decode()
    assert _kinds(admin_user) == ["recovery_codes", "totp"]
    assert _events() == []


def test_only_a_superuser_may_remove_a_superusers(admin_user: User, superuser: User) -> None:
    enrol(superuser)
    response = login(admin_user).post(_url(superuser), {"confirm": str(superuser.pk)})
    assert response.status_code == 400
    assert _kinds(superuser) == ["recovery_codes", "totp"]
    response = login(make_user("root2", None, is_superuser=True)).post(
        _url(superuser), {"confirm": str(superuser.pk)}
    )
    assert response.status_code == 302
    assert _kinds(superuser) == []
    assert [e.target_name for e in _events()] == ["root"]


def test_a_person_without_a_second_factor_changes_nothing(admin_user: User, support: User) -> None:
    client = login(admin_user)
    page = client.get(reverse("users:detail", args=[support.pk])).content.decode()
    assert "Remove second factor" not in page and "sam has no second factor" in page
    response = client.post(_url(support), {"confirm": str(support.pk)}, follow=True)
    assert "sam had no second factor: nothing changed" in response.content.decode()
    assert _events() == []


def test_re_authentication_is_demanded_first(
    admin_user: User, lost: tuple[User, str, list[str]]
) -> None:
    sam = lost[0]
    client = Client()
    client.force_login(admin_user)
    mark_recently_authenticated(client.session, admin_user, at=time.time() - 360)
    response = client.post(_url(sam), {"confirm": str(sam.pk)})
    assert response.status_code == 302
    back = reverse("users:detail", args=[sam.pk])
    assert response["Location"].startswith(CONFIRM)
    assert back.replace("/", "%2F") in response["Location"]
    assert _kinds(sam) == ["recovery_codes", "totp", "webauthn"]
    assert _events() == []
    # Confirming the password leads back to the person's page; pressing again removes it.
    confirmed = client.post(response["Location"], {"password": PASSWORD})
    assert confirmed.status_code == 302 and confirmed["Location"] == back
    assert client.post(_url(sam), {"confirm": str(sam.pk)}).status_code == 302
    assert _kinds(sam) == []
    assert len(_events()) == 1


def test_an_admin_whose_factor_was_removed_is_sent_to_set_one_up(
    settings: Any, admin_user: User
) -> None:
    settings.SEGADMIN_REQUIRE_MFA = True
    other = make_user("otto", "Admin")
    enrol(other)
    enrol(admin_user)
    theirs = login(other)
    assert theirs.get("/").status_code == 200
    assert login(admin_user).post(_url(other), {"confirm": str(other.pk)}).status_code == 302
    assert _kinds(other) == []
    # Their session ended with the factor; logged in again with the password alone, they are
    # sent to set one up.
    response = theirs.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    again = Client()
    answer = again.post(reverse("accounts:login"), {"username": "otto", "password": PASSWORD})
    assert answer.status_code == 302
    response = again.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("mfa_index")
