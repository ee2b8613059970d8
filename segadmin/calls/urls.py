from __future__ import annotations

from django.urls import path

from segadmin.calls import views

app_name = "calls"

urlpatterns = [
    path("identify/", views.identify, name="identify"),
    path("track/", views.track, name="track"),
    path("page/", views.page, name="page"),
    path("screen/", views.screen, name="screen"),
    path("group/", views.group, name="group"),
    path("alias/", views.alias, name="alias"),
    path("api/", views.api_call, name="api"),
    path("plan/<slug:call_type>/editor/", views.planned_editor, name="planned_editor"),
    path("editor/<slug:kind>/switch/", views.editor_switch, name="editor_switch"),
    path("editor/<slug:kind>/row/", views.editor_row, name="editor_row"),
]
