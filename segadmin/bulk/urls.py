from __future__ import annotations

from django.urls import path

from segadmin.bulk import views

app_name = "bulk"

urlpatterns = [
    path("", views.index, name="index"),
    path("samples/<slug:call_type>.csv", views.sample, name="sample"),
    path("<slug:job_id>/", views.job_detail, name="job"),
    path("<slug:job_id>/progress/", views.progress, name="progress"),
    path("<slug:job_id>/dry-run/", views.dry_run_status, name="dry_run"),
    path("<slug:job_id>/cancel/", views.cancel, name="cancel"),
    path("<slug:job_id>/resume/", views.resume, name="resume"),
    path("<slug:job_id>/errors.csv", views.error_report, name="error_report"),
    path("<slug:job_id>/failed-rows/", views.failed_rows, name="failed_rows"),
]
