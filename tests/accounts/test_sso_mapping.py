"""Single sign-on's settings and the mapping from the identity provider's groups to one role."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from segadmin.accounts.sso import (
    group_names,
    groups_of,
    nonce_problem,
    role_for_groups,
    username_of,
)
from segadmin.settings import oidc_issuer, oidc_role_map

ROOT = Path(__file__).resolve().parents[2]
ROLE_MAP = {"marketing": "Marketer", "support": "Support", "admins": "Admin"}


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["marketing"], "Marketer"),
        (["support"], "Support"),
        (["admins"], "Admin"),
        # Several mapped groups: the highest role, whatever the order.
        (["marketing", "support"], "Support"),
        (["support", "admins", "marketing"], "Admin"),
        (["marketing", "finance"], "Marketer"),
        # None, or only unknown ones: no role.
        ([], None),
        (["finance", "everyone"], None),
        # Names match exactly.
        (["Marketing", "marketing "], None),
    ],
)
def test_the_role_is_the_highest_the_groups_map_to(groups: list[str], role: str | None) -> None:
    assert role_for_groups(groups, ROLE_MAP) == role


@pytest.mark.parametrize(
    ("claim", "names"),
    [
        (["a", "b"], ["a", "b"]),
        ("a", ["a"]),  # one group sent as a string
        (None, []),
        ({"a": 1}, []),
        (["a", 3, None], ["a"]),
    ],
)
def test_a_groups_claim_is_read_as_a_list_of_names(claim: object, names: list[str]) -> None:
    assert group_names(claim) == names


def test_the_groups_come_from_userinfo_else_the_id_token() -> None:
    both = {"userinfo": {"roles": ["support"]}, "id_token": {"roles": ["admins"]}}
    assert groups_of(both, "roles") == ["support"]
    assert groups_of({"userinfo": {"sub": "1"}, "id_token": {"roles": ["admins"]}}, "roles") == [
        "admins"
    ]
    assert groups_of({"userinfo": {"sub": "1"}}, "roles") == []


def test_the_username_is_the_preferred_username_else_the_email() -> None:
    assert username_of({"preferred_username": "mia", "email": "m@example.com"}) == "mia"
    assert username_of({"preferred_username": " ", "email": "m@example.com"}) == "m@example.com"
    assert username_of({}) == ""


def test_the_role_map_setting_is_parsed() -> None:
    assert oidc_role_map("marketing:Marketer, support:support ,admins:ADMIN,") == ROLE_MAP
    # A group name may hold colons: the role is after the last one.
    assert oidc_role_map("urn:groups:ops:Admin") == {"urn:groups:ops": "Admin"}
    assert oidc_role_map("") == {}


@pytest.mark.parametrize("raw", ["marketing", "marketing:Boss", ":Admin", "a:Admin,b"])
def test_a_bad_role_map_stops_start_up_saying_how(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"SEGADMIN_OIDC_ROLE_MAP.*GROUP:ROLE"):
        oidc_role_map(raw)


def test_the_issuer_must_be_https_except_on_this_machine() -> None:
    assert oidc_issuer("https://login.example.com/realms/staff/") == (
        "https://login.example.com/realms/staff"
    )
    assert oidc_issuer("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
    assert oidc_issuer("") == ""
    with pytest.raises(ImproperlyConfigured, match="SEGADMIN_OIDC_ISSUER"):
        oidc_issuer("http://login.example.com")


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import segadmin.settings"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "SEGADMIN_ENV_FILE": "none", "DEBUG": "true", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_password_log_in_off_without_single_sign_on_stops_start_up() -> None:
    result = _start(SEGADMIN_PASSWORD_LOGIN="false")
    assert result.returncode != 0
    assert "SEGADMIN_PASSWORD_LOGIN=false" in result.stderr
    assert "SEGADMIN_OIDC_ISSUER" in result.stderr


def test_single_sign_on_without_a_role_map_stops_start_up_and_never_shows_the_secret() -> None:
    secret = "the-client-secret-0123456789"
    result = _start(
        SEGADMIN_OIDC_ISSUER="https://login.example.com",
        SEGADMIN_OIDC_CLIENT_ID="segadmin",
        SEGADMIN_OIDC_CLIENT_SECRET=secret,
    )
    assert result.returncode != 0
    assert "SEGADMIN_OIDC_ROLE_MAP is empty" in result.stderr
    assert secret not in result.stderr + result.stdout
    ok = _start(
        SEGADMIN_OIDC_ISSUER="https://login.example.com",
        SEGADMIN_OIDC_CLIENT_ID="segadmin",
        SEGADMIN_OIDC_CLIENT_SECRET=secret,
        SEGADMIN_OIDC_ROLE_MAP="staff:Marketer",
        SEGADMIN_PASSWORD_LOGIN="false",
    )
    assert ok.returncode == 0, ok.stderr


def _login(state: dict | None, id_token: object) -> SimpleNamespace:
    return SimpleNamespace(state=state, account=SimpleNamespace(extra_data={"id_token": id_token}))


def test_the_nonce_must_be_the_one_asked_for() -> None:
    assert nonce_problem(_login({"nonce": "n-123"}, {"nonce": "n-123"})) is None
    assert nonce_problem(_login({"nonce": "n-123"}, {"nonce": "n-124"})) == (
        "the ID token's nonce is not the one asked for"
    )
    assert nonce_problem(_login({"nonce": "n-123"}, {})) == "the ID token carries no nonce"
    assert nonce_problem(_login({"nonce": "n-123"}, None)) == "the ID token carries no nonce"
    assert nonce_problem(_login({}, {"nonce": "n-123"})) == "no nonce was asked for in this log-in"
    assert nonce_problem(_login(None, {"nonce": ""})) == "no nonce was asked for in this log-in"
