"""The home dashboard: calls per day by outcome, failures of the last 24 hours, one's own calls."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from segadmin.home import dashboard
from segadmin.home.models import SetupDone
from tests.audit.entries import add_call, make_source
from tests.factories import login

pytestmark = pytest.mark.django_db
HOME = reverse("home:index")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def at(when: datetime, **kwargs):
    with mock.patch("segadmin.audit.chain.timezone.now", return_value=when):
        return add_call(**kwargs)


@pytest.fixture
def history(marketer, support):
    source = make_source()
    entries = {
        "old": at(NOW - timedelta(days=40), user=marketer, source=source),
        "d5_sent": at(NOW - timedelta(days=5), user=marketer, source=source),
        "d5_rejected": at(NOW - timedelta(days=5), user=support, source=source, status=400),
        "today_sent": at(NOW - timedelta(hours=2), user=support, source=source),
        "today_failed": at(NOW - timedelta(hours=3), user=marketer, source=source, status=None),
        "today_none": at(NOW - timedelta(hours=1), user=support, source=source, answered=False),
        "yesterday_rejected": at(
            NOW - timedelta(hours=30), user=support, source=source, status=500
        ),
    }
    return entries


@pytest.fixture
def frozen_now():
    with mock.patch.object(timezone, "now", return_value=NOW):
        yield


def test_the_chart_counts_requests_per_day_by_outcome(history, support, frozen_now) -> None:
    response = login(support).get(HOME)
    chart = response.context["chart"]
    bars = {bar.day: {s.outcome: s.count for s in bar.segments} for bar in chart["bars"]}
    assert len(bars) == 30
    today = NOW.date()
    assert bars[today] == {"sent": 1, "failed": 1, "none": 1}
    assert bars[today - timedelta(days=1)] == {"rejected": 1}
    assert bars[today - timedelta(days=5)] == {"sent": 1, "rejected": 1}
    assert chart["total"] == 6  # the 40-day-old call is outside the window
    totals = {s["outcome"]: s["total"] for s in chart["series"]}
    assert totals == {"sent": 2, "rejected": 2, "failed": 1, "none": 1}


def test_each_bar_segment_links_to_the_audit_log_filtered_to_it(history, support, frozen_now):
    html = login(support).get(HOME).content.decode()
    day = (NOW.date() - timedelta(days=5)).isoformat()
    match = re.search(rf'<a href="([^"]+)" data-day="{day}" data-outcome="rejected">', html)
    assert match
    url = match.group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "date_from": [day],
        "date_to": [day],
        "outcome": ["rejected"],
        "sends": ["on"],
    }
    listed = login(support).get(url)
    assert [e.seq for e in listed.context["page"].entries] == [history["d5_rejected"].seq]


def test_failures_of_the_last_24_hours_link_to_exactly_them(history, support, frozen_now):
    response = login(support).get(HOME)
    failures = {f["outcome"]: f for f in response.context["failures"]}
    assert {k: f["count"] for k, f in failures.items()} == {"rejected": 0, "failed": 1, "none": 1}
    client = login(support)
    listed = client.get(failures["failed"]["url"])
    assert [e.seq for e in listed.context["page"].entries] == [history["today_failed"].seq]
    listed = client.get(failures["none"]["url"])
    assert [e.seq for e in listed.context["page"].entries] == [history["today_none"].seq]
    assert 'data-testid="since-note"' in listed.content.decode()


def test_a_marketer_sees_their_own_calls_in_the_chart(history, marketer, frozen_now) -> None:
    response = login(marketer).get(HOME)
    assert response.context["chart"]["total"] == 2  # d5_sent and today_failed
    assert "Your calls per day" in response.content.decode()


def test_the_recent_list_holds_the_persons_own_calls_newest_first(history, support, frozen_now):
    recent = login(support).get(HOME).context["recent"]
    assert [e.seq for e in recent] == sorted(
        (history[k].seq for k in ("d5_rejected", "today_sent", "today_none", "yesterday_rejected")),
        reverse=True,
    )


def test_the_chart_is_an_svg_with_no_inline_script_or_style(history, support, frozen_now):
    response = login(support).get(HOME)
    html = response.content.decode()
    assert "<svg" in html and 'class="chart-bar chart-sent"' in html
    assert "style=" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_nothing_sent_yet(admin_user) -> None:
    html = login(admin_user).get(HOME).content.decode()
    assert "Nothing sent in the last 30 days." in html
    assert "You have not sent anything yet." in html


def test_people_without_a_role_see_no_dashboard(no_role_user) -> None:
    response = login(no_role_user).get(HOME)
    assert response.status_code == 200
    assert "chart" not in response.context


def test_the_dashboard_costs_a_fixed_number_of_queries(
    history, support, frozen_now, django_assert_num_queries
) -> None:
    client = login(support)
    client.get(HOME)  # counts the days that are over, once
    # session, user, the person (role, permissions and source limits: one query); the
    # checklist (is the install set up? no: its
    # four steps in one query of four EXISTS); the cached days, today and yesterday from the
    # kept quarter-hour counts (one query), the failures of the last 24 hours (kept counts)
    # and the latest of them (the first entry of the 24 hours, then the latest rejected and
    # the latest failed), everyone's recent activity, the recent calls.
    with django_assert_num_queries(13):
        client.get(HOME)
    # Once set up, the checklist is the one look at SetupDone.
    SetupDone.objects.create(done_at=NOW)
    with django_assert_num_queries(12):
        client.get(HOME)


def test_days_that_are_over_are_counted_once_and_kept(history, support, frozen_now) -> None:
    from segadmin.home.models import DailyCount

    first = login(support).get(HOME).context["chart"]
    # 28 days that are over, four outcomes each, zeros included (so they are not recounted).
    assert DailyCount.objects.filter(scope="all").count() == 28 * 4
    five_days_ago = NOW.date() - timedelta(days=5)
    kept = dict(
        DailyCount.objects.filter(scope="all", day=five_days_ago).values_list("outcome", "count")
    )
    assert kept == {"sent": 1, "rejected": 1, "failed": 0, "none": 0}
    second = login(support).get(HOME).context["chart"]
    assert [b.total for b in second["bars"]] == [b.total for b in first["bars"]]


def test_a_marketers_counts_are_kept_apart_from_everyones(history, marketer, support, frozen_now):
    from segadmin.home.models import DailyCount

    login(support).get(HOME)
    login(marketer).get(HOME)
    assert DailyCount.objects.filter(scope=f"user:{marketer.pk}").count() == 28 * 4
    assert login(marketer).get(HOME).context["chart"]["total"] == 2


def test_days_are_counted_in_the_configured_timezone(support, settings) -> None:
    settings.TIME_ZONE = "America/New_York"
    late = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)  # 22:00 on the 14th in New York
    at(late, user=support)
    with mock.patch.object(timezone, "now", return_value=late + timedelta(hours=1)):
        timezone.activate("America/New_York")
        try:
            days, counts = dashboard.daily_counts(dashboard_entries())
        finally:
            timezone.deactivate()
    assert counts == {(datetime(2026, 6, 14).date(), "sent"): 1}
    assert days[-1] == datetime(2026, 6, 14).date()


def dashboard_entries():
    from segadmin.audit.models import AuditEntry

    return AuditEntry.objects.listed()


def test_a_marketers_failures_to_look_at_are_their_own_of_the_last_day(
    history, marketer, support, frozen_now
) -> None:
    # The person is compared as an expression (so the created_at range is read, not every
    # call they ever made): the list must still be theirs alone, and only the last 24 hours.
    at(NOW - timedelta(hours=26), user=marketer, source=make_source("Old"), status=None)
    mine = login(marketer).get(HOME).context["to_look_at"]
    assert [entry.pk for entry in mine] == [history["today_failed"].pk]
    everyone = login(support).get(HOME).context["to_look_at"]
    assert [entry.pk for entry in everyone] == [history["today_failed"].pk]


def test_a_support_person_limited_to_chosen_sources_sees_only_their_own_calls(
    history, marketer, support, frozen_now
) -> None:
    """The chart and failures of every source are not theirs to read: the page of their own."""
    from tests.factories import limit_to

    limit_to(support, sources=[make_source("Theirs only")])
    response = login(support).get(HOME)
    assert response.context["see_all"] is False
    assert response.context["activity"] == []
    assert response.context["chart"]["total"] == 4  # their own four of the last 30 days
    assert response.context["to_look_at"] == []  # the failed call today is the marketer's
    assert "Your calls per day" in response.content.decode()
