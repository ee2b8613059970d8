"""A bulk import to a Production source (issue 16): Start asks for a confirmation naming the
source and the row count; without it (a forged post too) nothing is queued or sent and the
refusal sits next to the box; with it the import runs; an import to a source that is not
Production starts as before. The mapping and progress pages carry the marker."""

from __future__ import annotations

import html
from typing import Any

import pytest

from segadmin.audit.log import Actor
from segadmin.bulk import services
from segadmin.bulk.models import BulkJob, Status
from segadmin.credentials.models import Source
from tests.bulk.conftest import csv_text, mapping_post, upload
from tests.factories import login, make_source

pytestmark = pytest.mark.django_db

WRITE_KEY = "wk_PRODbulkAbCdEfGhIjKlMnOpQrStUvW"
QUESTION = "Send the 3 rows of this import to Production source “Live site”"


@pytest.fixture
def live(fake_segment: Any) -> Source:
    fake_segment.add_write_key(WRITE_KEY, "src_live")
    return make_source("Live site", WRITE_KEY, production=True)


@pytest.fixture
def job(marketer: Any, live: Source) -> BulkJob:
    rows = [[f"user-{i}", f"u{i}@example.com"] for i in range(1, 4)]
    response = upload(login(marketer), csv_text(["userId", "email"], rows), source=live)
    assert response.status_code == 302
    return BulkJob.objects.get()


def _error_next_to_the_box(text: str) -> str:
    part = text.split('data-testid="confirm-production-error">', 1)
    assert len(part) == 2, "no refusal next to the confirmation box"
    return html.unescape(part[1].split("</div>", 1)[0])


def test_the_mapping_page_marks_the_source_and_asks_with_the_row_count(
    marketer: Any, job: BulkJob
) -> None:
    page = login(marketer).get(f"/bulk/{job.pk}/")
    text = html.unescape(page.text)
    assert 'data-testid="production-badge">Production</span>' in text
    assert 'data-testid="production-banner"' in text
    assert QUESTION in text


@pytest.mark.parametrize("forged", [None, "", "on", "Live"])
def test_start_without_the_confirmation_queues_nothing(
    forged: str | None, marketer: Any, job: BulkJob, fake_segment: Any, immediate_tasks: None
) -> None:
    extra = {} if forged is None else {"confirm_production": forged}
    response = login(marketer).post(f"/bulk/{job.pk}/", mapping_post(job, action="start", **extra))
    assert response.status_code == 422
    refusal = _error_next_to_the_box(response.text)
    assert refusal.startswith(f"“Live site” is a Production source: tick “{QUESTION}”")
    assert refusal.endswith("Nothing was started.")
    job.refresh_from_db()
    assert job.status == Status.DRAFT
    assert fake_segment.requests == []


def test_start_with_the_confirmation_sends_the_import(
    marketer: Any, job: BulkJob, live: Source, fake_segment: Any, immediate_tasks: None
) -> None:
    client = login(marketer)
    data = mapping_post(job, action="start", confirm_production=str(live.pk))
    response = client.post(f"/bulk/{job.pk}/", data)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.DONE
    assert len(fake_segment.messages("/v1/batch")) == 3
    progress = client.get(f"/bulk/{job.pk}/")
    assert 'data-testid="production-badge">Production</span>' in progress.text


def test_the_service_refuses_a_start_without_the_confirmation(job: BulkJob, live: Source) -> None:
    with pytest.raises(services.ProductionNotConfirmed):
        services.start(job, Actor.system("tests"))
    assert BulkJob.objects.get().status == Status.DRAFT
    assert services.start(job, Actor.system("tests"), confirm_production="Live site")


def test_an_import_to_a_source_that_is_not_production_starts_as_before(
    marketer: Any, fake_segment: Any, immediate_tasks: None
) -> None:
    fake_segment.add_write_key(WRITE_KEY, "src_live")
    staging = make_source("Staging", WRITE_KEY)
    client = login(marketer)
    upload(client, csv_text(["userId"], [["u1"]]), source=staging)
    job = BulkJob.objects.get()
    page = client.get(f"/bulk/{job.pk}/")
    assert "production-banner" not in page.text
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.DONE


def test_the_upload_page_marks_production_sources_and_imports(
    marketer: Any, job: BulkJob, live: Source
) -> None:
    page = login(marketer).get("/bulk/")
    text = page.text
    # The Source select says it in words and carries the flag for the script's hint.
    assert (
        f'<option value="{live.pk}" data-production="true">Live site (US) — Production</option>'
        in text
    )
    assert 'data-testid="production-hint" hidden' in text
    # The recent imports list marks the import to it.
    assert 'data-testid="production-badge">Production</span>' in text
