"""Bulk import in Chromium, under the real CSP: upload, dry run, start, and watch the progress
bar (htmx polling) reach 100% while a real db_worker process sends to the local fake."""

from __future__ import annotations

import os

import pytest

from segadmin.bulk.models import BulkJob, Status

# The bulk tests' fixtures: a source known to the fake and real db_worker processes.
from tests.bulk.conftest import csv_text, source, start_worker  # noqa: F401
from tests.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("SEGADMIN_SCREENSHOTS", "")


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"bulk-{name}.png"), full_page=True)


def test_upload_dry_run_start_and_watch_the_bar_reach_100_percent(
    page,
    live_server,
    browser_errors,
    marketer,
    fake_segment,
    monkeypatch,
    source,  # noqa: F811
    start_worker,  # noqa: F811
):
    monkeypatch.setattr("segadmin.bulk.parsing.CHUNK_ROWS", 500)
    fake_segment.set_latency(150)  # a few seconds of progress to watch
    start_worker()
    rows = [[f"user-{i}", f"u{i}@example.com", str(i % 9), "true"] for i in range(1, 3001)]
    rows[9][0] = ""  # one row without an ID: invalid, reported, not sent
    content = csv_text(["userId", "email", "visits", "vip"], rows)

    log_in(page, live_server, "maria")
    page.get_by_role("navigation").get_by_role("link", name="Bulk import").click()
    page.get_by_label("File").set_input_files(
        {"name": "users.csv", "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_label("Identify").check()
    page.get_by_label("Source").select_option(label="Bulk site (US)")
    shot(page, "upload")
    page.get_by_role("button", name="Upload").click()

    page.get_by_role("heading", name="Identify from users.csv").wait_for()
    assert page.get_by_label("Type of “visits”").input_value() == "number"
    assert page.get_by_label("Type of “vip”").input_value() == "boolean"
    page.get_by_role("button", name="Dry run").click()
    page.get_by_test_id("dry-run").wait_for()
    assert page.get_by_test_id("dry-valid").inner_text() == "2999 valid"
    assert page.get_by_test_id("dry-invalid").inner_text() == "1 invalid"
    assert "Add a User ID or an Anonymous ID." in page.get_by_test_id("dry-errors").inner_text()
    shot(page, "dry-run")
    assert fake_segment.requests == []

    page.get_by_role("button", name="Start").click()
    bar = page.get_by_test_id("progress-bar")
    bar.wait_for()
    seen: list[int] = []
    for _ in range(600):
        value = int(bar.get_attribute("aria-valuenow") or 0)
        if not seen or seen[-1] != value:
            seen.append(value)
            if 0 < value < 100 and len(seen) == 2:
                shot(page, "progress")
        if value == 100 and page.get_by_role("heading", name="Results").is_visible():
            break
        page.wait_for_timeout(100)
    assert seen[-1] == 100, seen
    assert seen == sorted(seen)
    # The bar's width follows its value, without a style attribute (the CSP forbids them).
    width = bar.locator(".progress-bar").evaluate("el => el.getBoundingClientRect().width")
    assert width == pytest.approx(bar.evaluate("el => el.getBoundingClientRect().width"), abs=2)
    assert page.get_by_test_id("sent").inner_text() == "2999"
    # The row without an ID is "Invalid" (the checks refused it); "Failed" is only what
    # Segment or the network refused.
    assert page.get_by_test_id("invalid").inner_text() == "1"
    assert page.get_by_test_id("failed").inner_text() == "0"
    assert page.get_by_test_id("download-failed").is_visible()
    # Row numbers as a spreadsheet shows them: data row 10 is on row 11 under the header.
    assert page.get_by_test_id("failures").locator("tbody td").first.inner_text() == "11"
    shot(page, "done")

    job = BulkJob.objects.get()
    assert job.status == Status.DONE
    assert len(fake_segment.messages("/v1/batch")) == 2999
    assert browser_errors == []
