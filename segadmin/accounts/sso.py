"""Single sign-on with OpenID Connect: django-allauth's openid_connect provider, fitted to
segadmin's roles.

- The identity provider's groups (the claim named by SEGADMIN_OIDC_GROUPS_CLAIM, from userinfo,
  else the ID token) set the person's role at every log-in, through SEGADMIN_OIDC_ROLE_MAP: one
  role, the highest of those their groups map to (Admin > Support > Marketer).
- A person in no mapped group is refused with a page that says so: nobody is created, and an
  existing account loses its role and is not logged in.
- People are created at their first log-in (username from ``preferred_username``, else the
  e-mail address), with no usable password.
- A nonce is sent with every authorisation request and must come back in the ID token; a
  missing or altered state is refused by allauth. Both land on the failure page.
- Every log-in, refusal, failure and role change is announced (segadmin.accounts.signals) for
  the audit log to record.
- A provider that cannot be reached (down, a closed port, no answer within
  SOCIALACCOUNT_REQUESTS_TIMEOUT, no whole answer within three times it: provider_http) or
  answers no usable discovery document, at the log-in's or confirmation's start or on the way
  back (its token, userinfo or keys endpoint), gives the failure page with status 502 (reason
  provider_unreachable), never a 500; so does a token endpoint answering an error status (5xx,
  or a 4xx that is no OAuth error) or a body that carries no token (CheckedOAuth2Client), or a
  userinfo answer naming no subject, while an OAuth error answer (a 4xx with a JSON "error",
  such as invalid_grant) is a refused code (reason provider_error, 400). Password
  log-in asks the provider nothing and keeps working.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from allauth.account.authentication import get_authentication_records
from allauth.account.internal.decorators import login_not_required
from allauth.account.internal.flows.login import record_authentication
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount import app_settings as socialaccount_settings
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount, SocialApp
from allauth.socialaccount.providers.base import ProviderException
from allauth.socialaccount.providers.base.constants import AuthError, AuthProcess
from allauth.socialaccount.providers.oauth2.client import OAuth2Client, OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare

from segadmin.accounts import provider_logout, signals
from segadmin.accounts.adapter import SocialAccountAdapter
from segadmin.accounts.provider_http import ProviderSession
from segadmin.accounts.roles import ADMIN, MARKETER, ROLES, SUPPORT

if TYPE_CHECKING:
    from allauth.socialaccount.models import SocialLogin
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

SSO = "single sign-on"
PASSWORD = "password"  # noqa: S105 - a log-in method's name
# The most powerful first: a person in several mapped groups gets the highest role.
BY_POWER = (ADMIN, SUPPORT, MARKETER)
# A confirmation's state keeps when it started (time.time()); the provider's sign-in must be
# no older than that, give or take this much difference between its clock and ours.
CONFIRM_STARTED = "confirm_started_at"
AUTH_TIME_SKEW_SECONDS = 30


# --- Settings ------------------------------------------------------------------------------


def configured() -> bool:
    return bool(settings.SEGADMIN_SSO_ENABLED)


def issuer() -> str:
    """The configured provider's issuer URL (from allauth's app, as the log-in uses it)."""
    for app in settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS", []):
        if app.get("provider_id") == settings.SEGADMIN_OIDC_PROVIDER_ID:
            return str(app.get("settings", {}).get("server_url", ""))
    return ""


def login_page_csp() -> dict[str, Any] | None:
    """The log-in page's Content-Security-Policy: as everywhere, but its "Log in with …" form
    (posted to segadmin) is answered by a redirect to the provider, which form-action must
    allow (browsers check it on the redirects a form's submission follows)."""
    if not configured() or not issuer():
        return None
    parts = urlsplit(issuer())
    policy: dict[str, Any] = dict(settings.SECURE_CSP)
    allowed = list(policy.get("form-action", []))
    policy["form-action"] = [*allowed, f"{parts.scheme}://{parts.netloc}"]
    return policy


def provider_name() -> str:
    return str(settings.SEGADMIN_OIDC_NAME)


def password_login_allowed(username: str) -> bool:
    """Whether a password may be tried for ``username`` at all (before any password check):
    always while password log-in is on; otherwise only for a break-glass name."""
    if settings.SEGADMIN_PASSWORD_LOGIN:
        return True
    return username in settings.SEGADMIN_BREAK_GLASS_USERS


def password_login_allowed_for(user: User) -> bool:
    """After the password matched: with password log-in off, only a break-glass superuser."""
    if settings.SEGADMIN_PASSWORD_LOGIN:
        return True
    return user.is_superuser and user.get_username() in settings.SEGADMIN_BREAK_GLASS_USERS


def password_managed_by_provider(user: User) -> bool:
    """Whether the person signs in only through the identity provider (an account linked to it
    and no password of segadmin's): their password is the provider's to change, not ours. No
    query for a person with a password."""
    if user.has_usable_password():
        return False
    return bool(SocialAccount.objects.filter(user_id=user.pk).exists())


# --- Groups to a role ----------------------------------------------------------------------


def group_names(value: object) -> list[str]:
    """A groups claim as a list of names: a list of strings, or one string (some providers send
    a single group so); anything else holds none."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def role_for_groups(groups: Iterable[str], role_map: Mapping[str, str]) -> str | None:
    """The one role that ``groups`` give: the highest mapped one; None when none is mapped.
    Group names match exactly (as the provider sends them); unknown groups are ignored."""
    roles = {role_map[name] for name in groups if name in role_map}
    return next((role for role in BY_POWER if role in roles), None)


def claims_of(extra_data: Mapping[str, Any]) -> dict[str, Any]:
    """What the provider said about the person: userinfo, else the ID token's claims."""
    for key in ("userinfo", "id_token"):
        value = extra_data.get(key)
        if isinstance(value, dict) and value:
            return value
    return dict(extra_data)


def groups_of(extra_data: Mapping[str, Any], claim: str) -> list[str]:
    """The groups claim, from userinfo when it carries one, else from the ID token."""
    for key in ("userinfo", "id_token"):
        value = extra_data.get(key)
        if isinstance(value, dict) and claim in value:
            return group_names(value[claim])
    return []


def username_of(claims: Mapping[str, Any]) -> str:
    for key in ("preferred_username", "email"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:150]
    return ""


def current_role(user: User) -> str | None:
    """The role groups the person holds (superuser status aside), as one name."""
    names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    return next((role for role in BY_POWER if role in names), None)


def set_role(user: User, role: str | None) -> None:
    """Leaves exactly ``role`` among the person's role groups (others untouched)."""
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(name=role or ""))
    if role:
        user.groups.add(Group.objects.get(name=role))


# --- The provider's discovery document, checked ----------------------------------------------

# What the log-in uses of the discovery document (segadmin always fetches userinfo).
DISCOVERY_ENDPOINTS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
)


class ProviderUnreachable(ProviderException):  # type: ignore[misc]
    """The identity provider did not answer, or not with a usable discovery document or token
    endpoint answer.
    ``kind`` is the failure's kind only (the class name of requests' error, "DiscoveryDocument",
    "TokenEndpoint" or "UserInfo"), never an exception's text, which may quote an address or an
    answer. A ProviderException, so allauth's callback hands it to on_authentication_error as
    it does requests' own errors. (requests' errors are OSErrors: segadmin catches them so;
    only its Segment client and the provider's session, provider_http, import requests.)"""

    def __init__(self, kind: str, problem: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.problem = problem


# The token endpoint's answers while CheckedOAuth2Client exchanges a code (None otherwise):
# kept by the response hook SingleSignOnAdapter puts on allauth's requests sessions, as allauth
# raises the same error for every answer that carries no token and keeps no status.
_token_answers: ContextVar[list[Any] | None] = ContextVar("token_answers", default=None)


def _keep_token_answer(response: Any, *args: Any, **kwargs: Any) -> Any:
    answers = _token_answers.get()
    if answers is not None:
        answers.append(response)
    return response


def token_answer_problem(status: int, body: bytes) -> str | None:
    """Why the token endpoint's answer to a code exchange, which gave no token, shows a
    provider at fault (as if out of reach), or None when it refused the code: an OAuth error
    answer (RFC 6749, 5.2: a JSON object with an "error", with a 4xx or, as some providers
    send it, a 2xx). Names the status or the kind of body only, never the body: it may echo
    the code or the client secret posted to it."""
    if 200 <= status < 300 or 400 <= status < 500:
        try:
            answer = json.loads(body)
        except ValueError:  # not JSON, nor UTF-8
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("error"), str) and answer["error"]:
            return None
        if status < 300:
            if not isinstance(answer, dict):
                return "the token endpoint's answer is not a JSON object"
            return "the token endpoint's answer carries no access token"
    return f"the token endpoint answered status {status}"


class CheckedOAuth2Client(OAuth2Client):  # type: ignore[misc]
    """allauth's client, whose code exchange tells a provider at fault from a refused code.
    allauth raises OAuth2Error (the 400 failure page, as for a refused code) for any answer
    other than 200 or 201 with a token, with the answer's body in its text, and fails
    uncaught (a 500) on a 200 without a Content-Type or with JSON that is no object. Here an
    error status or an answer with no token nor OAuth error is ProviderUnreachable ("the
    provider did not answer as it should": 502), an OAuth error answer stays OAuth2Error."""

    def get_access_token(
        self, code: str, pkce_code_verifier: str | None = None, extra_data: Any = None
    ) -> Any:
        answers: list[Any] = []
        reset = _token_answers.set(answers)
        failure: Exception | None = None
        try:
            data = super().get_access_token(
                code, pkce_code_verifier=pkce_code_verifier, extra_data=extra_data
            )
        except (OAuth2Error, KeyError, TypeError, ValueError) as error:
            # ValueError: requests' JSONDecodeError (an OSError too) and the like.
            failure, data = error, None
        finally:
            _token_answers.reset(reset)
        if isinstance(data, dict) and isinstance(data.get("access_token"), str):
            return data
        if not answers:  # allauth failed before asking: its error, as it was
            raise failure or OAuth2Error("no access token")
        answer = answers[-1]
        problem = token_answer_problem(answer.status_code, answer.content)
        if problem:
            raise ProviderUnreachable("TokenEndpoint", problem) from None
        # A refused code: allauth's error as before, never a KeyError or TypeError of its own.
        if isinstance(failure, OAuth2Error):
            raise failure
        raise OAuth2Error("Error retrieving access token") from None


class CheckedOIDCAdapter(OpenIDConnectOAuth2Adapter):  # type: ignore[misc]
    """allauth's OpenID Connect adapter, whose discovery document (fetched through allauth's
    requests session, with its timeout) is a JSON object naming the endpoints the log-in uses,
    or ProviderUnreachable: allauth would raise whatever its use of a bad one raised (a
    KeyError, an AttributeError), uncaught. Where allauth reads it outside its own error
    handling (get_client, first thing at the callback), the failure page is answered. Its
    code exchange is CheckedOAuth2Client's."""

    client_class = CheckedOAuth2Client

    @property
    def openid_config(self) -> dict[str, Any]:
        if not hasattr(self, "_openid_config"):
            try:
                config = super().openid_config
            except OSError as error:  # requests': down, a timeout, an error status, not JSON
                raise ProviderUnreachable(type(error).__name__) from error
            except (AttributeError, TypeError, ValueError) as error:  # JSON, but no object
                raise ProviderUnreachable(
                    "DiscoveryDocument", "the discovery document is not a JSON object"
                ) from error
            missing = [key for key in DISCOVERY_ENDPOINTS if not isinstance(config.get(key), str)]
            if missing:
                del self._openid_config
                raise ProviderUnreachable(
                    "DiscoveryDocument", f"the discovery document lacks {', '.join(missing)}"
                )
        return self._openid_config  # type: ignore[no-any-return]

    def get_client(self, request: HttpRequest, app: Any) -> Any:
        try:
            return super().get_client(request, app)
        except ProviderUnreachable as error:
            get_adapter(request).provider_unreachable(request, error)


@login_not_required  # type: ignore[untyped-decorator]
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    """allauth's OpenID Connect callback view (served at its address, before allauth's own in
    the URLconf), with CheckedOIDCAdapter: allauth's builds its adapter itself."""
    try:
        view = OAuth2CallbackView.adapter_view(CheckedOIDCAdapter(request, provider_id))
        return view(request)  # type: ignore[no-any-return]
    except SocialApp.DoesNotExist as error:
        raise Http404 from error


# --- The provider: allauth's, with a nonce --------------------------------------------------


class NonceCheckingOIDCProvider(OpenIDConnectProvider):  # type: ignore[misc]
    """allauth's OpenID Connect provider sends no nonce. This one sends a fresh one with each
    authorisation request and keeps it in the log-in's state (in the session);
    SingleSignOnAdapter.pre_social_login compares it with the ID token's.

    A confirmation (allauth's "redirect" process, from "Confirm with <provider>") always asks
    the provider for a fresh sign-in, ``prompt=login`` and ``max_age=0``, whatever the browser
    posted (the ``auth_params`` of the request are the browser's to leave out), and keeps when
    it started in the state: SingleSignOnAdapter.confirm requires the ID token's ``auth_time``
    to be no older.

    A log-in keeps the discovery document's ``end_session_endpoint`` in its state too, for
    Log out to go on to the provider (segadmin.accounts.provider_logout): from the document
    allauth fetches for this redirect anyway (one adapter, so one fetch)."""

    # allauth finds the provider's URLs (and templates) by this package, not this module's.
    package = "allauth.socialaccount.providers.openid_connect"
    oauth2_adapter_class = CheckedOIDCAdapter
    _adapter: Any = None

    def extract_uid(self, data: Any) -> str:
        """The person's subject ("sub") in the userinfo answer (else the ID token, as allauth
        picks). An answer that is no JSON object or names no subject is the provider
        answering nothing usable: the failure page (502), not a 500."""
        picked = data.get("userinfo") or data.get("id_token") or data
        field = self.app.settings.get("uid_field", "sub")
        subject = picked.get(field) if isinstance(picked, dict) else None
        if not isinstance(subject, str) or not subject:
            raise ProviderUnreachable("UserInfo", "the provider's answer names no subject")
        return str(super().extract_uid(data))

    def get_oauth2_adapter(self, request: HttpRequest) -> Any:
        if self._adapter is None or self._adapter.request is not request:
            self._adapter = super().get_oauth2_adapter(request)
        return self._adapter

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: str | None = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        try:
            config = self.get_oauth2_adapter(request).openid_config
        except ProviderUnreachable as error:
            get_adapter(request).provider_unreachable(request, error)
        nonce = secrets.token_urlsafe(32)
        auth_params = kwargs.pop("auth_params", None)
        if auth_params is None:
            auth_params = self.get_auth_params()
        auth_params = {**auth_params, "nonce": nonce}
        if process == AuthProcess.REDIRECT:
            auth_params.update({"prompt": "login", "max_age": "0"})
            kwargs[CONFIRM_STARTED] = time.time()
        else:
            endpoint = provider_logout.endpoint_in(config)
            if endpoint:
                kwargs[provider_logout.STATE_KEY] = endpoint
        return super().redirect(  # type: ignore[no-any-return]
            request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
        )


def freshness_problem(sociallogin: SocialLogin) -> str | None:
    """Why the ID token does not show a sign-in at the provider made for this confirmation
    (its ``auth_time`` no earlier than the confirmation's start, less the allowed clock skew),
    or None when it does."""
    started = (sociallogin.state or {}).get(CONFIRM_STARTED)
    id_token = sociallogin.account.extra_data.get("id_token")
    auth_time = id_token.get("auth_time") if isinstance(id_token, dict) else None
    if not isinstance(started, int | float) or isinstance(started, bool):
        return "the confirmation's start was not recorded"
    if not isinstance(auth_time, int | float) or isinstance(auth_time, bool):
        return "the ID token carries no auth_time"
    if auth_time < started - AUTH_TIME_SKEW_SECONDS:
        return "the sign-in at the provider is older than the confirmation"
    return None


def nonce_problem(sociallogin: SocialLogin) -> str | None:
    """Why the ID token's nonce is not the one this log-in asked for, or None when it is."""
    expected = (sociallogin.state or {}).get("nonce")
    id_token = sociallogin.account.extra_data.get("id_token")
    received = id_token.get("nonce") if isinstance(id_token, dict) else None
    if not isinstance(expected, str) or not expected:
        return "no nonce was asked for in this log-in"
    if not isinstance(received, str):
        return "the ID token carries no nonce"
    if not constant_time_compare(received, expected):
        return "the ID token's nonce is not the one asked for"
    return None


# --- The adapter ----------------------------------------------------------------------------


class SingleSignOnAdapter(SocialAccountAdapter):
    """allauth's social account adapter for segadmin's single sign-on."""

    def get_requests_session(self) -> Any:
        """The session for the provider: allauth's timeout, and a deadline on each whole
        request (provider_http); it lets CheckedOAuth2Client read the token endpoint's answer."""
        session = ProviderSession(socialaccount_settings.REQUESTS_TIMEOUT)
        session.hooks["response"].append(_keep_token_answer)
        return session

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: Any) -> Any:
        user = super().populate_user(request, sociallogin, data)
        claims = claims_of(sociallogin.account.extra_data)
        user.username = username_of(claims) or user.username
        return user

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        extra = sociallogin.account.extra_data
        claims = claims_of(extra)
        username = username_of(claims)
        existing = sociallogin.user if sociallogin.is_existing else None
        process = (sociallogin.state or {}).get("process")
        if process not in (None, AuthProcess.LOGIN, AuthProcess.REDIRECT):
            # Linking an identity to an account already logged in would bypass the mapping.
            self._fail(request, "not_a_login", username, existing, {"process": str(process)})
        problem = nonce_problem(sociallogin)
        if problem:
            self._fail(request, "nonce", username, existing, {"problem": problem})
        if process == AuthProcess.REDIRECT:
            self.confirm(request, sociallogin, username, existing)
            return
        if existing is None and username and _username_taken(username):
            # Never linked by name: a provider's "root" must not become segadmin's root.
            self._fail(request, "username_taken", username, None, {})
        if existing is None:
            _drop_an_email_already_taken(sociallogin)
        groups = groups_of(extra, settings.SEGADMIN_OIDC_GROUPS_CLAIM)
        role = role_for_groups(groups, settings.SEGADMIN_OIDC_ROLE_MAP)
        if existing is not None:
            self._apply_role(request, existing, role, groups)
        if role is None:
            signals.login_failed.send(
                sender=type(self),
                request=request,
                provider=provider_name(),
                method=SSO,
                reason="no_mapped_group",
                username=username,
                user=existing,
                details={"groups": groups},
            )
            raise ImmediateHttpResponse(
                render(
                    request,
                    "accounts/sso_refused.html",
                    {"provider_name": provider_name(), "username": username},
                    status=403,
                )
            )

    def confirm(
        self,
        request: HttpRequest,
        sociallogin: SocialLogin,
        username: str,
        existing: User | None,
    ) -> None:
        """A re-authentication ("Confirm with <provider>", reauth.confirm_url): the person
        logged in went through the provider again. It counts only when the provider account
        that came back is the one linked to them, and their groups still map to a role; then it
        is recorded as a recent authentication (allauth's record, which reauth reads) and
        allauth's "redirect" process sends them back to the action, still logged in as before
        (announced for the audit log: sso_reauthenticated). The provider must have signed them
        in anew for it: the ID token's ``auth_time`` no earlier than the confirmation's start
        (a provider answering from its own session, as it does when the request does not ask
        for a fresh sign-in, confirms nothing).
        Anything else logs nobody in and records nothing."""
        user = request.user
        if not user.is_authenticated:
            self._fail(request, "confirm_not_logged_in", username, existing, {})
        stale = freshness_problem(sociallogin)
        if stale:
            self._fail(request, "confirm_not_fresh", username, existing, {"problem": stale})
        if existing is None or existing.pk != user.pk:
            details = {"came_back_as": username, "linked_to": getattr(existing, "username", "")}
            self._fail(request, "confirm_other_account", username, existing, details)
        groups = groups_of(sociallogin.account.extra_data, settings.SEGADMIN_OIDC_GROUPS_CLAIM)
        role = role_for_groups(groups, settings.SEGADMIN_OIDC_ROLE_MAP)
        self._apply_role(request, existing, role, groups)
        if role is None:
            self._fail(request, "confirm_no_mapped_group", username, existing, {"groups": groups})
        record_authentication(
            request,
            user,
            "socialaccount",
            provider=sociallogin.account.provider,
            uid=sociallogin.account.uid,
            reauthenticated=True,
        )
        signals.sso_reauthenticated.send(
            sender=type(self), request=request, provider=provider_name(), user=existing, role=role
        )

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> Any:
        """A person's first log-in: the account, its role and the audit entry, together."""
        groups = groups_of(sociallogin.account.extra_data, settings.SEGADMIN_OIDC_GROUPS_CLAIM)
        role = role_for_groups(groups, settings.SEGADMIN_OIDC_ROLE_MAP)
        with transaction.atomic():
            user = super().save_user(request, sociallogin, form)
            set_role(user, role)
            signals.sso_user_created.send(
                sender=type(self),
                request=request,
                provider=provider_name(),
                user=user,
                role=role,
                groups=groups,
            )
        return user

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        """A failed log-in at the provider or on the way back (cancelled, an error from the
        provider, a missing or altered state, a code that could not be exchanged)."""
        context = extra_context or {}
        if isinstance(exception, OSError | ProviderUnreachable):  # requests' errors: OSErrors
            # The token, userinfo or keys endpoint could not be reached or answered no JSON.
            self.provider_unreachable(request, exception)
        if context.get("state") is None and "state_id" in context:
            reason = "state"
        elif error == AuthError.CANCELLED:
            reason = "cancelled"
        elif error == AuthError.DENIED:
            reason = "denied"
        else:
            reason = "provider_error"
        details: dict[str, Any] = {}
        provider_error = request.GET.get("error")
        if provider_error:
            details["provider_error"] = provider_error[:100]
        if exception is not None:
            # The kind of failure only: an exception's text may quote a token endpoint's answer.
            details["exception"] = type(exception).__name__
        logger.info("single sign-on failed: %s %s", reason, details)
        self._fail(request, reason, "", None, details)

    def provider_unreachable(self, request: HttpRequest, error: Exception) -> NoReturn:
        """The provider could not be reached, or answered nothing usable: the failure page
        (502), audited as a failed log-in (reason provider_unreachable) naming the kind of
        failure only, never an address, a code or a secret. During a confirmation the person
        stays logged in as before, and is the entry's target."""
        details = {"exception": getattr(error, "kind", type(error).__name__)}
        problem = getattr(error, "problem", "")
        if problem:
            details["problem"] = problem
        logger.warning("single sign-on: %s could not be reached: %s", provider_name(), details)
        user = request.user if request.user.is_authenticated else None
        self._fail(request, "provider_unreachable", "", user, details)

    # --- helpers ---

    def _apply_role(
        self, request: HttpRequest, user: User, role: str | None, groups: list[str]
    ) -> None:
        before = current_role(user)
        if before == role:
            return
        with transaction.atomic():
            set_role(user, role)
            signals.sso_role_changed.send(
                sender=type(self),
                request=request,
                provider=provider_name(),
                user=user,
                before=before,
                after=role,
                groups=groups,
            )

    def _fail(
        self,
        request: HttpRequest,
        reason: str,
        username: str,
        user: User | None,
        details: dict[str, Any],
    ) -> NoReturn:
        signals.login_failed.send(
            sender=type(self),
            request=request,
            provider=provider_name(),
            method=SSO,
            reason=reason,
            username=username,
            user=user,
            details=details,
        )
        raise ImmediateHttpResponse(failure_page(request, reason))


def _drop_an_email_already_taken(sociallogin: SocialLogin) -> None:
    """A new person whose e-mail address another account already has is created without it
    (allauth would otherwise stop at a sign-up form, as it never links accounts by e-mail)."""
    from allauth.account.internal.userkit import filter_users_by_email

    addresses = [a.email for a in sociallogin.email_addresses if a.email]
    if any(filter_users_by_email(address) for address in addresses):
        sociallogin.email_addresses = []
        if sociallogin.user is not None:
            sociallogin.user.email = ""


def _username_taken(username: str) -> bool:
    return get_user_model().objects.filter(username__iexact=username).exists()


FAILURE_MESSAGES = {
    "username_taken": (
        "segadmin already has an account of that name that is not linked to {name}. Ask an "
        "Admin to remove or rename it; the next log-in with {name} then creates yours."
    ),
    "cancelled": "The log-in was cancelled at {name}.",
    "denied": "{name} refused the log-in.",
    "state": (
        "This log-in could not be matched to one started here (it may have been altered, "
        "started in another browser, or be too old)."
    ),
    "nonce": "{name}'s answer did not match this log-in, so it was refused.",
    "confirm_not_logged_in": "Log in first; a confirmation counts only for someone logged in.",
    "confirm_other_account": (
        "You signed in at {name} as someone other than the person logged in here, so nothing "
        "was confirmed."
    ),
    "confirm_not_fresh": (
        "{name} did not ask you to sign in again, so nothing was confirmed. Try again; "
        "{name} should ask for your password."
    ),
    "confirm_no_mapped_group": "{name} no longer puts you in a group that has a role in segadmin.",
    "not_a_login": "Accounts of {name} are linked only by logging in with them.",
    "provider_error": "{name} could not complete the log-in.",
    "provider_unreachable": (
        "segadmin could not reach {name}, or {name} did not answer as it should. It may be "
        "down or unreachable from segadmin; try again in a few minutes."
    ),
}
# A failure of the provider, not of the request: 502 Bad Gateway; any other refusal: 400.
FAILURE_STATUS = {"provider_unreachable": 502}


def failure_page(request: HttpRequest, reason: str) -> HttpResponse:
    message = FAILURE_MESSAGES.get(reason, FAILURE_MESSAGES["provider_error"])
    return render(
        request,
        "accounts/sso_failed.html",
        {
            "provider_name": provider_name(),
            "message": message.format(name=provider_name()),
            # A refused confirmation leaves the person logged in as before (a provider out of
            # reach fails a log-in or, for someone logged in, a confirmation).
            "confirming": (reason.startswith("confirm_") or reason == "provider_unreachable")
            and request.user.is_authenticated,
        },
        status=FAILURE_STATUS.get(reason, 400),
    )


def login_context() -> dict[str, Any]:
    """What the log-in page needs: the single sign-on button, and whether the password form
    is shown."""
    return {
        "sso_enabled": configured(),
        "sso_name": provider_name(),
        "sso_provider_id": settings.SEGADMIN_OIDC_PROVIDER_ID,
        "password_login": bool(settings.SEGADMIN_PASSWORD_LOGIN),
    }


def on_logged_in(
    sender: Any,
    *,
    request: HttpRequest,
    user: User,
    sociallogin: SocialLogin | None = None,
    **kwargs: Any,
) -> None:
    """allauth's user_logged_in (once per log-in, after the second factor; never for a
    re-authentication): announces a log-in through the provider, or with a password."""
    if sociallogin is None:
        # segadmin offers no other way in (no log-in by code, no passkey log-in).
        signals.password_logged_in.send(
            sender=SingleSignOnAdapter,
            request=request,
            provider="",
            user=user,
            role=current_role(user),
            second_factor=second_factor_used(request, user),
        )
        return
    provider_logout.remember(request, sociallogin)
    groups = groups_of(sociallogin.account.extra_data, settings.SEGADMIN_OIDC_GROUPS_CLAIM)
    signals.sso_logged_in.send(
        sender=SingleSignOnAdapter,
        request=request,
        provider=provider_name(),
        user=user,
        role=current_role(user),
        groups=groups,
    )


def second_factor_used(request: HttpRequest, user: User) -> str | None:
    """The kind of second factor ("totp", "recovery_codes", "webauthn") this log-in passed, if
    any (allauth's record of the session's authentication steps; no secret in it)."""
    kinds = [
        record.get("type")
        for record in get_authentication_records(request, user)
        if record.get("method") == "mfa"
    ]
    return str(kinds[-1]) if kinds and kinds[-1] else None
