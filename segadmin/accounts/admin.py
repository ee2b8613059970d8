"""Users and their roles are managed in the Django admin, by Admins (not only superusers)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse


class SegadminAdminSite(admin.AdminSite):
    site_header = "segadmin administration"
    site_title = "segadmin"
    index_title = "Users and roles"

    def has_permission(self, request: HttpRequest) -> bool:
        # Anyone in the Admin role may enter, staff flag or not.
        return bool(request.user.is_active and request.user.has_perm("accounts.manage_users"))

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # One log-in page for the whole product (throttled by django-axes), not a second one.
        if request.user.is_authenticated:
            # Logged in without the Admin role: a clear 403, not a redirect loop.
            raise PermissionDenied
        next_url = request.GET.get("next") or reverse("admin:index")
        return HttpResponseRedirect(f"{reverse('accounts:login')}?{urlencode({'next': next_url})}")


class SegadminAdminConfig(AdminConfig):
    default_site = "segadmin.accounts.admin.SegadminAdminSite"
