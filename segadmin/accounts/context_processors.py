from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from segadmin.accounts import sso
from segadmin.accounts.navigation import visible_items
from segadmin.accounts.roles import request_role


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {
            "nav_items": [],
            "current_role": None,
            "can_manage_users": False,
            "password_by_provider": False,
        }
    return {
        "nav_items": visible_items(request),
        "current_role": request_role(request),
        "can_manage_users": user.has_perm("accounts.manage_users"),
        # Signs in only with single sign-on: no "Change password" in the menu.
        "password_by_provider": sso.password_managed_by_provider(user),
    }


def demo(request: HttpRequest) -> dict[str, Any]:
    """Under `make demo`: the address of the local fake's page of what it received."""
    base = settings.SEGADMIN_FAKE_SEGMENT_URL
    user = getattr(request, "user", None)
    if not base or user is None or not user.is_authenticated:
        return {"fake_segment_page": ""}
    return {"fake_segment_page": f"{base}/_fake/"}
