"""The quarter-hour counts kept for the home page (audit.RequestCount) are pruned by the periodic
job ``audit.prune_request_counts``: rows older than anything a page reads go, the home page's
numbers stay the same, and an answer that comes late for a pruned quarter hour brings no old
row back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from segadmin import periodic
from segadmin.audit import counts
from segadmin.audit.log import record_outcome
from segadmin.audit.models import AuditEntry, RequestCount
from segadmin.home import dashboard
from segadmin.home.models import DailyCount
from segadmin.periodic import scheduler
from segadmin.segment import client
from segadmin.segment.messages import build_message
from tests.audit.entries import WRITE_KEY, add_call, make_source
from tests.factories import login

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
JOB = "audit.prune_request_counts"
# Every day the chart shows (30), in the zones furthest from UTC on either side.
ZONES = ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"]


def at(when: datetime, **kwargs):
    with mock.patch("segadmin.audit.chain.timezone.now", return_value=when):
        return add_call(**kwargs)


@pytest.fixture
def frozen_now():
    with mock.patch.object(timezone, "now", return_value=NOW):
        yield


@pytest.fixture
def history(marketer, support, frozen_now):
    source = make_source()
    ago = [
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(hours=23, minutes=50),
        timedelta(hours=30),
        timedelta(days=5),
        timedelta(days=29, hours=11),
        timedelta(days=30, hours=13),  # before the chart's first day in UTC, in it at +14
        timedelta(days=31, hours=2),
        timedelta(days=40),
        timedelta(days=400),
    ]
    statuses = [200, 400, None, 500]
    for i, delta in enumerate(ago):
        user = marketer if i % 2 else support
        at(NOW - delta, user=user, source=source, status=statuses[i % 4])
        at(NOW - delta, user=support, source=source, answered=False)


def _job() -> periodic.Job:
    [job] = [job for job in periodic.registered() if job.name == JOB]
    return job


def _home(scopes: list[tuple[str, object]]) -> dict:
    """What the home page shows for each scope, counted afresh (no DailyCount kept)."""
    DailyCount.objects.all().delete()
    shown = {}
    for scope, user in scopes:
        entries = AuditEntry.objects.listed()
        if user is not None:
            entries = entries.filter(actor_user=user)
        dates, found = dashboard.daily_counts(entries, scope=scope)
        shown[scope] = (
            dates,
            {key: n for key, n in found.items() if n},
            dashboard.recent_failures(entries, scope=scope),
        )
    return shown


@pytest.mark.parametrize("zone", ZONES)
def test_pruning_keeps_what_the_home_page_shows_and_drops_older_rows(
    zone, settings, history, marketer, support
) -> None:
    settings.TIME_ZONE = zone
    scopes = [("all", None), (f"user:{marketer.pk}", marketer), (f"user:{support.pk}", support)]
    before = _home(scopes)
    assert sum(before["all"][1].values()) >= 10  # the chart has something to show
    cutoff = counts.bucket_of(NOW - counts.KEPT_FOR)
    read_from = min(
        dashboard._day_range(d, timezone.get_current_timezone())[0] for d in before["all"][0]
    )
    window = sorted(
        RequestCount.objects.filter(bucket__gte=read_from).values_list(
            "bucket", "scope", "outcome", "count"
        )
    )
    assert RequestCount.objects.filter(bucket__lt=cutoff).exists()

    _job().run()

    assert not RequestCount.objects.filter(bucket__lt=cutoff).exists()
    assert (
        sorted(
            RequestCount.objects.filter(bucket__gte=read_from).values_list(
                "bucket", "scope", "outcome", "count"
            )
        )
        == window
    )
    assert _home(scopes) == before


def test_the_counts_are_kept_longer_than_any_page_reads() -> None:
    # The chart's 30 days, the first of them starting up to 14 hours before UTC's.
    assert timedelta(days=dashboard.DAYS, hours=14) <= counts.KEPT_FOR
    assert timedelta(hours=24) < counts.KEPT_FOR  # the failures of the last 24 hours


def test_the_job_is_registered_and_runs_in_the_periodic_runner(history) -> None:
    assert _job().every() == timedelta(days=1)
    old = RequestCount.objects.filter(bucket__lt=counts.bucket_of(NOW - counts.KEPT_FOR))
    assert old.exists()
    with mock.patch.object(periodic, "_jobs", {JOB: _job()}):
        assert scheduler.run_due() == [JOB]
    assert not old.exists()
    assert RequestCount.objects.exists()


def test_pruning_removes_in_chunks_and_says_how_many(history) -> None:
    old = RequestCount.objects.filter(bucket__lt=counts.bucket_of(NOW - counts.KEPT_FOR))
    expected = old.count()
    assert expected > 3
    with mock.patch.object(counts, "PRUNE_CHUNK", 2):
        assert counts.prune() == expected
    assert not old.exists()
    assert counts.prune() == 0


def test_a_late_answer_for_a_pruned_quarter_hour_brings_no_old_row_back(
    support, frozen_now
) -> None:
    source = make_source()
    long_ago = NOW - timedelta(days=60)
    entry = at(long_ago, user=support, source=source, answered=False)
    request = client.tracking_request(
        build_message("track", user_id="u-1", event="Order Completed"),
        write_key=WRITE_KEY,
        region="us",
    )
    counts.prune()
    assert not RequestCount.objects.exists()
    record_outcome(
        entry,
        client.SendResult(
            status=200, headers={}, body=b"{}", attempts=1, duration_ms=1.0, error=None
        ),
        request=request,
    )
    assert not RequestCount.objects.exists()
    # A recent one is still moved to its outcome.
    recent = at(NOW - timedelta(minutes=5), user=support, source=source, answered=False)
    record_outcome(
        recent,
        client.SendResult(
            status=200, headers={}, body=b"{}", attempts=1, duration_ms=1.0, error=None
        ),
        request=request,
    )
    kept = dict(RequestCount.objects.filter(scope="all").values_list("outcome", "count"))
    assert kept == {"": 0, "sent": 1}


def test_the_home_page_still_answers_after_pruning(history, admin_user) -> None:
    _job().run()
    response = login(admin_user).get("/")
    assert response.status_code == 200
    assert response.context["chart"]["total"] > 0
