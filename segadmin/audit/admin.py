"""The audit log in the Django admin: read-only for those who may read every entry."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.http import HttpRequest

from segadmin.audit.log import Actor, record_event
from segadmin.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = (
        "seq",
        "created_at",
        "kind",
        "username",
        "role",
        "call_type",
        "action",
        "source_name",
        "workspace_name",
        "outcome_label",
    )
    list_filter = ("kind", "outcome", "role", "call_type")
    search_fields = ("=user_id", "=anonymous_id", "=event", "=message_id", "=username")
    ordering = ("-seq",)
    # Counting a million rows on every page is slow, and the count is not the point here.
    show_full_result_count = False
    list_select_related = False
    actions = None
    readonly_fields = [field.name for field in AuditEntry._meta.get_fields() if field.concrete]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("accounts.view_all_audit")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.view_all_audit")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="outcome")
    def outcome_label(self, entry: AuditEntry) -> str:
        return entry.outcome_label


# --- Users: role changes go on the record ------------------------------------------------------
# This lives here rather than in segadmin/accounts/admin.py because that module is imported as
# the admin site's AppConfig before the app registry is ready, so it cannot import the User
# model; this module is imported by admin autodiscovery after django.contrib.auth's admin.


class AuditedUserAdmin(UserAdmin):
    """Django's UserAdmin, plus: every change of a user's roles (groups), superuser status or
    extra permissions is recorded as a "role.changed" audit event, only superusers may grant
    superuser status or extra permissions, and only superusers may change a superuser."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        user = form.instance
        # save_model has already saved is_superuser, so its old value comes from the form;
        # the groups and permissions are still the old ones until save_m2m below.
        was_superuser = bool(form.initial.get("is_superuser")) if change else False
        before = _access(user, superuser=was_superuser)
        super().save_related(request, form, formsets, change)
        after = _access(user, superuser=user.is_superuser)
        if before != after:
            record_event(
                actor=Actor.from_request(request),
                action="role.changed",
                target_type="user",
                target_id=user.pk,
                target_name=user.get_username(),
                details={"before": before, "after": after},
            )


def _access(user: Any, *, superuser: bool) -> dict[str, Any]:
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


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
