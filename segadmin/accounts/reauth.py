"""Re-authentication before sensitive actions: adding or changing a workspace token or a source
write key, approving or rejecting, and Make an API call.

The person must have proved who they are within ``SEGADMIN_REAUTHENTICATION_SECONDS`` (5
minutes by default): by logging in, or by confirming their password or a second-factor code on
django-allauth's confirmation page, or, for a person who signs in only with single sign-on (no
password, no second factor), by going through the identity provider again from segadmin's
"Confirm with <provider>" page (allauth 65 offers no social re-authentication of its own: see
segadmin.accounts.sso, SingleSignOnAdapter.confirm). Otherwise the view does not run, whatever
the method (the GET of the form and a forged POST alike): they are sent to confirm, then back
to the page, where they do it again. Nothing of the refused request is kept (no token waits in
the session).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from allauth.account.adapter import get_adapter
from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

# What proves it: a password, a second-factor code or key, or a single sign-on log-in.
METHODS = ("password", "mfa", "socialaccount")
NO_WAY_TO_CONFIRM = (
    "This needs you to confirm who you are, and your account has no password, second factor "
    "or single sign-on to confirm with: log out and log in again, then try within a few minutes."
)


def confirms_with_provider(user: Any) -> bool:
    """Whether ``user`` can confirm through the identity provider: single sign-on is on and the
    person is linked to it."""
    from allauth.socialaccount.models import SocialAccount

    from segadmin.accounts import sso  # sso imports the adapters, which must load first

    return bool(
        sso.configured()
        and user.is_authenticated
        and SocialAccount.objects.filter(
            user_id=user.pk, provider=settings.SEGADMIN_OIDC_PROVIDER_ID
        ).exists()
    )


def recently_authenticated(request: HttpRequest) -> bool:
    user = request.user
    if not user.is_authenticated:
        return False
    oldest = time.time() - settings.ACCOUNT_REAUTHENTICATION_TIMEOUT
    return any(
        record.get("method") in METHODS and float(record.get("at", 0)) >= oldest
        for record in get_authentication_records(request, user)
    )


def confirm_url(request: HttpRequest, back: str) -> str:
    methods = get_adapter().get_reauthentication_methods(request.user)
    if methods:
        url = methods[0]["url"]
    elif confirms_with_provider(request.user):
        url = reverse("accounts:confirm_with_provider")
    else:
        raise PermissionDenied(NO_WAY_TO_CONFIRM)
    return f"{url}?{urlencode({'next': back})}"


def recent_authentication_required(
    back: Callable[[HttpRequest], str] | None = None,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """``back``: where to return after confirming (the request's path by default)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.is_authenticated and not recently_authenticated(request):
                url = confirm_url(request, back(request) if back else request.path)
                if request.headers.get("HX-Request"):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = url
                    return response
                return HttpResponseRedirect(url)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
