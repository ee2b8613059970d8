"""Uploaded files are purged SEGADMIN_BULK_RETENTION_DAYS after their import ends, by the
periodic job; the import's page says when (issue 15)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from segadmin import periodic
from segadmin.audit.models import AuditEntry
from segadmin.bulk import retention
from segadmin.bulk.models import BulkChunk, BulkJob, BulkRowResult, Status
from tests.bulk.conftest import csv_text, mapping_post, upload
from tests.factories import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(support, source, immediate_tasks):
    client = login(support)
    upload(client, csv_text(["userId", "email"], [["u1", "a@x.io"], ["", "b@x.io"]]), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    job.refresh_from_db()
    assert job.is_finished and BulkRowResult.objects.filter(job=job).exists()
    return client, job


def test_the_page_says_when_the_file_is_purged(finished, settings):
    client, job = finished
    settings.SEGADMIN_BULK_RETENTION_DAYS = 30
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    until = (job.finished_at + timedelta(days=30)).strftime("%Y-%m-%d")
    assert f"kept until {until}" in page and "30 days after the import ended" in page


def test_a_file_past_its_retention_is_purged_and_the_record_stays(finished, settings):
    client, job = finished
    settings.SEGADMIN_BULK_RETENTION_DAYS = 30
    assert retention.purge_expired() == 0  # ended just now: kept
    BulkJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=31))
    assert retention.purge_expired() == 1
    assert retention.purge_expired() == 0  # once
    job.refresh_from_db()
    assert job.file_purged_at is not None and job.examples == []
    assert set(BulkChunk.objects.filter(job=job).values_list("data", flat=True)) == {b""}
    assert list(BulkRowResult.objects.filter(job=job).values_list("cells", flat=True)) == [[]]
    assert job.sent == 1 and BulkRowResult.objects.filter(job=job).count() == 1
    entry = AuditEntry.objects.get(action="bulk.files_purged")
    assert entry.username == "bulk.retention" and entry.details_data["file"] == "users.csv"
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert "was purged on" in page
    answer = client.get(f"/bulk/{job.pk}/failed-rows/", follow=True)
    assert "its rows can no longer be downloaded" in answer.content.decode()


def test_a_draft_never_started_is_purged_and_cancelled(support, source, settings):
    settings.SEGADMIN_BULK_RETENTION_DAYS = 2
    client = login(support)
    upload(client, csv_text(["userId"], [["u1"]]), source=source)
    job = BulkJob.objects.get()
    BulkJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=3))
    assert retention.purge_expired() == 1
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert "purged 2 days after it was uploaded" in job.error


def test_retention_is_a_registered_periodic_job():
    assert "bulk.retention" in [job.name for job in periodic.registered()]
