from __future__ import annotations

from django.urls import path

from segadmin.users import views

app_name = "users"

urlpatterns = [
    path("", views.user_list, name="list"),
    path("add/", views.user_add, name="add"),
    path("<int:pk>/", views.user_detail, name="detail"),
    path("<int:pk>/role/", views.user_role, name="role"),
    path("<int:pk>/active/", views.user_active, name="active"),
    path("<int:pk>/limits/", views.user_limits, name="limits"),
    path("<int:pk>/reset-password/", views.user_reset, name="reset"),
    path(
        "<int:pk>/remove-second-factor/",
        views.user_second_factor_reset,
        name="second_factor_reset",
    ),
    path("password/", views.own_password, name="own_password"),
    path("set-password/<uidb64>/<token>/", views.SetPasswordView.as_view(), name="set_password"),
]
