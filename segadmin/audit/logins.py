"""Audit events for log-ins, through single sign-on or with a password (segadmin.accounts.sso
and segadmin.accounts.adapter announce them):

- ``user.logged_in``: a person logged in through the identity provider (method "single
  sign-on": its name, their role and groups) or with their password (method "password": their
  role and the kind of second factor passed, if any), once per log-in;
- ``user.login_failed``: a log-in refused or failed: in no mapped group, a cancelled or failed
  log-in at the provider, an altered state or nonce, a password posted while password log-in
  is off, a wrong password, an unknown username (the name typed is the target), a deactivated
  account, a lock-out. A re-authentication's wrong password is not a failed log-in. The
  reason is a short code; the details never hold a secret, a password, a code or a token;
- ``user.created``: a person's account made at their first log-in;
- ``role.changed``: the provider's groups changed a person's role (by "single sign-on").

Connected in AuditConfig.ready.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from segadmin.accounts import signals
from segadmin.audit.log import Actor, record_event
from segadmin.audit.people import CREATED, ROLE_CHANGED, record_user_event

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

LOGGED_IN = "user.logged_in"
LOGIN_FAILED = "user.login_failed"
ACTIONS = (LOGGED_IN, LOGIN_FAILED)


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
    actor = Actor.from_request(request)
    record_event(
        actor=actor,
        action=LOGIN_FAILED,
        target_type="user",
        target_id=user.pk if user is not None else "",
        target_name=(user.get_username() if user is not None else username) or "",
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
    signals.sso_logged_in.connect(on_logged_in, dispatch_uid="audit-sso-logged-in")
    signals.password_logged_in.connect(
        on_password_logged_in, dispatch_uid="audit-password-logged-in"
    )
    signals.login_failed.connect(on_login_failed, dispatch_uid="audit-login-failed")
    signals.sso_user_created.connect(on_user_created, dispatch_uid="audit-sso-user-created")
    signals.sso_role_changed.connect(on_role_changed, dispatch_uid="audit-sso-role-changed")
