from __future__ import annotations

from typing import Any

from allauth.account.forms import LoginForm as AllauthLoginForm
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit


class LoginForm(AllauthLoginForm):  # type: ignore[misc]
    """django-allauth's log-in form with the field named ``username`` as it always was here
    (django-axes keys its lock-outs on that field; bookmarks and scripts post it)."""

    fields: dict[str, Any]
    cleaned_data: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        login = self.fields.pop("login")
        login.widget.attrs.pop("placeholder", None)
        login.widget.attrs["autofocus"] = True
        self.fields["password"].widget.attrs.pop("placeholder", None)
        # Without the "Forgot your password?" link to an e-mail reset segadmin does not offer.
        self.fields["password"].help_text = ""
        self.fields = {"username": login, **self.fields}
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.add_input(Submit("submit", "Log in", css_class="w-100"))

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip()

    def clean(self) -> dict[str, Any]:
        if "username" in self.cleaned_data:
            self.cleaned_data["login"] = self.cleaned_data["username"]
        cleaned: dict[str, Any] = super().clean()
        return cleaned
