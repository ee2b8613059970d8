"""The audit log in the Django admin: read-only for those who may read every entry."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

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
