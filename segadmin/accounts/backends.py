"""A person's permissions read by one plain query, ahead of Django's ModelBackend.

Every screen asks ``has_perm`` (the view's ``permission_required``, the navigation); the
ModelBackend reads a person's permissions once per request with two ORM queries (their own,
their groups'), whose building cost more than the rest of a send's own checks. This backend
reads the same set (own and groups' permissions, as "app_label.codename") by one SELECT, with
the person's groups and limits which the same request asks too (``accounts.person``), and
keeps it where the ModelBackend keeps it (``_perm_cache`` on the user object, which lives as
long as the request), so the ModelBackend after it finds it there and reads nothing.

It only answers permissions: it logs nobody in (``authenticate`` returns None) and has no
``get_user``, so sessions and ``force_login`` keep naming the ModelBackend. A superuser, an
inactive or anonymous user and any object permission are left to the ModelBackend as before.
"""

from __future__ import annotations

from typing import Any

from segadmin.accounts import person


class PermissionsBackend:
    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None  # the ModelBackend logs people in

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if (
            obj is not None
            or not user_obj.is_active
            or user_obj.is_anonymous
            or user_obj.is_superuser
        ):
            return set()  # the ModelBackend answers these
        return person.permissions(user_obj)

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)
