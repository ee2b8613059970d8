from django.contrib import admin
from django.urls import include, path

from segadmin.home.views import favicon, healthz

handler400 = "segadmin.home.views.bad_request"

urlpatterns = [
    path("", include("segadmin.home.urls")),
    path("accounts/", include("segadmin.accounts.urls")),
    # django-allauth's pages: the second factor, re-authentication, single sign-on.
    path("accounts/", include("segadmin.accounts.allauth_urls")),
    path("", include("segadmin.credentials.urls")),
    path("calls/", include("segadmin.calls.urls")),
    path("bulk/", include("segadmin.bulk.urls")),
    path("audit/", include("segadmin.audit.urls")),
    path("lookup/", include("segadmin.lookup.urls")),
    path("tracking-plans/", include("segadmin.plans.urls")),
    path("users/", include("segadmin.users.urls")),
    path("privacy/", include("segadmin.privacy.urls")),
    path("approvals/", include("segadmin.approvals.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon),
]
