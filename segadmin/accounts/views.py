"""Log-in and log-out: django-allauth's views (the password, then the second factor when the
person has one), under the names the rest of segadmin uses (accounts:login, accounts:logout)."""

from __future__ import annotations

from allauth.account import views as allauth_views


class LoginView(allauth_views.LoginView):  # type: ignore[misc]
    template_name = "account/login.html"


class LogoutView(allauth_views.LogoutView):  # type: ignore[misc]
    pass
