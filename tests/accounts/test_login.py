from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_login_page_is_styled_and_asks_for_username_and_password(client: Client) -> None:
    response = client.get(reverse("accounts:login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "vendor/bootstrap/css/bootstrap.min.css" in html
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert "Log in" in html


def test_it_logs_in_and_lands_on_the_home_page(client: Client, marketer) -> None:
    response = client.post(
        reverse("accounts:login"), {"username": "maria", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("home:index")
    assert "Welcome" in response.content.decode()
    assert "Marketer" in response.content.decode()


def test_it_returns_to_the_page_asked_for_after_logging_in(client: Client, admin_user) -> None:
    response = client.post(
        reverse("accounts:login") + "?next=/admin/",
        {"username": "ada", "password": PASSWORD, "next": "/admin/"},
    )
    assert response["Location"] == "/admin/"


def test_a_wrong_password_is_refused_with_a_message(client: Client, marketer) -> None:
    response = client.post(reverse("accounts:login"), {"username": "maria", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_repeated_failed_logins_are_throttled_with_a_clear_message(
    client: Client, marketer
) -> None:
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": "maria", "password": "wrong"})
    response = client.post(reverse("accounts:login"), {"username": "maria", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_throttling_one_user_does_not_lock_out_another(client: Client, marketer, support) -> None:
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": "maria", "password": "wrong"})
    response = client.post(reverse("accounts:login"), {"username": "sam", "password": PASSWORD})
    assert response.status_code == 302


def test_logging_out_ends_the_session(client: Client, marketer) -> None:
    client.force_login(marketer)
    response = client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("accounts:login")
    assert client.get("/").status_code == 302


def test_the_admin_site_uses_the_one_login_page(client: Client) -> None:
    response = client.get("/admin/login/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
