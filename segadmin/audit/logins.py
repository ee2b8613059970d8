"""Audit events for log-ins, through single sign-on or with a password (segadmin.accounts.sso
and segadmin.accounts.adapter announce them):

- ``user.logged_in``: a person logged in through the identity provider (method "single
  sign-on": its name, their role and groups) or with their password (method "password": their
  role and the kind of second factor passed, if any), once per log-in;
- ``user.login_failed``: a log-in refused or failed: in no mapped group, a cancelled or failed
  log-in at the provider, an altered state or nonce, a password posted while password log-in
  is off, a wrong password, an unknown username, a deactivated account, a lock-out. A
  re-authentication's wrong password is not a failed log-in. The reason is a short code; the
  details never hold a secret, a password, a code or a token;
- ``user.reauthenticated``: a person logged in confirmed who they are before a sensitive
  action: by signing in at the identity provider again (method "single sign-on": its name and
  their role; never a token or a claim of it), or on django-allauth's confirmation pages with
  their password (method "password") or a second-factor code or key (method "second factor",
  with its kind); once per confirmation, never the password or the code. A wrong code there
  is a ``user.second_factor_failed`` (during "confirmation", segadmin.audit.second_factor);
- ``user.password_failed``: a wrong password on that confirmation page, in the same shape
  (the person logged in as actor and target, during "confirmation"; a ``reason`` only when it
  was no plain wrong password: "locked_out" by django-axes). It is no failed log-in (the person
  is logged in), and never holds the password typed;
- ``user.created``: a person's account made at their first log-in;
- ``role.changed``: the provider's groups changed a person's role (by "single sign-on").

The target of a failed password log-in is the account's username when the name typed is one
(whatever its case), else never the text typed: people type their password into the username
box, and this log is kept for ever. It is then "an unknown name (<fingerprint>)", the first 8
hex digits of HMAC-SHA256 under the audit's signing key (segadmin.audit.keys) of the text, so
repeated tries of one name can be told apart and grouped without it being readable; nothing
reversible, not its length. django-axes keys its lock-outs and stores its attempts under the
same description (``axes_username``, its ``AXES_USERNAME_CALLABLE``). A name given by the
identity provider (single sign-on) is the provider's, not typed here, and stays as it came.

Connected in AuditConfig.ready.
"""

from __future__ import annotations

import dataclasses
import hmac
from typing import TYPE_CHECKING, Any

from allauth.account.signals import authentication_step_completed

from segadmin.accounts import signals
from segadmin.accounts.sso import PASSWORD, current_role
from segadmin.audit import keys
from segadmin.audit.log import Actor, record_event
from segadmin.audit.people import CREATED, ROLE_CHANGED, record_user_event

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

LOGGED_IN = "user.logged_in"
LOGIN_FAILED = "user.login_failed"
REAUTHENTICATED = "user.reauthenticated"
PASSWORD_FAILED = "user.password_failed"  # noqa: S105 - an audit action's name
ACTIONS = (LOGGED_IN, LOGIN_FAILED, REAUTHENTICATED, PASSWORD_FAILED)

UNKNOWN_NAME = "an unknown name"
_TYPED_NAME_MESSAGE = b"segadmin-typed-name\x00"
_NAMES_SEEN = "_segadmin_typed_names"  # a request's cache: text typed -> what is recorded


def unknown_name(typed: str) -> str:
    """What stands for a name typed that is no account's: never the text, only a keyed
    fingerprint of it (the same text gives the same one while the signing key stays)."""
    mac = hmac.new(keys.keyring().signing_key, _TYPED_NAME_MESSAGE + typed.encode(), "sha256")
    return f"{UNKNOWN_NAME} ({mac.hexdigest()[:8]})"


def recorded_name(typed: str, request: HttpRequest | None = None) -> str:
    """The username of the account that ``typed`` names (as the log-in looks it up, so in any
    case), or ``unknown_name(typed)``; "" for nothing typed. One query, once per request."""
    if not typed:
        return ""
    seen: dict[str, str] | None = getattr(request, _NAMES_SEEN, None)
    if seen is None:
        seen = {}
        if request is not None:
            setattr(request, _NAMES_SEEN, seen)
    if typed not in seen:
        from allauth.account.utils import filter_users_by_username

        account = filter_users_by_username(typed).first()
        seen[typed] = account.get_username() if account is not None else unknown_name(typed)
    return seen[typed]


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """django-axes' ``AXES_USERNAME_CALLABLE``: the name its lock-outs are keyed on and its
    attempts store (AccessAttempt.username, its admin, its log lines), as the audit records it,
    so a password typed as the username is not kept there either."""
    if credentials:
        typed = credentials.get("username")
    else:
        typed = getattr(request, "POST", {}).get("username")  # as the form has it, trimmed
        typed = typed.strip() if isinstance(typed, str) else typed
    if typed is None:
        return None
    return recorded_name(str(typed), request) or str(typed)


def _by_the_provider(request: HttpRequest, provider: str) -> Actor:
    """The identity provider acting (a role change it caused), from the person's connection."""
    actor = Actor.from_request(request)
    return dataclasses.replace(
        actor, user=None, username=f"single sign-on ({provider})"[:150], role="system"
    )


def _as(user: User, request: HttpRequest, role: str | None) -> Actor:
    actor = Actor.from_request(request)
    return dataclasses.replace(actor, user=user, username=user.get_username(), role=role or "")


def on_logged_in(
    sender: Any,
    *,
    request: HttpRequest,
    provider: str,
    user: User,
    role: str | None,
    groups: list[str],
    **kwargs: Any,
) -> None:
    record_user_event(
        actor=_as(user, request, role),
        action=LOGGED_IN,
        user=user,
        details={"method": "single sign-on", "provider": provider, "role": role, "groups": groups},
    )


def on_password_logged_in(
    sender: Any,
    *,
    request: HttpRequest,
    provider: str,
    user: User,
    role: str | None,
    second_factor: str | None,
    **kwargs: Any,
) -> None:
    record_user_event(
        actor=_as(user, request, role),
        action=LOGGED_IN,
        user=user,
        details={
            "method": "password",
            "provider": provider,
            "role": role,
            "second_factor": second_factor,
        },
    )


def on_reauthenticated(
    sender: Any,
    *,
    request: HttpRequest,
    provider: str,
    user: User,
    role: str | None,
    **kwargs: Any,
) -> None:
    record_user_event(
        actor=_as(user, request, role),
        action=REAUTHENTICATED,
        user=user,
        details={"method": "single sign-on", "provider": provider, "role": role},
    )


# allauth's names of the confirmations it runs itself (its pages), as the audit names them. A
# confirmation through the provider ("socialaccount") is announced by segadmin.accounts.sso
# (sso_reauthenticated) with the provider's name, and recorded by on_reauthenticated.
CONFIRMED_ON_ALLAUTHS_PAGES = {"password": "password", "mfa": "second factor"}


def on_authentication_step(
    sender: Any, *, request: HttpRequest, user: User, method: str, **extra: Any
) -> None:
    """allauth's authentication_step_completed, sent each time it records an authentication in
    the session (allauth.account.internal.flows.login.record_authentication): a successful
    confirmation by password or second factor (``reauthenticated``) is a
    ``user.reauthenticated``. Log-ins are recorded once complete (on_password_logged_in)."""
    if not extra.get("reauthenticated") or method not in CONFIRMED_ON_ALLAUTHS_PAGES:
        return
    role = current_role(user)
    details: dict[str, Any] = {
        "method": CONFIRMED_ON_ALLAUTHS_PAGES[method],
        "provider": "",
        "role": role,
    }
    if method == "mfa":
        details["second_factor"] = str(extra.get("type") or "")  # "totp", never the code
    record_user_event(
        actor=_as(user, request, role), action=REAUTHENTICATED, user=user, details=details
    )


def on_password_confirmation_failed(
    sender: Any, *, request: HttpRequest, user: User, reason: str, **kwargs: Any
) -> None:
    """A wrong password on allauth's confirmation page: recorded as a wrong code there is
    (``user.second_factor_failed``, during "confirmation"), never the password typed."""
    details: dict[str, Any] = {"during": "confirmation"}
    if reason != "wrong_password":
        details["reason"] = reason
    record_user_event(
        actor=Actor.from_request(request), action=PASSWORD_FAILED, user=user, details=details
    )


def on_login_failed(
    sender: Any,
    *,
    request: HttpRequest,
    provider: str,
    method: str,
    reason: str,
    username: str,
    user: User | None,
    details: dict[str, Any],
    **kwargs: Any,
) -> None:
    if user is not None:
        name = user.get_username()
    elif method == PASSWORD:
        name = recorded_name(username, request)  # never a password typed as the username
    else:
        name = username  # the identity provider's name for the person
    actor = Actor.from_request(request)
    record_event(
        actor=actor,
        action=LOGIN_FAILED,
        target_type="user",
        target_id=user.pk if user is not None else "",
        target_name=name or "",
        details={"method": method, "provider": provider, "reason": reason, **details},
    )


def on_user_created(
    sender: Any,
    *,
    request: HttpRequest,
    provider: str,
    user: User,
    role: str | None,
    groups: list[str],
    **kwargs: Any,
) -> None:
    record_user_event(
        actor=_by_the_provider(request, provider),
        action=CREATED,
        user=user,
        details={
            "active": user.is_active,
            "password_login": user.has_usable_password(),
            "roles": [role] if role else [],
            "sign_in": "single sign-on",
            "provider": provider,
            "groups": groups,
        },
    )


def on_role_changed(
    sender: Any,
    *,
    request: HttpRequest,
    provider: str,
    user: User,
    before: str | None,
    after: str | None,
    groups: list[str],
    **kwargs: Any,
) -> None:
    record_user_event(
        actor=_by_the_provider(request, provider),
        action=ROLE_CHANGED,
        user=user,
        details={
            "before": {"roles": [before] if before else []},
            "after": {"roles": [after] if after else []},
            "by": "single sign-on",
            "provider": provider,
            "groups": groups,
        },
    )


def connect() -> None:
    authentication_step_completed.connect(
        on_authentication_step, dispatch_uid="audit-confirmed-on-allauths-pages"
    )
    signals.sso_logged_in.connect(on_logged_in, dispatch_uid="audit-sso-logged-in")
    signals.password_logged_in.connect(
        on_password_logged_in, dispatch_uid="audit-password-logged-in"
    )
    signals.sso_reauthenticated.connect(
        on_reauthenticated, dispatch_uid="audit-sso-reauthenticated"
    )
    signals.login_failed.connect(on_login_failed, dispatch_uid="audit-login-failed")
    signals.password_confirmation_failed.connect(
        on_password_confirmation_failed, dispatch_uid="audit-password-confirmation-failed"
    )
    signals.sso_user_created.connect(on_user_created, dispatch_uid="audit-sso-user-created")
    signals.sso_role_changed.connect(on_role_changed, dispatch_uid="audit-sso-role-changed")
