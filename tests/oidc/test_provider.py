"""The test provider itself: a real OpenID Connect code flow against it, without segadmin.

What segadmin's single sign-on tests lean on: discovery, the log-in and consent pages, a code
exchanged for tokens with the client secret, the groups claim in the ID token and at userinfo,
a group change read at the next log-in, and the wrong-nonce switch.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests

from tests.oidc.fixture import PASSWORD, OIDCProvider

REDIRECT_URI = "http://127.0.0.1:8999/accounts/oidc/sso/login/callback/"


def _form_action(html: str, name: str) -> str:
    match = re.search(rf'action="([^"]*/{name})"', html)
    assert match, html
    return match.group(1)


def _follow(session: requests.Session, response: requests.Response) -> requests.Response:
    """Follows the provider's redirects, stopping at the client's redirect URI."""
    while response.is_redirect:
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(REDIRECT_URI):
            return response
        response = session.get(location, allow_redirects=False, timeout=10)
    return response


def code_flow(
    provider: OIDCProvider,
    username: str,
    password: str = PASSWORD,
    nonce: str = "n-1",
    **params: str,
) -> dict[str, Any]:
    session = requests.Session()
    config = session.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=10).json()
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    query = urlencode(
        {
            "client_id": provider.client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid profile email groups",
            "state": "s-1",
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **params,
        }
    )
    authorize = f"{config['authorization_endpoint']}?{query}"
    response = _follow(session, session.get(authorize, allow_redirects=False, timeout=10))
    result: dict[str, Any] = {"login_page": response.text}
    login = urljoin(response.url, _form_action(response.text, "login"))
    response = session.post(
        login, data={"username": username, "password": password}, allow_redirects=False, timeout=10
    )
    if not response.is_redirect:
        result["refused"] = response.text
        return result
    response = _follow(session, response)
    if not response.is_redirect:  # the consent page
        confirm = urljoin(response.url, _form_action(response.text, "confirm"))
        response = _follow(session, session.post(confirm, allow_redirects=False, timeout=10))
    back = parse_qs(urlparse(response.headers["Location"]).query)
    assert back["state"] == ["s-1"]
    tokens = session.post(
        config["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": back["code"][0],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(provider.client_id, provider.client_secret),
        timeout=10,
    ).json()
    payload = tokens["id_token"].split(".")[1]
    result["id_token"] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    result["userinfo"] = session.get(
        config["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()
    return result


def test_discovery_names_the_issuer_and_the_groups_claim(oidc_provider: OIDCProvider) -> None:
    config = requests.get(
        f"{oidc_provider.issuer}/.well-known/openid-configuration", timeout=10
    ).json()
    assert config["issuer"] == oidc_provider.issuer
    assert oidc_provider.issuer.startswith("http://127.0.0.1:")
    assert "groups" in config["claims_supported"]
    assert "groups" in config["scopes_supported"]


def test_a_code_flow_gives_the_groups_in_the_id_token_and_at_userinfo(
    oidc_provider: OIDCProvider,
) -> None:
    result = code_flow(oidc_provider, "mallory.marketing")
    assert 'for="username">Username<' in result["login_page"]
    token = result["id_token"]
    assert token["iss"] == oidc_provider.issuer
    assert token["aud"] == oidc_provider.client_id
    assert token["nonce"] == "n-1"
    assert token["groups"] == ["marketing"]
    assert token["preferred_username"] == "mallory.marketing"
    assert result["userinfo"]["groups"] == ["marketing"]
    assert result["userinfo"]["email"] == "mallory.marketing@example.com"


def test_a_wrong_password_is_refused_on_the_providers_page(oidc_provider: OIDCProvider) -> None:
    result = code_flow(oidc_provider, "sam.support", password="not the password")
    assert "Wrong username or password." in result["refused"]


def test_a_group_change_is_read_at_the_next_log_in(oidc_provider: OIDCProvider) -> None:
    assert code_flow(oidc_provider, "sam.support")["id_token"]["groups"] == ["support"]
    oidc_provider.set_groups("sam.support", ["marketing", "support"])
    assert code_flow(oidc_provider, "sam.support")["userinfo"]["groups"] == [
        "marketing",
        "support",
    ]


def test_the_wrong_nonce_switch_changes_the_id_tokens_nonce(oidc_provider: OIDCProvider) -> None:
    oidc_provider.issue_wrong_nonce()
    token = code_flow(oidc_provider, "mallory.marketing", nonce="asked-for")["id_token"]
    assert token["nonce"] != "asked-for"


def test_asked_for_a_fresh_sign_in_the_id_token_says_when_it_was(
    oidc_provider: OIDCProvider,
) -> None:
    """segadmin's confirmations ask with prompt=login and max_age=0 and require auth_time."""
    before = int(time.time())
    result = code_flow(oidc_provider, "alice.admin", prompt="login", max_age="0")
    assert 'for="username">Username<' in result["login_page"]
    assert before - 5 <= result["id_token"]["auth_time"] <= time.time() + 5
