"""Audit events for people's accounts: created, deleted, password changed, activated or
deactivated (changes of roles are "role.changed", recorded with the roles before and after).

Every path that changes an account records through here: the Users screens
(segadmin/users/services.py), the Django admin's user pages, the ``ensure_admin``,
``createsuperuser`` and ``changepassword`` commands. The details say what
kind of change it was and never hold a password or its hash; ``sessions_ended`` says how many
of the person's open sessions the change ended (segadmin/accounts/sessions.py), when it ends them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segadmin.audit.log import Actor, record_event

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from segadmin.audit.models import AuditEntry

CREATED = "user.created"
DELETED = "user.deleted"
PASSWORD_CHANGED = "user.password_changed"  # noqa: S105 - an action name
ACTIVATED = "user.activated"
DEACTIVATED = "user.deactivated"
ROLE_CHANGED = "role.changed"
REFUSED = "access.refused"
# How a first password was handed over (``handed_over``): one to change at the first log-in
# (segadmin/accounts/first_login.py), given by the Users screen or printed by ``ensure_admin``.
ONE_TIME_PASSWORD = "one-time password"  # noqa: S105 - how a password is handed over


def record_user_event(
    *, actor: Actor, action: str, user: User, details: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one change to ``user``'s account, in the caller's transaction when there is one."""
    return record_event(
        actor=actor,
        action=action,
        target_type="user",
        target_id=user.pk,
        target_name=user.get_username(),
        details=details,
    )


def user_created(*, actor: Actor, user: User, how: str | None = None) -> AuditEntry:
    """``how`` (``handed_over``) the first password was given ("one-time password", "set-password
    link"), when someone else created the account; its roles are recorded as they stand."""
    details: dict[str, Any] = {
        "active": user.is_active,
        "password_login": user.has_usable_password(),
    }
    roles = sorted(user.groups.values_list("name", flat=True))
    if roles:
        details["roles"] = roles
    if how:
        details["handed_over"] = how
    return record_user_event(actor=actor, action=CREATED, user=user, details=details)


def user_deleted(*, actor: Actor, user: User, sessions_ended: int | None = None) -> AuditEntry:
    """Call before the row goes: the roles it held are read from it. ``sessions_ended``: how
    many open sessions of theirs the deletion ended (ended before the row goes)."""
    roles = sorted(user.groups.values_list("name", flat=True))
    details: dict[str, Any] = {"roles": roles, "superuser": user.is_superuser}
    if sessions_ended is not None:
        details["sessions_ended"] = sessions_ended
    return record_user_event(actor=actor, action=DELETED, user=user, details=details)


def password_changed(
    *, actor: Actor, user: User, how: str | None = None, sessions_ended: int | None = None
) -> AuditEntry:
    """Only whether password log-in stays possible, and ``how`` when it is not the person's
    own choice ("one-time password", "set-password link"): never the password or its hash."""
    details: dict[str, Any] = {"password_login": user.has_usable_password()}
    if how:
        details["handed_over"] = how
    if sessions_ended is not None:
        details["sessions_ended"] = sessions_ended
    return record_user_event(actor=actor, action=PASSWORD_CHANGED, user=user, details=details)


def activation_changed(
    *, actor: Actor, user: User, sessions_ended: int | None = None
) -> AuditEntry:
    """``sessions_ended``: how many open sessions a deactivation ended."""
    action = ACTIVATED if user.is_active else DEACTIVATED
    details = {"sessions_ended": sessions_ended} if sessions_ended is not None else None
    return record_user_event(actor=actor, action=action, user=user, details=details)


def password_reset_refused(*, actor: Actor, user: User, provider: str) -> AuditEntry:
    """An Admin's password reset refused: ``user`` signs in only with single sign-on, and a
    password of segadmin's would be a second way in around ``provider``. Nothing changed."""
    return record_user_event(
        actor=actor,
        action=REFUSED,
        user=user,
        details={
            "entrance": "Reset the password",
            "why": "signs in only with single sign-on: the identity provider manages it",
            "provider": provider,
        },
    )


def access_of(user: User, *, superuser: bool) -> dict[str, Any]:
    """What a role change compares: the roles (groups), superuser status, extra permissions."""
    return {
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "superuser": superuser,
        "permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list(
                "content_type__app_label", "codename"
            )
        ),
    }


def roles_changed(
    *, actor: Actor, user: User, before: dict[str, Any], after: dict[str, Any]
) -> AuditEntry:
    """``before`` and ``after`` as ``access_of`` reads them."""
    return record_user_event(
        actor=actor, action=ROLE_CHANGED, user=user, details={"before": before, "after": after}
    )
