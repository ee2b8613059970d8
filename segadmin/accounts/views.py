"""Log-in and log-out: django-allauth's views (the password, then the second factor when the
person has one), under the names the rest of segadmin uses (accounts:login, accounts:logout)."""

from __future__ import annotations

from typing import Any

from allauth.account import views as allauth_views
from allauth.socialaccount.providers.base.constants import AuthProcess
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from segadmin.accounts import provider_logout, reauth, sso


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
    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        """Ends the segadmin session; after a log-in through the identity provider, then sends
        the browser on to the provider's end-session endpoint (provider_logout), read from the
        session before it ends. Nothing is asked of the provider here."""
        target = provider_logout.logout_url(self.request)
        response: HttpResponse = super().post(*args, **kwargs)
        if target and isinstance(response, HttpResponseRedirect):
            return HttpResponseRedirect(target)
        return response


@login_required
@require_GET
def confirm_with_provider(request: HttpRequest) -> HttpResponse:
    """The confirmation page of a person who signs in only with single sign-on: "Confirm with
    <provider>" sends them through the identity provider again (asked to sign in anew), and
    back to ``next`` once segadmin has checked that the same person came back
    (sso.SingleSignOnAdapter.confirm). Others confirm on allauth's page."""
    if not reauth.confirms_with_provider(request.user):
        raise PermissionDenied(reauth.NO_WAY_TO_CONFIRM)
    back = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("home:index")
    response = render(
        request,
        "accounts/confirm_with_provider.html",
        {
            "provider_name": sso.provider_name(),
            "provider_id": settings.SEGADMIN_OIDC_PROVIDER_ID,
            "process": AuthProcess.REDIRECT,
            "next": back,
        },
    )
    policy = sso.login_page_csp()
    if policy is not None:
        response._csp_config = policy  # type: ignore[attr-defined]  # read by Django's CSP
    return response
