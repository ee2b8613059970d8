from __future__ import annotations

from django.urls import path

from segadmin.credentials import views

app_name = "credentials"

urlpatterns = [
    path("workspaces/", views.workspace_list, name="workspace_list"),
    path("workspaces/add/", views.workspace_add, name="workspace_add"),
    path("workspaces/<int:pk>/", views.workspace_detail, name="workspace_detail"),
    path("workspaces/<int:pk>/edit/", views.workspace_edit, name="workspace_edit"),
    path("workspaces/<int:pk>/delete/", views.workspace_delete, name="workspace_delete"),
    path("workspaces/<int:pk>/test-connection/", views.workspace_test, name="workspace_test"),
    path("workspaces/<int:pk>/import/", views.workspace_import, name="workspace_import"),
    path("sources/", views.source_list, name="source_list"),
    path("sources/add/", views.source_add, name="source_add"),
    path("sources/<int:pk>/edit/", views.source_edit, name="source_edit"),
    path("sources/<int:pk>/delete/", views.source_delete, name="source_delete"),
]
