"""The home page's counts of today and of the last 24 hours come from counts kept as entries
are written (segadmin.audit.counts), not from counting the day's entries: they must equal a
live count of the log, reads left out, per person too, and stay exact when several writers
append at once (PostgreSQL)."""

from __future__ import annotations

import queue
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from segadmin.audit import counts
from segadmin.audit.filters import NO_ANSWER
from segadmin.audit.log import record_outcome, record_request
from segadmin.audit.models import AuditEntry, RequestCount
from segadmin.home import dashboard
from segadmin.segment import client
from segadmin.segment.client.public_api import public_request
from segadmin.segment.messages import build_message
from tests.audit.entries import WRITE_KEY, actor_for, add_call
from tests.conftest import make_user
from tests.factories import login
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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_home_page_shows_a_live_count_after_concurrent_writers():
    """Writers on their own connections append requests at the same time, and another answers
    requests they left unanswered (moving each count from "no answer" to its outcome while
    the writers append): the home page's chart for today and its failures of the last 24
    hours then equal a live count of the log, for the Admin and for each writer."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite's test database is one file)")
    admin = make_user("boss", "Admin")
    writers = [make_user(f"writer{i}", "Marketer") for i in range(5)]
    later: queue.Queue = queue.Queue()
    errors: list[BaseException] = []
    start = threading.Barrier(len(writers) + 1)
    rounds, left_open = 12, 3  # each writer leaves 3 of its 12 calls to the answerer

    def write(user) -> None:
        try:
            start.wait()
            for i in range(rounds):
                if i % 4 == 3:
                    request = client.tracking_request(
                        build_message("track", event="Order Completed", user_id=f"u-{i}"),
                        write_key=WRITE_KEY,
                        region="us",
                    )
                    later.put((record_request(actor=actor_for(user), request=request), request))
                else:
                    add_call(user=user, status=(200, 400, None)[i % 3])
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    def answer() -> None:
        try:
            start.wait()
            for n in range(len(writers) * left_open):
                entry, request = later.get(timeout=60)
                status = (200, 500, None)[n % 3]
                result = client.SendResult(
                    status=status,
                    headers={},
                    body=b"{}" if status else b"",
                    attempts=1,
                    duration_ms=3.0,
                    error=None if status else "connection refused",
                )
                record_outcome(entry, result, request=request)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(user,)) for user in writers]
    threads.append(threading.Thread(target=answer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(_live().values()) == len(writers) * rounds
    today = timezone.localdate()
    for user, scope_user in [(admin, None), *[(w, w) for w in writers]]:
        response = login(user).get(reverse("home:index"))
        assert response.status_code == 200
        bars = {
            bar.day: {s.outcome: s.count for s in bar.segments}
            for bar in response.context["chart"]["bars"]
        }
        live = _live(scope_user)
        assert bars[today] == live
        failures = {f["outcome"]: f["count"] for f in response.context["failures"]}
        assert failures == {
            outcome: live.get(outcome, 0) for outcome in ("rejected", "failed", NO_ANSWER)
        }
