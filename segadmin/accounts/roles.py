"""The three roles. Each is a Django group created by migration 0002 with these permissions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

MARKETER = "Marketer"
SUPPORT = "Support"
ADMIN = "Admin"
ROLES = (MARKETER, SUPPORT, ADMIN)


def role_of(user: User | AnonymousUser) -> str | None:
    """The most powerful role the user holds (a superuser counts as Admin)."""
    if not user.is_authenticated:
        return None
    if getattr(user, "is_superuser", False):
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))
    for role in (ADMIN, SUPPORT, MARKETER):
        if role in names:
            return role
    return None
