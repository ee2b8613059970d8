"""The home page's counts of today and of the last 24 hours come from counts kept as entries
are written (segadmin.audit.counts), not from counting the day's entries: they must equal a
live count of the log, reads left out, per person too, and stay exact when several writers
append at once (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from segadmin.audit import counts
from segadmin.audit.filters import NO_ANSWER
from segadmin.audit.models import AuditEntry, RequestCount
from segadmin.home import dashboard
from segadmin.segment.client.public_api import public_request
from tests.audit.entries import add_call
from tests.conftest import make_user
from tests.home.test_reads_and_setup import _read


def _live(scope_user=None) -> dict[str, int]:
    """Today's delivering requests by outcome, counted in the log."""
    entries = AuditEntry.objects.listed()
    if scope_user is not None:
        entries = entries.filter(actor_user=scope_user)
    today = timezone.localdate()
    found = dashboard._count_days(entries, today, today, timezone.get_current_timezone())
    return {outcome: n for (day, outcome), n in found.items() if n}


def _shown(scope: str) -> dict[str, int]:
    dates, found = dashboard.daily_counts(AuditEntry.objects.listed(), scope=scope)
    return {outcome: n for (day, outcome), n in found.items() if day == dates[-1] and n}


def _write_some(user, other) -> None:
    add_call(user=user, status=200)
    add_call(user=user, status=200)
    add_call(user=user, status=400)
    add_call(user=other, status=None)
    add_call(user=other, answered=False)
    request = public_request(
        "/", [], token="sgp_x0123456789", region="us", call_type="public:get_workspace"
    )
    _read(request, user, 200, timezone.now())  # a read: on the record, not counted


@pytest.mark.django_db
def test_kept_counts_equal_a_live_count_per_scope_and_outcome():
    user, other = make_user("ann", "Marketer"), make_user("bob", "Marketer")
    _write_some(user, other)
    assert _live() == {"sent": 2, "rejected": 1, "failed": 1, NO_ANSWER: 1}
    assert _shown("all") == _live()
    assert _shown(f"user:{user.pk}") == _live(user) == {"sent": 2, "rejected": 1}
    assert _shown(f"user:{other.pk}") == _live(other) == {"failed": 1, NO_ANSWER: 1}
    failures = {f["outcome"]: f["count"] for f in dashboard.recent_failures(None, scope="all")}
    assert failures == {"rejected": 1, "failed": 1, NO_ANSWER: 1}
    # Counting again from the log gives the same rows as keeping them.
    kept = sorted(RequestCount.objects.exclude(count=0).values_list("scope", "outcome", "count"))
    counts.recount(timezone.now() - timedelta(days=1))
    again = sorted(RequestCount.objects.exclude(count=0).values_list("scope", "outcome", "count"))
    assert again == kept


def test_a_quarter_hour_starts_every_bucket():
    moment = timezone.now().replace(minute=44, second=59)
    assert counts.bucket_of(moment) == moment.replace(minute=30, second=0, microsecond=0)


@pytest.mark.django_db(transaction=True)
def test_writers_at_the_same_time_lose_no_count():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite's test database is one file)")
    users = [make_user(f"writer{i}", "Marketer") for i in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(users))

    def write(user) -> None:
        try:
            start.wait()
            for i in range(15):
                add_call(user=user, status=(200, 400, None)[i % 3])
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _live() == {"sent": 20, "rejected": 20, "failed": 20}
    assert _shown("all") == _live()
    for user in users:
        assert _shown(f"user:{user.pk}") == _live(user) == {"sent": 5, "rejected": 5, "failed": 5}
