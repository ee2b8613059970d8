"""Every page needs a login, and each role sees only what it may use.

The role matrix is one row per URL and one column per persona; each feature adds its rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

# Pages anyone may open: the log-in page itself, the load balancer's health check and the
# page of a set-password link an Admin handed over (it works only with a valid token).
PUBLIC = {"/accounts/login/", "/healthz", "/favicon.ico", "/users/set-password/1/1/"}
# django-allauth's pages for people who are not (yet) logged in: the page an inactive account
# lands on and the one of a single sign-on the person cancelled at their identity provider.
PUBLIC |= {"/accounts/inactive/", "/accounts/3rdparty/login/cancelled/"}
# Single sign-on's entrance and the identity provider's way back: public by nature; a provider
# that is not configured is not found. The way back is listed twice: allauth's own route and
# segadmin's (sso.callback, the same address, taken first), whose provider_id is a <str:>.
SSO_ENTRANCES = {
    "/accounts/oidc/1/login/",
    "/accounts/oidc/1/login/callback/",
    "/accounts/oidc/x/login/callback/",
}


def _all_paths(patterns: list, prefix: str = "") -> Iterator[str]:
    for entry in patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _all_paths(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            path = prefix + route
            # Regex routes (the admin's) are reduced to a sample path; converters get a value.
            path = path.replace("^", "").replace("$", "").replace("\\Z", "")
            path = re.sub(r"<int:\w+>|<\w+>|\(\?P<\w+>[^)]*\)", "1", path)
            path = re.sub(r"<uuid:\w+>", "00000000-0000-4000-8000-000000000000", path)
            path = re.sub(r"<(?:str|slug|path):\w+>", "x", path)
            if any(ch in path for ch in "()[]?*+\\"):
                continue
            yield "/" + path


ALL_PATHS = sorted(set(_all_paths(get_resolver().url_patterns)))
PRIVATE_PATHS = [path for path in ALL_PATHS if path not in PUBLIC | SSO_ENTRANCES]


def test_the_url_walk_finds_the_pages() -> None:
    assert "/" in ALL_PATHS
    assert "/admin/" in ALL_PATHS
    assert len(ALL_PATHS) > 10


@pytest.mark.django_db
@pytest.mark.parametrize("path", PRIVATE_PATHS)
def test_every_page_redirects_an_anonymous_visitor_to_the_login_page(
    client: Client, path: str
) -> None:
    response = client.get(path, follow=True)
    if response.status_code == 405:
        response = client.post(path, follow=True)
    assert response.redirect_chain, f"{path} answered {response.status_code} without a login"
    final_path = response.redirect_chain[-1][0]
    assert final_path.startswith(reverse("accounts:login")), (path, final_path)
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(PUBLIC))
def test_only_the_login_page_health_check_favicon_and_set_password_link_are_public(
    client: Client, path: str
) -> None:
    assert path in ALL_PATHS
    response = client.get(path)
    assert response.status_code in (200, 301)
    assert not response.get("Location", "").startswith(reverse("accounts:login"))


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(SSO_ENTRANCES))
def test_single_sign_on_of_a_provider_not_configured_is_not_found(
    client: Client, path: str
) -> None:
    assert path in ALL_PATHS
    assert client.get(path).status_code == 404


# --- The role matrix ------------------------------------------------------------------------
# Expected status of a GET, per persona. Later features append rows here.
PERSONAS = ("no_role_user", "marketer", "support", "admin_user", "superuser")
ROLE_MATRIX: list[tuple[str, dict[str, int]]] = [
    (
        "home:index",
        {"no_role_user": 200, "marketer": 200, "support": 200, "admin_user": 200, "superuser": 200},
    ),
    (
        "admin:index",
        {"no_role_user": 403, "marketer": 403, "support": 403, "admin_user": 200, "superuser": 200},
    ),
    (
        "admin:auth_user_changelist",
        {"no_role_user": 403, "marketer": 403, "support": 403, "admin_user": 200, "superuser": 200},
    ),
    (
        "bulk:index",
        {"no_role_user": 403, "marketer": 200, "support": 200, "admin_user": 200, "superuser": 200},
    ),
    (
        "audit:list",
        {"no_role_user": 403, "marketer": 200, "support": 200, "admin_user": 200, "superuser": 200},
    ),
    (
        "audit:verify",
        {"no_role_user": 403, "marketer": 403, "support": 403, "admin_user": 200, "superuser": 200},
    ),
    (
        "audit:export",
        {"no_role_user": 403, "marketer": 403, "support": 403, "admin_user": 200, "superuser": 200},
    ),
    (
        "lookup:index",
        {"no_role_user": 403, "marketer": 403, "support": 200, "admin_user": 200, "superuser": 200},
    ),
    (
        "plans:list",
        {"no_role_user": 403, "marketer": 200, "support": 200, "admin_user": 200, "superuser": 200},
    ),
    (
        "users:list",
        {"no_role_user": 403, "marketer": 403, "support": 403, "admin_user": 200, "superuser": 200},
    ),
    (
        "users:add",
        {"no_role_user": 403, "marketer": 403, "support": 403, "admin_user": 200, "superuser": 200},
    ),
    (
        "users:own_password",
        {"no_role_user": 200, "marketer": 200, "support": 200, "admin_user": 200, "superuser": 200},
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url_name", "persona_name", "expected"),
    [(url, who, status) for url, row in ROLE_MATRIX for who, status in row.items()],
)
def test_role_matrix(
    client: Client, persona, url_name: str, persona_name: str, expected: int
) -> None:
    client.force_login(persona(persona_name))
    response = client.get(reverse(url_name), follow=True)
    assert response.status_code == expected


def test_the_role_matrix_covers_every_persona() -> None:
    for url_name, row in ROLE_MATRIX:
        assert set(row) == set(PERSONAS), url_name
