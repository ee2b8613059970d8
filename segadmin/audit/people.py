"""Audit events for people's accounts: created, deleted, password changed, activated or
deactivated (changes of roles are "role.changed", recorded with the roles before and after).

Every path that changes an account records through here: the Django admin's user pages, the
``ensure_admin``, ``createsuperuser`` and ``changepassword`` commands. The details say what
kind of change it was and never hold a password or its hash.
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


def user_created(*, actor: Actor, user: User) -> AuditEntry:
    return record_user_event(
        actor=actor,
        action=CREATED,
        user=user,
        details={"active": user.is_active, "password_login": user.has_usable_password()},
    )


def user_deleted(*, actor: Actor, user: User) -> AuditEntry:
    """Call before the row goes: the roles it held are read from it."""
    roles = sorted(user.groups.values_list("name", flat=True))
    return record_user_event(
        actor=actor,
        action=DELETED,
        user=user,
        details={"roles": roles, "superuser": user.is_superuser},
    )


def password_changed(*, actor: Actor, user: User) -> AuditEntry:
    # Only whether password log-in stays possible: never the password or its hash.
    return record_user_event(
        actor=actor,
        action=PASSWORD_CHANGED,
        user=user,
        details={"password_login": user.has_usable_password()},
    )


def activation_changed(*, actor: Actor, user: User) -> AuditEntry:
    action = ACTIVATED if user.is_active else DEACTIVATED
    return record_user_event(actor=actor, action=action, user=user)
