"""The audit log in the Django admin: read-only for those who may read every entry."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from segadmin.accounts import sessions, sso
from segadmin.accounts.sessions import end_sessions
from segadmin.audit import people
from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry


class NamedEmptyValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter by a column's values, with the empty text named ("(none)": a system
    entry's role) instead of a link with no text, which no screen reader can announce."""

    def choices(self, changelist: Any) -> Any:
        for choice in super().choices(changelist):
            yield {**choice, "display": "(none)"} if choice["display"] == "" else choice


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
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
    list_filter = (
        "kind",
        "outcome",
        ("role", NamedEmptyValuesFilter),
        ("call_type", NamedEmptyValuesFilter),
    )
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


# --- Users: every change of an account or its roles goes on the record ------------------------
# This lives here rather than in segadmin/accounts/admin.py because that module is imported as
# the admin site's AppConfig before the app registry is ready, so it cannot import the User
# model; this module is imported by admin autodiscovery after django.contrib.auth's admin.


class AuditedUserAdmin(UserAdmin[User]):
    """Django's UserAdmin, plus: every change of a user's roles (groups), superuser status or
    extra permissions is recorded as a "role.changed" audit event, and creating, deleting
    (one or many), activating, deactivating a user and setting their password as a "user.*"
    event (segadmin/audit/people.py), each in the transaction of the change; only superusers
    may grant superuser status or extra permissions, and only superusers may change or delete
    a superuser.

    Roles are three tick boxes, not Django's two-list picker (whose search icons carry an
    aria-label a span may not have, and which hides three choices behind a search)."""

    filter_horizontal = ()

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups":
            kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)

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

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            people.user_created(actor=Actor.from_request(request), user=obj)
        elif "is_active" in form.changed_data:
            # A deactivation ends their open sessions, as on the Users screen.
            ended = None if obj.is_active else end_sessions(obj)
            people.activation_changed(
                actor=Actor.from_request(request), user=obj, sessions_ended=ended
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        # Recorded first: the roles the account held are read from it. Their sessions end
        # first too, as a deactivation's do (the notes of whose session is whose go with the
        # account); the count goes in the event.
        with transaction.atomic():
            ended = end_sessions(obj)
            people.user_deleted(actor=Actor.from_request(request), user=obj, sessions_ended=ended)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        # "Delete selected" (Django checks each user's delete permission before this).
        actor = Actor.from_request(request)
        with transaction.atomic():
            for user in queryset:
                ended = end_sessions(user)
                people.user_deleted(actor=actor, user=user, sessions_ended=ended)
            super().delete_queryset(request, queryset)

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        if request.method != "POST":
            return super().user_change_password(request, id, form_url)
        target = self.get_object(request, unquote(id))
        if (
            target is not None
            and request.POST.get("usable_password") != "false"
            and sso.password_managed_by_provider(target)
        ):
            # As on the Users screen: a password would be a second way in around the provider.
            people.password_reset_refused(
                actor=Actor.from_request(request), user=target, provider=sso.provider_name()
            )
            messages.error(
                request,
                f"{target.get_username()} signs in with single sign-on: their identity provider "
                f"({sso.provider_name()}) manages their sign-in, so no password is set here.",
            )
            return HttpResponseRedirect(reverse("admin:auth_user_change", args=[target.pk]))
        # Django's view saves without a transaction and says nothing of success but a redirect:
        # the stored hash before and after tells whether the password was changed (or unset).
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            before = user.password if user is not None else None
            response = super().user_change_password(request, id, form_url)
            if user is not None:
                user.refresh_from_db(fields=["password"])
                if user.password != before:
                    people.password_changed(
                        actor=Actor.from_request(request),
                        user=user,
                        sessions_ended=end_sessions(user, keep=_own_session(request, user)),
                    )
        return response

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        user = form.instance
        # save_model has already saved is_superuser, so its old value comes from the form;
        # the groups and permissions are still the old ones until save_m2m below.
        was_superuser = bool(form.initial.get("is_superuser")) if change else False
        before = people.access_of(user, superuser=was_superuser)
        super().save_related(request, form, formsets, change)
        after = people.access_of(user, superuser=user.is_superuser)
        if before != after:
            people.roles_changed(
                actor=Actor.from_request(request), user=user, before=before, after=after
            )


def _own_session(request: HttpRequest, user: User) -> str | None:
    """An Admin changing their own password keeps the session they use (Django gave it a new
    key: noted under them again); None for anyone else's."""
    if request.user.pk != user.pk:
        return None
    sessions.remember(request, user)
    return request.session.session_key


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
