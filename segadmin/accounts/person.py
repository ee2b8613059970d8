"""What every request asks about its logged-in person, read by one query the first time any of
it is asked: their groups (the role, ``roles.request_role``), their permissions (the
``PermissionsBackend``: ``permission_required``, the navigation) and whether they have source
limits (``limits.limits_of``). Each answer is kept on the user object, which lives as long as
the request, where its reader looks first. Superusers, inactive and anonymous people are left
to those readers' own ways.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from segadmin.accounts import limits
from segadmin.accounts.roles import role_from_names

# Where the role read with the rest is kept on the user object.
ROLE = "_segadmin_person_role"

# A row per group name (0), per permission (1, as "app_label.codename": the person's own and
# their groups', as the ModelBackend gathers them) and, when they have source limits, a row 2.
_PERSON = (
    'SELECT 0, "auth_group"."name" FROM "auth_group" INNER JOIN "auth_user_groups" '
    'ON "auth_group"."id" = "auth_user_groups"."group_id" WHERE "auth_user_groups"."user_id" = %s '
    "UNION ALL "
    'SELECT 1, "django_content_type"."app_label" || \'.\' || "auth_permission"."codename" '
    'FROM "auth_permission" INNER JOIN "django_content_type" '
    'ON "auth_permission"."content_type_id" = "django_content_type"."id" '
    'WHERE "auth_permission"."id" IN ('
    'SELECT "permission_id" FROM "auth_user_user_permissions" WHERE "user_id" = %s '
    'UNION SELECT "auth_group_permissions"."permission_id" FROM "auth_group_permissions" '
    'INNER JOIN "auth_user_groups" '
    'ON "auth_group_permissions"."group_id" = "auth_user_groups"."group_id" '
    'WHERE "auth_user_groups"."user_id" = %s) '
    "UNION ALL "
    'SELECT 2, \'\' FROM "accounts_sourcelimit" WHERE "user_id" = %s'
)


def applies_to(user: Any) -> bool:
    """Whether ``user`` is read here: an active person logged in, not a superuser."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and not user.is_superuser
        and user.pk is not None
    )


def role(user: Any) -> str | None:
    """``user``'s role, read with the rest unless it was already (``applies_to`` only)."""
    if not hasattr(user, ROLE):
        read(user)
    return getattr(user, ROLE)  # type: ignore[no-any-return]


def permissions(user: Any) -> set[str]:
    """``user``'s permissions, read with the rest unless they were already."""
    if not hasattr(user, "_perm_cache"):
        read(user)
    return user._perm_cache  # type: ignore[no-any-return]


def read(user: Any) -> None:
    """Read ``user``'s groups, permissions and limits by one query and keep them (what is
    kept already stays as it is)."""
    with connection.cursor() as cursor:
        cursor.execute(_PERSON, [user.pk] * 4)
        rows = cursor.fetchall()
    if not hasattr(user, ROLE):
        setattr(user, ROLE, role_from_names({value for kind, value in rows if kind == 0}))
    if not hasattr(user, "_perm_cache"):  # where the ModelBackend keeps them too
        user._perm_cache = {value for kind, value in rows if kind == 1}
    if not any(kind == 2 for kind, _value in rows):
        limits.keep(user, limits.UNRESTRICTED)  # a limited person's are read in full when asked
