from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from segadmin.accounts.navigation import visible_items
from segadmin.accounts.roles import role_of


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "current_role": None, "can_manage_users": False}
    return {
        "nav_items": visible_items(request),
        "current_role": role_of(user),
        "can_manage_users": user.has_perm("accounts.manage_users"),
    }
