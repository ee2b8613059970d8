"""Reads (Test connection, imports, Profile API lookups, GETs) are not counted as calls on the
home page; the first-run checklist ticks itself from what is stored; the stored day counts are
counted again without reads; the printed admin banner names the real address."""

from __future__ import annotations

import importlib
import io
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from segadmin.audit.log import record_outcome, record_request
from segadmin.audit.management.commands.ensure_admin import login_url
from segadmin.home.models import DailyCount, SetupDone
from segadmin.segment import client
from segadmin.segment.client.profile_api import profile_traits_request
from segadmin.segment.client.public_api import public_request
from tests.audit.entries import actor_for, add_call, make_source
from tests.factories import login, make_workspace

pytestmark = pytest.mark.django_db
HOME = reverse("home:index")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _read(request, user, status: int, when: datetime):
    with mock.patch("segadmin.audit.chain.timezone.now", return_value=when):
        entry = record_request(actor=actor_for(user), request=request)
        result = client.SendResult(
            status=status,
            headers={"Content-Type": "application/json"},
            body=b'{"error":"not found"}' if status >= 400 else b"{}",
            attempts=1,
            duration_ms=5.0,
            error=None,
        )
        record_outcome(entry, result, request=request)
    return entry


def _profile_404(user, when):
    request = profile_traits_request(
        space_id="spa_1",
        token="profile-token-0123456789",
        region="us",
        identifier_type="user_id",
        identifier="nobody",
    )
    return _read(request, user, 404, when)


def _test_connection(user, when, status=200):
    request = public_request(
        "/", [], token="sgp_x0123456789", region="us", call_type="public:get_workspace"
    )
    return _read(request, user, status, when)


@pytest.fixture
def frozen_now():
    with mock.patch.object(timezone, "now", return_value=NOW):
        yield


def test_a_profile_api_not_found_and_other_reads_are_not_counted(support, frozen_now) -> None:
    source = make_source()
    # Written in the order of their clock, as the chain numbers them (oldest first).
    for days in (5, 0):
        _test_connection(support, NOW - timedelta(days=days, hours=3))
        _profile_404(support, NOW - timedelta(days=days, hours=2))
        _test_connection(support, NOW - timedelta(days=days, hours=2), status=401)
    with mock.patch("segadmin.audit.chain.timezone.now", return_value=NOW - timedelta(hours=1)):
        add_call(user=support, source=source)
        add_call(user=support, source=source, status=400)
    response = login(support).get(HOME)
    chart = response.context["chart"]
    totals = {s["outcome"]: s["total"] for s in chart["series"]}
    assert totals == {"sent": 1, "rejected": 1, "failed": 0, "none": 0}
    assert chart["total"] == 2
    failures = {f["outcome"]: f["count"] for f in response.context["failures"]}
    assert failures == {"rejected": 1, "failed": 0, "none": 0}
    assert [e.call_type for e in response.context["to_look_at"]] == ["track"]
    # The day five days ago (counted once and kept) holds no reads either.
    day = (NOW - timedelta(days=5)).date()
    kept = dict(DailyCount.objects.filter(scope="all", day=day).values_list("outcome", "count"))
    assert kept == {"sent": 0, "rejected": 0, "failed": 0, "none": 0}
    # The rejected count's link lists exactly the one rejected call, not the lookups.
    rejected = next(f for f in response.context["failures"] if f["outcome"] == "rejected")
    listed = login(support).get(rejected["url"])
    assert [e.call_type for e in listed.context["page"].entries] == ["track"]
    assert 'data-testid="sends-note"' in listed.content.decode()


def test_the_migration_forgets_the_counts_kept_before_so_they_are_counted_again(
    support,
) -> None:
    DailyCount.objects.create(
        day=NOW.date(), zone="UTC", scope="all", outcome="rejected", count=7, computed_at=NOW
    )
    migration = importlib.import_module("segadmin.home.migrations.0002_recount_without_reads")
    from django.apps import apps

    migration.forget_counts(apps, None)
    assert not DailyCount.objects.exists()


def _steps(user) -> dict[str, bool] | None:
    checklist = login(user).get(HOME).context["checklist"]
    return None if checklist is None else {step.key: step.done for step in checklist}


def test_the_checklist_ticks_itself_from_real_data(admin_user) -> None:
    assert _steps(admin_user) == {
        "workspace": False,
        "tested": False,
        "sources": False,
        "sent": False,
    }
    workspace = make_workspace("sgp_checklist0123456789")
    _test_connection(admin_user, timezone.now(), status=401)  # a failed test does not tick
    assert _steps(admin_user) == {
        "workspace": True,
        "tested": False,
        "sources": False,
        "sent": False,
    }
    _test_connection(admin_user, timezone.now())
    make_source(workspace=workspace)
    add_call(user=admin_user, status=400)  # a rejected call is not a first call
    assert _steps(admin_user) == {"workspace": True, "tested": True, "sources": True, "sent": False}
    add_call(user=admin_user)
    assert _steps(admin_user) is None
    html = login(admin_user).get(HOME).content.decode()
    assert 'data-testid="checklist"' not in html
    assert 'data-testid="activity"' in html and 'data-testid="calls-chart"' in html


def test_a_finished_setup_is_remembered_and_not_checked_again(admin_user) -> None:
    workspace = make_workspace("sgp_checklist0123456789")
    _test_connection(admin_user, timezone.now())
    make_source(workspace=workspace)
    add_call(user=admin_user)
    assert not SetupDone.objects.exists()
    assert _steps(admin_user) is None  # the visit that finds every step done writes it
    assert SetupDone.objects.count() == 1
    with mock.patch("segadmin.home.setup._state") as state:
        assert _steps(admin_user) is None
    state.assert_not_called()  # the four steps are not looked at again
    workspace.delete()  # the install was set up once: the checklist does not come back
    assert _steps(admin_user) is None
    assert SetupDone.objects.count() == 1


def test_the_checklist_links_to_the_next_step_for_an_admin_only(admin_user, marketer) -> None:
    workspace = make_workspace("sgp_checklist0123456789")
    html = login(admin_user).get(HOME).content.decode()
    assert f'href="{reverse("credentials:workspace_detail", args=[workspace.pk])}"' in html
    assert f'href="{reverse("credentials:workspace_import", args=[workspace.pk])}"' in html
    theirs = login(marketer).get(HOME)
    steps = {step.key: step for step in theirs.context["checklist"]}
    assert steps["sources"].url == "" and steps["sources"].action == "An Admin does this."
    assert steps["sent"].url == reverse("calls:identify")
    assert reverse("credentials:workspace_import", args=[workspace.pk]) not in (
        theirs.content.decode()
    )


def test_the_home_no_longer_repeats_the_navigation_as_tiles(admin_user) -> None:
    html = login(admin_user).get(HOME).content.decode()
    main = html.split("<main", 1)[1]
    assert f'href="{reverse("calls:api")}"' not in main


def test_recent_activity_is_everyones_for_those_who_read_everything(
    marketer, support, admin_user
) -> None:
    mine = add_call(user=marketer)
    theirs = add_call(user=support)
    assert [e.seq for e in login(admin_user).get(HOME).context["activity"]] == [
        theirs.seq,
        mine.seq,
    ]
    assert login(marketer).get(HOME).context["activity"] == []


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", "8000", "http://127.0.0.1:8000/"),
        ("localhost", "9123", "http://localhost:9123/"),
        ("0.0.0.0", "8080", "http://127.0.0.1:8080/"),
        ("::1", "8001", "http://[::1]:8001/"),
    ],
)
def test_the_banner_names_the_address_served(host, port, url) -> None:
    assert login_url(host, port) == url


def test_ensure_admin_prints_the_host_and_port_it_is_given() -> None:
    out = io.StringIO()
    call_command("ensure_admin", "--host", "127.0.0.1", "--port", "9321", stdout=out)
    assert "Log in at http://127.0.0.1:9321/" in out.getvalue()
    assert "8000" not in out.getvalue()
