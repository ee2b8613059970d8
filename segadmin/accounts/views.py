"""Log-in and log-out: django-allauth's views (the password, then the second factor when the
person has one), under the names the rest of segadmin uses (accounts:login, accounts:logout)."""

from __future__ import annotations

from typing import Any

from allauth.account import views as allauth_views
from django.http import HttpResponse

from segadmin.accounts import sso


class LoginView(allauth_views.LoginView):  # type: ignore[misc]
    template_name = "account/login.html"

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().render_to_response(context, **kwargs)
        policy = sso.login_page_csp()
        if policy is not None:
            response._csp_config = policy  # type: ignore[attr-defined]  # read by Django's CSP
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # "Log in with <name>" when single sign-on is configured; the password form unless
        # SEGADMIN_PASSWORD_LOGIN is off (break-glass accounts still post to this page).
        # ?break-glass shows the password form while password log-in is off.
        return {
            **super().get_context_data(**kwargs),
            **sso.login_context(),
            "show_password_form": "break-glass" in self.request.GET,
        }


class LogoutView(allauth_views.LogoutView):  # type: ignore[misc]
    pass
