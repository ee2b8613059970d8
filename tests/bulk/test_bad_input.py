"""Bad input in an import ends as a row problem or a clear refusal, never as a server error,
a job stuck at 0 % or a dry run that never ends; a dry run or a run that breaks says why."""

from __future__ import annotations

import json

import pytest

from segadmin.audit.log import Actor
from segadmin.bulk import services
from segadmin.bulk.models import BulkJob, Status
from segadmin.lib.userjson import MAX_DEPTH
from tests.bulk.conftest import WRITE_KEY, csv_text, mapping_post, upload

pytestmark = pytest.mark.django_db

NESTED = "[" * 50_000 + "]" * 50_000
TOO_DEEP = f"is too deeply nested: more than {MAX_DEPTH} levels."


def as_json(job: BulkJob, column: str = "prefs") -> dict[str, dict]:
    return {column: {"type": "json"}}


def errors_by_row(job: BulkJob) -> dict[int, tuple[str, str]]:
    return {row: (column, reason) for row, column, reason in job.dry_run["errors"]}


def test_a_nested_cell_in_the_first_rows_is_a_row_problem(client, marketer, source, fake_segment):
    client.force_login(marketer)
    content = csv_text(["userId", "prefs"], [["u1", NESTED], ["u2", '{"a": 1}']])
    response = upload(client, content, source=source)
    assert response.status_code == 302
    job = BulkJob.objects.get()
    assert job.proposals["prefs"] == "text"  # the nested cell is not JSON that can be used

    page = client.post(f"/bulk/{job.pk}/", mapping_post(job, as_json(job), action="dry_run"))
    assert page.status_code == 200
    job.refresh_from_db()
    assert (job.dry_run["valid"], job.dry_run["invalid"]) == (1, 1)
    column, reason = errors_by_row(job)[2]  # the spreadsheet's row 2: the header is row 1
    assert column == "prefs" and reason.endswith(TOO_DEEP)
    assert TOO_DEEP in page.content.decode()


def test_a_nested_cell_past_the_sampled_rows_is_a_row_problem_in_the_dry_run_and_the_run(
    client, marketer, source, fake_segment, immediate_tasks
):
    client.force_login(marketer)
    rows = [[f"u{i}", '{"a": 1}'] for i in range(1, 1_002)] + [["u1002", NESTED]]
    assert upload(client, csv_text(["userId", "prefs"], rows), source=source).status_code == 302
    job = BulkJob.objects.get()
    assert job.proposals["prefs"] == "json"

    page = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="dry_run"))
    assert page.status_code == 200
    job.refresh_from_db()
    assert job.dry_run["invalid"] == 1
    assert errors_by_row(job)[1003][1].endswith(TOO_DEEP)  # data row 1,002, under the header
    report = b"".join(client.get(f"/bulk/{job.pk}/errors.csv").streaming_content).decode()
    assert "1003,prefs," in report and TOO_DEEP in report

    started = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start"))
    assert started.status_code == 302, started.content.decode()[-3000:]
    job.refresh_from_db()
    assert job.status == Status.DONE
    assert (job.sent, job.invalid, job.failed) == (1_001, 1, 0)  # invalid: never sent
    assert job.failures.get().row == 1003


def test_a_nested_cell_found_by_the_worker_s_dry_run_is_a_row_problem(
    client, marketer, source, settings, immediate_tasks
):
    settings.SEGADMIN_BULK_INLINE_DRY_RUN_ROWS = 5
    client.force_login(marketer)
    rows = [[f"u{i}", "[1]"] for i in range(1, 8)] + [["u8", NESTED]]
    upload(client, csv_text(["userId", "prefs"], rows), source=source)
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, as_json(job), action="dry_run"))
    job.refresh_from_db()
    assert job.dry_run.get("status") != "running"
    assert (job.dry_run["valid"], job.dry_run["invalid"]) == (7, 1)
    assert errors_by_row(job)[9][1].endswith(TOO_DEEP)


def test_a_nested_json_text_in_a_json_lines_row_is_a_row_problem(
    client, marketer, source, fake_segment
):
    client.force_login(marketer)
    lines = [{"userId": "u1", "prefs": NESTED}, {"userId": "u2", "prefs": "[1, 2]"}]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    assert upload(client, content, name="users.jsonl", source=source).status_code == 302
    job = BulkJob.objects.get()
    client.post(f"/bulk/{job.pk}/", mapping_post(job, as_json(job), action="dry_run"))
    job.refresh_from_db()
    assert (job.dry_run["valid"], job.dry_run["invalid"]) == (1, 1)
    assert errors_by_row(job)[1] == ("prefs", f"“{NESTED[:37]}…” {TOO_DEEP}")


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 50_000])
def test_a_json_lines_row_nested_too_deeply_is_refused_at_upload_with_its_line(
    client, marketer, source, levels
):
    client.force_login(marketer)
    deep = "[" * levels + "]" * levels
    content = f'{{"userId": "u1"}}\n{{"userId": "u2", "prefs": {deep}}}\n'.encode()
    response = upload(client, content, name="users.jsonl", source=source)
    assert response.status_code == 422
    assert f"Line 2 {TOO_DEEP}" in response.content.decode()
    assert BulkJob.objects.count() == 0


# --- A dry run or a run that breaks -----------------------------------------------------------


def _explode(*args, **kwargs):
    raise RuntimeError("the disk is on fire")


@pytest.fixture
def draft(client, marketer, source):
    client.force_login(marketer)
    upload(client, csv_text(["userId", "plan"], [["u1", "pro"], ["u2", "free"]]), source=source)
    return BulkJob.objects.get()


def test_a_dry_run_that_breaks_says_why_and_start_is_gone(client, draft, monkeypatch):
    monkeypatch.setattr("segadmin.bulk.plan.Plan.message", _explode)
    response = client.post(f"/bulk/{draft.pk}/", mapping_post(draft, action="dry_run"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The dry run stopped" in page and "RuntimeError: the disk is on fire" in page
    assert 'value="start"' not in page
    draft.refresh_from_db()
    assert draft.dry_run["status"] == "failed"


def test_a_forged_start_after_a_failed_dry_run_is_refused(
    client, draft, monkeypatch, fake_segment, immediate_tasks
):
    with monkeypatch.context() as patch:
        patch.setattr("segadmin.bulk.plan.Plan.message", _explode)
        client.post(f"/bulk/{draft.pk}/", mapping_post(draft, action="dry_run"))
    response = client.post(f"/bulk/{draft.pk}/", mapping_post(draft, action="start"))
    assert response.status_code == 422
    assert "Run the dry run again" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    assert fake_segment.requests == []
    # The service refuses too, whoever calls it.
    with pytest.raises(services.StartRefused):
        services.start(draft, Actor(user=None, username="forger", role="", ip=None, user_agent=""))
    assert BulkJob.objects.get().status == Status.DRAFT


def test_a_worker_dry_run_that_breaks_ends_failed_and_the_page_reloads_without_start(
    client, draft, monkeypatch, settings, immediate_tasks
):
    settings.SEGADMIN_BULK_INLINE_DRY_RUN_ROWS = 1
    monkeypatch.setattr("segadmin.bulk.plan.Plan.message", _explode)
    client.post(f"/bulk/{draft.pk}/", mapping_post(draft, action="dry_run"))
    draft.refresh_from_db()
    assert draft.dry_run["status"] == "failed"
    assert "RuntimeError: the disk is on fire" in draft.dry_run["error"]
    fragment = client.get(f"/bulk/{draft.pk}/dry-run/", headers={"HX-Request": "true"})
    assert fragment["HX-Refresh"] == "true"
    assert 'value="start"' not in client.get(f"/bulk/{draft.pk}/").content.decode()


@pytest.mark.parametrize("target", ["segadmin.bulk.worker._prepare", "segadmin.sending.send_batch"])
def test_a_run_that_raises_ends_failed_with_the_reason_on_its_page(
    client, draft, monkeypatch, fake_segment, immediate_tasks, target
):
    monkeypatch.setattr(target, _explode)
    client.post(f"/bulk/{draft.pk}/", mapping_post(draft, action="start"))
    draft.refresh_from_db()
    assert draft.status == Status.FAILED
    assert draft.finished_at is not None
    assert "RuntimeError: the disk is on fire" in draft.error
    page = client.get(f"/bulk/{draft.pk}/").content.decode()
    assert "RuntimeError: the disk is on fire" in page
    assert "stopped by an error" in page
    assert WRITE_KEY not in page and WRITE_KEY not in draft.error


def test_a_run_error_that_quotes_the_write_key_is_stored_and_shown_without_it(
    client, draft, monkeypatch, fake_segment, immediate_tasks
):
    import base64

    basic = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()

    def leaky(*args, **kwargs):
        raise ValueError(f"bad header Authorization: Basic {basic} for key {WRITE_KEY}")

    monkeypatch.setattr("segadmin.sending.send_batch", leaky)
    client.post(f"/bulk/{draft.pk}/", mapping_post(draft, action="start"))
    draft.refresh_from_db()
    assert draft.status == Status.FAILED
    assert "ValueError: bad header Authorization: Basic **** for key ****" in draft.error
    page = client.get(f"/bulk/{draft.pk}/").content.decode()
    assert WRITE_KEY not in page and basic not in page
