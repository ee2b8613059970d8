from __future__ import annotations

from django.urls import path

from segadmin.lookup import views

app_name = "lookup"

urlpatterns = [
    path("", views.index, name="index"),
    path("fix-traits/", views.fix_traits, name="fix_traits"),
]
