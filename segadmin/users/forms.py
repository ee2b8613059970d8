from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.contrib.auth.validators import UnicodeUsernameValidator

from segadmin.accounts.roles import ROLES
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
