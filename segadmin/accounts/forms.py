from __future__ import annotations

from typing import Any

from allauth.account.forms import LoginForm as AllauthLoginForm
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from segadmin.accounts import signals, sso


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
        username = self.cleaned_data.get("username")
        if username is not None:
            self.cleaned_data["login"] = username
            if not sso.password_login_allowed(username):
                # SEGADMIN_PASSWORD_LOGIN=false: no password is even tried.
                self._refuse_password(username, None)
        cleaned: dict[str, Any] = super().clean()
        user = getattr(self, "user", None)
        if user is not None and not sso.password_login_allowed_for(user):
            self._refuse_password(user.get_username(), user)
        return cleaned

    def _refuse_password(self, username: str, user: Any) -> None:
        signals.login_failed.send(
            sender=type(self),
            request=self.request,
            provider="",
            method=sso.PASSWORD,
            reason="password_login_off",
            username=username[:150],
            user=user,
            details={},
        )
        raise forms.ValidationError(
            f"Password log-in is turned off: use “Log in with {sso.provider_name()}”. "
            "Only break-glass accounts may log in with a password.",
            code="password_login_off",
        )
