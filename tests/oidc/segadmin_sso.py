"""segadmin's single sign-on pointed at the test provider, and log-ins through it in Chromium."""

from __future__ import annotations

import json
from typing import Any

import pytest

from segadmin.settings import oidc_provider_settings
from tests.oidc.fixture import PASSWORD, OIDCProvider

PROVIDER_NAME = "Test IdP"
ROLE_MAP = {"marketing": "Marketer", "support": "Support", "admins": "Admin"}
CALLBACK_PATH = "/accounts/oidc/sso/login/callback/"


def configure(settings: Any, provider: OIDCProvider, **overrides: Any) -> None:
    """Single sign-on on, with the test provider (as the SEGADMIN_OIDC_* variables would)."""
    settings.SEGADMIN_SSO_ENABLED = True
    settings.SEGADMIN_OIDC_NAME = PROVIDER_NAME
    settings.SEGADMIN_OIDC_GROUPS_CLAIM = "groups"
    settings.SEGADMIN_OIDC_ROLE_MAP = ROLE_MAP
    settings.SOCIALACCOUNT_PROVIDERS = oidc_provider_settings(
        issuer=provider.issuer,
        client_id=provider.client_id,
        secret=provider.client_secret,
        name=PROVIDER_NAME,
        scopes=["openid", "profile", "email", "groups"],
    )
    for name, value in overrides.items():
        setattr(settings, name, value)


@pytest.fixture
def sso(settings: Any, oidc_provider: OIDCProvider) -> OIDCProvider:
    configure(settings, oidc_provider)
    return oidc_provider


def sso_log_in(
    page: Any,
    live_server: Any,
    provider: OIDCProvider,
    username: str,
    password: str = PASSWORD,
    *,
    expect_home: bool = True,
) -> None:
    """Presses "Log in with …", signs in at the provider (and allows, the first time in this
    browser) unless the provider still knows the browser; lands back at segadmin."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("button", name=f"Log in with {PROVIDER_NAME}").click()
    page.wait_for_load_state()
    if page.url.startswith(provider.issuer) and page.get_by_label("Username").count():
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
    if page.url.startswith(provider.issuer) and page.get_by_role("button", name="Allow").count():
        page.get_by_role("button", name="Allow").click()
    if expect_home:
        page.wait_for_url(f"{live_server.url}/")
    else:
        page.wait_for_url(f"{live_server.url}{CALLBACK_PATH}**")


def sso_log_out(page: Any, live_server: Any, provider: OIDCProvider) -> None:
    """Presses Log out (in the menu under the person's name): segadmin's session ends, then the
    provider asks whether to sign out there too (RP-initiated logout); "Yes" ends its session
    and sends the browser back to segadmin's log-in page."""
    page.get_by_test_id("whoami").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{provider.issuer}/**")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")


def audit_events(action: str) -> list[dict[str, Any]]:
    """The audit log's entries of one action, oldest first, details decoded."""
    from segadmin.audit.models import AuditEntry

    return [
        {
            "username": entry.username,
            "role": entry.role,
            "target": entry.target_name,
            "details": json.loads(entry.details) if entry.details else {},
        }
        for entry in AuditEntry.objects.filter(action=action).order_by("seq")
    ]


def all_audit_text() -> str:
    from segadmin.audit.models import AuditEntry

    return "\n".join(
        f"{e.username} {e.target_name} {e.details} {e.user_agent}" for e in AuditEntry.objects.all()
    )
