from __future__ import annotations

from django.urls import path

from segadmin.approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.approval_list, name="list"),
    path("<int:pk>/decide/", views.approval_decide, name="decide"),
]
