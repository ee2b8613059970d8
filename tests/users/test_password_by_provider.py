"""A person who signs in only with single sign-on (an account linked to the identity provider,
no password of segadmin's) is not offered "Change password": the page says the provider keeps
their password, and a posted one is ignored. Everyone with a password keeps the form."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import User
from django.urls import reverse

from segadmin.audit.models import AuditEntry
from tests.conftest import make_sso_user, make_user
from tests.factories import login

CHANGE = reverse("users:own_password")
MENU_ITEM = f'href="{CHANGE}">Change password</a>'


@pytest.fixture
def sso_only(db: None, settings: Any) -> User:
    settings.SEGADMIN_OIDC_NAME = "Acme ID"
    return make_sso_user("olga.sso", "Admin", uid="olga-sub")


def test_the_menu_has_no_change_password_for_a_single_sign_on_person(sso_only: User) -> None:
    page = login(sso_only).get("/")
    assert page.status_code == 200
    assert MENU_ITEM not in page.content.decode()
    assert "Second factor" in page.content.decode()  # the rest of the menu stays


def test_the_page_says_the_provider_keeps_the_password(sso_only: User) -> None:
    client = login(sso_only)
    page = client.get(CHANGE)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Your password is managed by your identity provider, Acme ID" in html
    assert 'name="new_password1"' not in html
    # A forged post sets nothing: no password, no audit entry.
    posted = client.post(
        CHANGE, {"new_password1": "a long new secret 93", "new_password2": "a long new secret 93"}
    )
    assert posted.status_code == 200
    assert "managed by your identity provider" in posted.content.decode()
    sso_only.refresh_from_db()
    assert not sso_only.has_usable_password()
    assert not AuditEntry.objects.filter(action="user.password_changed").exists()


def test_their_own_users_page_says_so_too(sso_only: User) -> None:
    html = login(sso_only).get(reverse("users:detail", args=[sso_only.pk])).content.decode()
    assert "Your password is managed by your identity provider" in html
    assert MENU_ITEM not in html


def test_people_with_a_password_keep_the_menu_item_and_the_form(marketer: User) -> None:
    client = login(marketer)
    assert MENU_ITEM in client.get("/").content.decode()
    assert 'name="new_password1"' in client.get(CHANGE).content.decode()


def test_a_linked_person_who_also_has_a_password_keeps_the_form(db: None) -> None:
    # A break-glass superuser linked to the provider still has segadmin's password to change.
    user = make_user("root2", None, is_superuser=True, is_staff=True)
    SocialAccount.objects.create(user=user, provider="sso", uid="root2-sub")
    client = login(user)
    assert MENU_ITEM in client.get("/").content.decode()
    assert 'name="new_password1"' in client.get(CHANGE).content.decode()
