from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import PASSWORD


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "logged_in"), [("/accounts/login/", False), ("/", True)])
def test_every_page_has_a_csp_without_unsafe_inline(
    client: Client, marketer, path: str, logged_in: bool
) -> None:
    if logged_in:
        client.force_login(marketer)
    response = client.get(path)
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp


@pytest.mark.django_db
def test_the_csp_nonce_is_fresh_on_every_response(client: Client) -> None:
    first = client.get("/accounts/login/")["Content-Security-Policy"]
    second = client.get("/accounts/login/")["Content-Security-Policy"]
    assert "'nonce-" in first
    assert first != second


@pytest.mark.django_db
def test_pages_carry_no_inline_script_or_style(client: Client, admin_user) -> None:
    client.force_login(admin_user)
    html = client.get("/").content.decode()
    assert "style=" not in html
    for tag in html.split("<script")[1:]:
        assert "src=" in tag.split(">")[0], "inline <script> blocks are forbidden by the CSP"


@pytest.mark.django_db
def test_frames_are_denied_and_content_types_not_sniffed(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_hsts_is_sent_over_https_when_debug_is_off(client: Client) -> None:
    response = client.get("/accounts/login/", secure=True)
    assert "max-age=31536000" in response["Strict-Transport-Security"]


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_secure_and_expire(client: Client, marketer) -> None:
    assert settings.SESSION_COOKIE_SECURE
    assert settings.CSRF_COOKIE_SECURE
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.SESSION_COOKIE_AGE <= 12 * 60 * 60
    client.post("/accounts/login/", {"username": "maria", "password": PASSWORD}, secure=True)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["secure"]
    assert cookie["httponly"]
