from __future__ import annotations

from django.urls import path

from segadmin.plans import views

app_name = "plans"

urlpatterns = [
    path("", views.plan_list, name="list"),
    path("<int:pk>/", views.plan_detail, name="detail"),
    path("<int:pk>/refresh/", views.plan_refresh, name="refresh"),
    path("workspaces/<int:pk>/import/", views.workspace_import, name="import"),
    path("imports/<uuid:pk>/", views.import_detail, name="import_detail"),
]
