"""The part of django-allauth's pages that segadmin offers, under /accounts/.

Log-in and log-out are segadmin's own URL names (segadmin.accounts.urls, first in the URLconf,
so /accounts/login/ is served by segadmin's view under both names). Of allauth's account pages
only these stay: e-mail addresses, password resets by e-mail and log-in codes are not part of
segadmin (an Admin hands out passwords from the Users screen) and nobody signs themselves up.
The second factor (``2fa/``) and single sign-on (``3rdparty/`` and the providers') come whole.
"""

from __future__ import annotations

from allauth.account import urls as account_urls
from allauth.socialaccount import app_settings as socialaccount_settings
from allauth.urls import build_provider_urlpatterns
from django.urls import URLPattern, URLResolver, include, path

from segadmin.accounts import sso

ACCOUNT_PAGES = {
    "account_login",
    "account_logout",
    "account_inactive",
    "account_reauthenticate",
}

_prefix = socialaccount_settings.OPENID_CONNECT_URL_PREFIX
OIDC_PREFIX = f"{_prefix}/" if _prefix else ""

urlpatterns: list[URLPattern | URLResolver] = [
    pattern
    for pattern in account_urls.urlpatterns
    if isinstance(pattern, URLPattern) and pattern.name in ACCOUNT_PAGES
]
urlpatterns += [
    path("2fa/", include("allauth.mfa.urls")),
    path("3rdparty/", include("allauth.socialaccount.urls")),
    # The way back from the identity provider: allauth's view, with segadmin's checked adapter
    # (sso.callback), at the address of allauth's own, which stays for reverse().
    path(f"{OIDC_PREFIX}<str:provider_id>/login/callback/", sso.callback),
    *build_provider_urlpatterns(),
]
