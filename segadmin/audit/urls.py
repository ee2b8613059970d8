from __future__ import annotations

from django.urls import path

from segadmin.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.entry_list, name="list"),
    path("export/", views.export_entries, name="export"),
    path("verify/", views.verify, name="verify"),
    path("<int:pk>/", views.entry_detail, name="entry"),
    path("<int:pk>/send-again/", views.send_again, name="send_again"),
    path("<int:pk>/edit/", views.edit_and_send, name="edit_and_send"),
]
