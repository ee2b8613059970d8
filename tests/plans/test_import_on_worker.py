"""Import tracking plans on a worker (issue 13): the request only queues the import; its page
shows the progress while a worker runs it (Segment allows 200 reads of rules a minute), then
what changed, plan by plan; 403, 429 and network failures in plain words; nothing is a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import TrackingPlan, TrackingPlanImport, Workspace
from segadmin.plans import tasks
from segadmin.segment import client
from segadmin.segment.fake.plans import demo_rules
from segadmin.sending import plans as plan_import
from tests.credentials.conftest import assert_no_secret
from tests.factories import login
from tests.plans.conftest import PLAN_ID, TOKEN, Segment, track_rule

pytestmark = pytest.mark.django_db

Status = TrackingPlanImport.Status


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(client.transport, "_sleep", waits.append)
    return waits


def start(admin_client: Client, workspace: Workspace) -> TrackingPlanImport:
    response = admin_client.post(reverse("plans:import", args=[workspace.pk]))
    job = TrackingPlanImport.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[1])
    assert response.url == reverse("plans:import_detail", args=[job.pk])
    return job


def page(admin_client: Client, job: TrackingPlanImport, **params: str) -> str:
    response = admin_client.get(reverse("plans:import_detail", args=[job.pk]), params)
    assert response.status_code == 200
    return response.text


def test_the_request_only_queues_the_import_and_its_page_follows_it(
    admin_client: Client, segment: Segment, workspace: Workspace, web: Any
) -> None:
    segment.add_plan(demo_rules())
    segment.connect("src_web", {"track": {"allowUnplannedEvents": False}})
    job = start(admin_client, workspace)
    assert segment.fake.requests == []  # nothing asked of Segment in the request
    assert job.status == Status.QUEUED and job.actor["username"] == "ada"
    waiting = page(admin_client, job)
    assert "Waiting for a worker" in waiting
    assert 'hx-trigger="every 2s"' in waiting  # the progress part polls itself

    assert tasks.run_import(str(job.pk)) == Status.DONE  # the worker
    job.refresh_from_db()
    assert job.status == Status.DONE and job.requests == len(segment.fake.requests) >= 4
    done = page(admin_client, job)
    assert "Imported 1 tracking plan: “Shop plan”." in done
    assert "“Shop plan” is new: 5 rules." in done
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    assert reverse("plans:detail", args=[plan.pk]) in done
    assert 'hx-trigger="every 2s"' not in done  # finished: no more polling
    assert page(admin_client, job, part="progress").startswith('\n<section id="import-progress"')
    assert_no_secret(done, TOKEN)
    # Every request the worker made is on the record under the Admin who asked.
    users = set(AuditEntry.objects.filter(kind="request").values_list("username", flat=True))
    assert users == {"ada"}


def test_a_running_import_shows_its_step_and_requests_so_far(
    admin_client: Client, segment: Segment, workspace: Workspace
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    job = start(admin_client, workspace)
    seen: list[tuple[str, int]] = []

    def progress(step: str, requests: int) -> None:
        seen.append((step, requests))
        TrackingPlanImport.objects.filter(pk=job.pk).update(step=step, requests=requests)

    plan_import.import_tracking_plans(workspace, actor=tasks._actor(job), progress=progress)
    assert seen[0] == ("Listing the workspace's tracking plans", 0)
    reading = "Reading “Shop plan” (1 of 1): its rules, connected sources and their Protocols"
    assert any(step.startswith(reading) for step, _ in seen)
    assert seen[-1][0] == "Storing the plans"
    assert [n for _, n in seen] == sorted(n for _, n in seen) and seen[-1][1] >= 3
    TrackingPlanImport.objects.filter(pk=job.pk).update(status=Status.RUNNING)
    running = page(admin_client, job)
    assert "Storing the plans…" in running and f"{seen[-1][1]} requests to Segment" in running


def test_the_plans_list_links_each_workspaces_latest_import_for_admins(
    admin_client: Client, marketer: Any, segment: Segment, workspace: Workspace
) -> None:
    job = start(admin_client, workspace)
    url = reverse("plans:import_detail", args=[job.pk])
    listed = admin_client.get(reverse("plans:list")).text
    assert f'href="{url}" data-testid="latest-import">Import under way: follow it' in listed
    tasks.run_import(str(job.pk))
    listed = admin_client.get(reverse("plans:list")).text
    assert f'href="{url}" data-testid="latest-import">Last import (finished, ' in listed
    assert "latest-import" not in login(marketer).get(reverse("plans:list")).text


def test_a_second_import_of_the_same_workspace_shows_the_one_under_way(
    admin_client: Client, segment: Segment, workspace: Workspace
) -> None:
    first = start(admin_client, workspace)
    response = admin_client.post(reverse("plans:import", args=[workspace.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("plans:import_detail", args=[first.pk])
    assert "An import of this workspace&#x27;s tracking plans is under way." in response.text
    assert TrackingPlanImport.objects.count() == 1


def test_an_import_under_way_for_half_an_hour_no_longer_blocks_the_next(
    admin_client: Client, segment: Segment, workspace: Workspace
) -> None:
    first = start(admin_client, workspace)
    TrackingPlanImport.objects.filter(pk=first.pk).update(
        status=Status.RUNNING, created_at=timezone.now() - timedelta(minutes=31)
    )
    second = start(admin_client, workspace)
    assert second.pk != first.pk and second.status == Status.QUEUED


def test_refresh_queues_an_import_and_shows_what_changed(
    admin_client: Client, segment: Segment, workspace: Workspace
) -> None:
    segment.add_plan([track_rule("Order Completed"), track_rule("Cart Viewed")])
    tasks.run_import(str(start(admin_client, workspace).pk))
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    segment.change(
        upsert=[track_rule("Order Completed", version=2), track_rule("Signed Up")],
        remove=[{"type": "TRACK", "key": "Cart Viewed", "version": 1}],
    )
    response = admin_client.post(reverse("plans:refresh", args=[plan.pk]))
    job = TrackingPlanImport.objects.filter(status=Status.QUEUED).get()
    assert response.url == reverse("plans:import_detail", args=[job.pk])
    tasks.run_import(str(job.pk))
    changed = "added: Signed Up; removed: Cart Viewed; new versions: Order Completed v2"
    assert f"“Shop plan” changed (revision 2): {changed}." in page(admin_client, job)


def test_without_protocols_access_the_page_says_so_and_the_last_rules_are_kept(
    admin_client: Client, segment: Segment, workspace: Workspace
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    tasks.run_import(str(start(admin_client, workspace).pk))
    segment.workspace.protocols = False
    job = start(admin_client, workspace)
    assert tasks.run_import(str(job.pk)) == Status.DONE
    text = page(admin_client, job)
    assert "Tracking plans could not be imported." in text
    assert "needs the Protocols feature" in text
    assert TrackingPlan.objects.get(plan_id=PLAN_ID).rules.count() == 1


def test_rules_over_the_rate_limit_are_named_and_the_plan_keeps_its_rules(
    admin_client: Client, segment: Segment, workspace: Workspace, no_waiting: list[float]
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    tasks.run_import(str(start(admin_client, workspace).pk))
    segment.workspace.rules_per_minute = 0
    job = start(admin_client, workspace)
    tasks.run_import(str(job.pk))
    text = page(admin_client, job)
    assert "“Shop plan” could not be fetched:" in text
    assert "200 requests a minute" in text
    assert "Sending goes on with its last imported rules." in text
    assert no_waiting and all(wait == 60 for wait in no_waiting)


def test_a_network_failure_is_said_in_plain_words(
    admin_client: Client, segment: Segment, workspace: Workspace
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    segment.fake.queue_faults(["drop"] * (plan_import.IMPORT_PROFILE.max_retries + 1))
    job = start(admin_client, workspace)
    tasks.run_import(str(job.pk))
    text = page(admin_client, job)
    assert "Tracking plans could not be imported. Could not reach Segment" in text


def test_an_unexpected_error_ends_the_import_with_the_reason_and_no_500(
    admin_client: Client, segment: Segment, workspace: Workspace, monkeypatch: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"boom {TOKEN}")

    monkeypatch.setattr(tasks, "import_tracking_plans", broken)
    job = start(admin_client, workspace)
    assert tasks.run_import(str(job.pk)) == Status.FAILED
    text = page(admin_client, job)
    assert "Stopped by an error" in text
    assert "An unexpected error stopped this import (RuntimeError)." in text
    assert_no_secret(text, TOKEN)


def test_a_task_delivered_twice_runs_the_import_once(
    admin_client: Client, segment: Segment, workspace: Workspace
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    job = start(admin_client, workspace)
    assert tasks.run_import(str(job.pk)) == Status.DONE
    asked = len(segment.fake.requests)
    assert tasks.run_import(str(job.pk)) == Status.DONE
    assert len(segment.fake.requests) == asked
    assert tasks.run_import("00000000-0000-0000-0000-000000000000") == "missing"


@pytest.mark.parametrize("who", ["marketer", "support", "no_role_user"])
def test_only_admins_see_an_import(
    request: pytest.FixtureRequest, who: str, admin_client: Client, workspace: Workspace
) -> None:
    job = start(admin_client, workspace)
    browser = login(request.getfixturevalue(who))
    assert browser.get(reverse("plans:import_detail", args=[job.pk])).status_code == 403
    assert browser.post(reverse("plans:import", args=[workspace.pk])).status_code == 403
    assert TrackingPlanImport.objects.count() == 1


def test_an_unknown_import_is_a_404(admin_client: Client, db: None) -> None:
    url = reverse("plans:import_detail", args=["00000000-0000-0000-0000-000000000000"])
    assert admin_client.get(url).status_code == 404
