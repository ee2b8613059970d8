"""Logging out at the identity provider too (OpenID Connect RP-Initiated Logout 1.0).

Logging out of segadmin ends its own session; for a person who logged in through the identity
provider, the provider's session would stay, and the next person at that browser pressing "Log
in with <provider>" would be signed straight in as them. So, when the provider's discovery
document names an ``end_session_endpoint``, Log out then sends the browser there, with
``client_id`` and ``post_logout_redirect_uri`` (segadmin's log-in page, absolute), and the
provider ends its session (asking the person first, as it may) and sends them back.

- The endpoint is the one of the discovery document that allauth fetched at the start of that
  very log-in (NonceCheckingOIDCProvider.redirect keeps it in the log-in's state); once the
  log-in completes it is kept in the person's session. Log out reads it from there: no request
  to the provider while logging out, so a provider that is down cannot make it fail, and the
  segadmin session always ends first.
- No ``id_token_hint``: allauth keeps the ID token's claims (``extra_data``), not the signed
  token itself; the specification allows ``client_id`` alone.
- A password log-in, a provider without the endpoint, or ``SEGADMIN_OIDC_LOGOUT`` off: Log out
  ends the segadmin session only, as before.
- The Log out form (on every page) is answered by a redirect to the provider, which the page's
  Content-Security-Policy ``form-action`` must allow (browsers check it on the redirects a
  form's submission follows): ``FormActionMiddleware`` adds the endpoint's origin to the
  policy of the pages of a person whose session holds one, and of nobody else's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

if TYPE_CHECKING:
    from allauth.socialaccount.models import SocialLogin

# Where a log-in's state keeps the endpoint, and the session after the log-in.
STATE_KEY = "end_session_endpoint"
SESSION_KEY = "segadmin_sso_end_session_endpoint"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def endpoint_in(config: Mapping[str, Any]) -> str:
    """The discovery document's ``end_session_endpoint`` when it is one segadmin sends people
    to (an absolute https address, or http on this machine, without a fragment); else ""."""
    value = config.get("end_session_endpoint")
    if not isinstance(value, str) or not value or len(value) > 2000:
        return ""
    parts = urlsplit(value)
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
    if not secure or not parts.hostname or parts.fragment:
        return ""
    return value


def remember(request: HttpRequest, sociallogin: SocialLogin) -> None:
    """At a log-in through the provider: keeps its end-session endpoint (from the log-in's
    state) in the new session, or forgets any."""
    endpoint = endpoint_in(sociallogin.state or {})
    if endpoint:
        request.session[SESSION_KEY] = endpoint
    else:
        request.session.pop(SESSION_KEY, None)


def endpoint(request: HttpRequest) -> str:
    """The end-session endpoint this session's log-out goes to, "" for none (a password log-in,
    a provider without one, single sign-on or SEGADMIN_OIDC_LOGOUT off)."""
    if not settings.SEGADMIN_SSO_ENABLED or not settings.SEGADMIN_OIDC_LOGOUT:
        return ""
    session = getattr(request, "session", None)
    if session is None:
        return ""
    return endpoint_in({"end_session_endpoint": session.get(SESSION_KEY)})


def client_id() -> str:
    for app in settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS", []):
        if app.get("provider_id") == settings.SEGADMIN_OIDC_PROVIDER_ID:
            return str(app.get("client_id", ""))
    return ""


def logout_url(request: HttpRequest) -> str:
    """Where the browser goes once segadmin's session has ended: the provider's end-session
    endpoint with client_id and post_logout_redirect_uri (its own query kept); "" for none."""
    target = endpoint(request)
    client = client_id()
    if not target or not client:
        return ""
    parts = urlsplit(target)
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name not in ("client_id", "post_logout_redirect_uri", "id_token_hint")
    ]
    query += [
        ("client_id", client),
        ("post_logout_redirect_uri", request.build_absolute_uri(reverse("accounts:login"))),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def allow_form_action(response: HttpResponse, origin: str) -> None:
    """Adds ``origin`` to the response's CSP form-action (its own policy, or the site's)."""
    policy: dict[str, Any] = dict(getattr(response, "_csp_config", None) or settings.SECURE_CSP)
    allowed = list(policy.get("form-action", []))
    if origin not in allowed:
        policy["form-action"] = [*allowed, origin]
    response._csp_config = policy  # type: ignore[attr-defined]  # read by Django's CSP


class FormActionMiddleware:
    """Lets the Log out form of a person whose log-out goes on to the provider follow that
    redirect: the endpoint's origin joins the page's form-action (see the module's text)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        target = endpoint(request)
        if target:
            parts = urlsplit(target)
            allow_form_action(response, f"{parts.scheme}://{parts.netloc}")
        return response
