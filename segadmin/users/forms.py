from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.contrib.auth.validators import UnicodeUsernameValidator

from segadmin.accounts.roles import ROLES
from segadmin.credentials.models import Source, Workspace
from segadmin.lib.forms import ErrorSummaryMixin
from segadmin.users.services import HOW, ONE_TIME_PASSWORD

ROLE_CHOICES = [(role, role) for role in ROLES]
ROLE_HELP = {
    "Marketer": "sends Identify, Track, Page, Screen, Group and Alias calls and bulk imports",
    "Support": "looks users up and fixes their traits (Identify), reads every audit entry",
    "Admin": "everything, plus workspaces, sources, tracking plans, users and raw API calls",
}
HOW_CHOICES = [
    (ONE_TIME_PASSWORD, "A one-time password, shown once, to change at the first log-in"),
    (HOW[1], "A link to set a password, shown once to copy (valid for 3 days)"),
]


class RoleField(forms.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Role")
        kwargs.setdefault(
            "error_messages", {"invalid_choice": "Choose Marketer, Support or Admin."}
        )
        super().__init__(choices=ROLE_CHOICES, **kwargs)


class HowField(forms.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Their password")
        kwargs.setdefault("initial", ONE_TIME_PASSWORD)
        kwargs.setdefault("widget", forms.RadioSelect)
        kwargs.setdefault(
            "error_messages",
            {"invalid_choice": "Choose a one-time password or a set-password link."},
        )
        super().__init__(choices=HOW_CHOICES, **kwargs)


class AddPersonForm(ErrorSummaryMixin, forms.Form):
    username = forms.CharField(
        label="Username",
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="What they log in with: letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    email = forms.EmailField(label="Email", required=False)
    role = RoleField(widget=forms.RadioSelect, initial="Marketer")
    how = HowField()

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(f"There is already a person called {username}.")
        return username


class RoleForm(forms.Form):
    role = RoleField()


class ResetForm(forms.Form):
    how = HowField()


class _ChoiceOfSources(forms.ModelMultipleChoiceField[Source]):
    def label_from_instance(self, obj: Source) -> str:
        where = f", in {obj.workspace.name}" if obj.workspace is not None else ""
        return f"{obj.name} ({obj.get_region_display()}{where})"


class _ChoiceOfWorkspaces(forms.ModelMultipleChoiceField[Workspace]):
    def label_from_instance(self, obj: Workspace) -> str:
        return f"{obj.name} ({obj.get_region_display()})"


def _picker(label: str) -> forms.SelectMultiple:
    # static/js/pickers.js makes it a searchable multiple choice (tom-select); without
    # JavaScript it is a plain multiple select.
    return forms.SelectMultiple(attrs={"data-multi-picker": "", "data-placeholder": label})


class LimitsForm(forms.Form):
    """The workspaces and sources a person is limited to (none chosen: every one)."""

    workspaces = _ChoiceOfWorkspaces(
        label="Workspaces",
        queryset=Workspace.objects.order_by("name", "pk"),
        required=False,
        widget=_picker("Choose workspaces…"),
        help_text="Every source of a chosen workspace, and the workspace itself (privacy "
        "requests, the Public API).",
        error_messages={"invalid_choice": "That workspace does not exist any more: choose again."},
    )
    sources = _ChoiceOfSources(
        label="Sources",
        queryset=Source.objects.select_related("workspace").order_by("name", "pk"),
        required=False,
        widget=_picker("Choose sources…"),
        help_text="These sources only, not the rest of their workspace.",
        error_messages={"invalid_choice": "That source does not exist any more: choose again."},
    )
