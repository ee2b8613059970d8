"""Bulk imports to a source with a tracking plan (issue 13): the dry run names each row's plan
violations by row and column; under Block the job sends only conforming rows (the others are
row problems), under Warn it sends them all and counts the violations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from segadmin.audit.models import AuditEntry, Kind
from segadmin.bulk.models import BulkJob, Status
from segadmin.credentials.models import Source
from tests.bulk.conftest import csv_text, mapping_post, upload
from tests.tracking_plans import PLAN_NAME, connect

pytestmark = pytest.mark.django_db

ROWS = [
    ["u1", "Order Completed", "o-1", "12"],
    ["u2", "Order Completed", "", "5"],  # no order_id
    ["u3", "Order Complete", "o-3", "1"],  # not the planned name
    ["u4", "Order Completed", "o-4", "9.5"],
]
MISSING = f"order_id is required by the tracking plan “{PLAN_NAME}”"
UNPLANNED = (
    f"“Order Complete” is not an event in the tracking plan “{PLAN_NAME}” "
    "(did you mean “Order Completed”?)"
)


def uploaded(client: Any, user: Any, source: Source) -> BulkJob:
    client.force_login(user)
    content = csv_text(["userId", "event", "order_id", "total"], ROWS)
    assert upload(client, content, call_type="track", source=source).status_code == 302
    return BulkJob.objects.get()


def post(client: Any, job: BulkJob, action: str) -> Any:
    return client.post(
        f"/bulk/{job.pk}/", mapping_post(job, {"total": {"type": "number"}}, action=action)
    )


def test_the_dry_run_under_block_names_each_violation_by_row_and_column(
    client, marketer, source, fake_segment
):
    connect(source, enforcement="block", unplanned_events="block")
    job = uploaded(client, marketer, source)
    response = post(client, job, "dry_run")
    assert response.status_code == 200
    job.refresh_from_db()
    assert (job.dry_run["valid"], job.dry_run["invalid"]) == (2, 2)
    errors = {(row, column): reason for row, column, reason in job.dry_run["errors"]}
    # u2 and u3, on the spreadsheet's rows 3 and 4 (the header is row 1).
    assert errors[(3, "order_id")] == MISSING
    assert errors[(4, "event")] == UNPLANNED
    assert {row for row, _ in errors} == {3, 4}
    assert UNPLANNED in response.content.decode()
    assert fake_segment.requests == []


def test_the_job_under_block_sends_only_conforming_rows(
    client, marketer, source, fake_segment, immediate_tasks
):
    connect(source, enforcement="block", unplanned_events="block")
    job = uploaded(client, marketer, source)
    assert post(client, job, "start").status_code == 302
    job.refresh_from_db()
    assert job.status == Status.DONE
    assert (job.sent, job.invalid, job.failed) == (2, 2, 0)
    assert sorted(m["userId"] for m in fake_segment.messages("/v1/batch")) == ["u1", "u4"]
    problems = {f.row: f.problems for f in job.failures.all()}
    assert problems[3] == [["order_id", MISSING]]
    assert ["event", UNPLANNED] in problems[4]
    assert set(problems) == {3, 4}
    entries = AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk))
    assert [e.plan_violations for e in entries] == [0]


def test_under_warn_the_dry_run_counts_the_rows_with_violations_and_the_job_sends_them(
    client, marketer, source, fake_segment, immediate_tasks
):
    plan = connect(source, enforcement="warn", unplanned_events="warn")
    job = uploaded(client, marketer, source)
    response = post(client, job, "dry_run")
    job.refresh_from_db()
    assert (job.dry_run["valid"], job.dry_run["invalid"], job.dry_run["violations"]) == (4, 0, 2)
    warnings = {(row, column): reason for row, column, reason in job.dry_run["warnings"]}
    assert warnings[(3, "order_id")] == MISSING and warnings[(4, "event")] == UNPLANNED
    assert "2 with tracking-plan violations" in response.content.decode()

    assert post(client, job, "start").status_code == 302
    job.refresh_from_db()
    assert (job.status, job.sent, job.failed) == (Status.DONE, 4, 0)
    assert len(fake_segment.messages("/v1/batch")) == 4
    (entry,) = AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk))
    assert entry.plan_violations == 2
    record = json.loads(entry.details)["tracking_plan"]
    assert (record["id"], record["revision"], record["violations"]) == (plan.plan_id, 3, 2)
    assert {(f["index"], f["message"]) for f in record["findings"]} >= {
        (1, MISSING),
        (2, UNPLANNED),
    }


def test_the_job_checks_each_row_against_the_plan_once(
    client, marketer, source, fake_segment, immediate_tasks, monkeypatch
):
    from segadmin.segment import rules

    connect(source, enforcement="warn", unplanned_events="warn")
    job = uploaded(client, marketer, source)
    assert post(client, job, "dry_run").status_code == 200
    checked: list[Any] = []
    real = rules.plan_problems

    def plan_problems(plan, call_type, message, **kwargs):
        checked.append(message["userId"])
        return real(plan, call_type, message, **kwargs)

    monkeypatch.setattr(rules, "plan_problems", plan_problems)
    assert post(client, job, "start").status_code == 302
    job.refresh_from_db()
    assert (job.status, job.sent) == (Status.DONE, 4)
    # The worker's plan asked about each row once; the send service took its verdict.
    assert sorted(checked) == ["u1", "u2", "u3", "u4"]
    (entry,) = AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk))
    assert entry.plan_violations == 2


def test_each_chunk_is_checked_as_the_source_says_now(client, marketer, source, fake_segment):
    from segadmin.bulk import dryrun, worker

    plan = connect(source, enforcement="block", unplanned_events="block")
    job = uploaded(client, marketer, source)
    built = dryrun.plan_for(job)
    assert worker._current(job, built) is built  # nothing changed: the same plan
    # An Admin switches the source to Warn during the job: the next chunk follows it.
    Source.objects.filter(pk=source.pk).update(plan_enforcement="warn")
    warned = worker._current(job, built)
    assert warned.tracking_plan is not None and warned.tracking_plan.enforcement == "warn"
    message, _, problems = warned.message(["u2", "Order Completed", "", "5"], 2)
    assert message is not None and [p.reason for p in problems] == [MISSING]
    # A new import of the plan (a new revision) too.
    type(plan).objects.filter(pk=plan.pk).update(revision=plan.revision + 1)
    assert worker._current(job, warned).tracking_plan.revision == plan.revision + 1
