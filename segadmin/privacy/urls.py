from __future__ import annotations

from django.urls import path

from segadmin.privacy import views

app_name = "privacy"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_new, name="new"),
    path("suppressions/", views.suppressions, name="suppressions"),
    path("<int:pk>/", views.request_detail, name="detail"),
    path("<int:pk>/refresh/", views.request_refresh, name="refresh"),
    path("<int:pk>/retry/", views.request_retry, name="retry"),
    path("<int:pk>/calls/<int:number>/release/", views.request_release, name="release"),
]
