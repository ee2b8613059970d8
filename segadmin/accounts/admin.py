"""Users and their roles are managed in the Django admin, by Admins (not only superusers)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class SegadminAdminSite(admin.AdminSite):
    site_header = "segadmin administration"
    site_title = "segadmin"
    index_title = "Users and roles"

    def has_permission(self, request: HttpRequest) -> bool:
        # Anyone in the Admin role may enter, staff flag or not.
        return bool(request.user.is_active and request.user.has_perm("accounts.manage_users"))


class SegadminAdminConfig(AdminConfig):
    default_site = "segadmin.accounts.admin.SegadminAdminSite"
