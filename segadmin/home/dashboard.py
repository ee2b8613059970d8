"""The home dashboard's numbers: calls per day by outcome, recent failures, one's own calls.

Calls are the requests that deliver something (Tracking API calls, batches, Make an API call's
writes...); reads — Test connection, imports of sources and plans, Profile API lookups, any
GET (``READ_METHODS``) — are on the record but not counted, so a lookup's "not found" is not
a call "Rejected by Segment".

Days that are over are counted once in the log (day by day through the ``created_at``
index) and kept in DailyCount; the last two days and the last 24 hours' failures are read
from the quarter-hour counts kept as entries are written (``segadmin.audit.counts``), so no
visit counts today's entries. The chart is an SVG drawn on the server (no script,
CSP-safe), each bar segment a link into the audit log filtered to that day and outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, F
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from segadmin.audit import counts as kept_counts
from segadmin.audit.filters import NO_ANSWER
from segadmin.audit.models import READ_METHODS, AuditEntry, AuditEntryQuerySet, Kind, Outcome
from segadmin.home.models import DailyCount

DAYS = 30
# Stacking order, bottom up, with the CSS class and the label of each outcome.
SERIES = (
    (Outcome.SENT.value, "sent"),
    (Outcome.REJECTED.value, "rejected by Segment"),
    (Outcome.FAILED.value, "failed"),
    (NO_ANSWER, "no answer recorded"),
)
CHART_WIDTH, CHART_HEIGHT, AXIS_HEIGHT = 720, 180, 22


@dataclass(frozen=True)
class Segment:
    outcome: str
    label: str
    count: int
    x: float
    y: float
    width: float
    height: float
    url: str


@dataclass(frozen=True)
class Bar:
    day: date
    total: int
    segments: list[Segment]
    label_x: float
    show_label: bool


def _audit_url(base: str = "", **filters: Any) -> str:
    """The audit list (``base``: its address, when already reversed) with ``filters``, reads
    left out as they are from the counts."""
    filters["sends"] = "on"
    query = urlencode({k: v for k, v in filters.items() if v})
    return f"{base or reverse('audit:list')}?{query}"


# Days before this many days ago are over for good: their counts are cached (DailyCount).
LIVE_DAYS = 2


def _day_range(day: date, zone: Any) -> tuple[datetime, datetime]:
    return (
        datetime.combine(day, time.min, tzinfo=zone),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
    )


def _requests_by_outcome(
    entries: AuditEntryQuerySet, start: datetime, end: datetime | None = None
) -> list[tuple[str, int]]:
    """Request entries that deliver (not reads) between ``start`` and ``end`` by outcome
    (NO_ANSWER for none).

    The range is always closed: with an open one SQLite's planner prefers the kind index and
    reads every request ever made; bounded, it takes the created_at index. Kind and method are
    told apart here rather than in the WHERE clause, for the same reason.
    """
    if end is None:
        end = timezone.now() + timedelta(days=1)  # nothing is stamped in the future
    window = entries.filter(created_at__gte=start, created_at__lt=end)
    rows = window.values_list("kind", "method", "outcome").annotate(n=Count("*")).order_by()
    counts: dict[str, int] = {}
    for kind, method, outcome, n in rows:
        if kind == Kind.REQUEST and method.upper() not in READ_METHODS:
            key = outcome or NO_ANSWER
            counts[key] = counts.get(key, 0) + n
    return list(counts.items())


def _count_days(
    entries: AuditEntryQuerySet, first: date, last: date, zone: Any
) -> dict[tuple[date, str], int]:
    """``{(day, outcome): n}`` counted in the log for ``first``..``last`` (local days).

    Grouped by outcome over a ``created_at`` range per day (the index), not by a date
    expression: SQLite would call a Python function for each of a month's rows."""
    counts: dict[tuple[date, str], int] = {}
    day = first
    while day <= last:
        start, end = _day_range(day, zone)
        for outcome, n in _requests_by_outcome(entries, start, end):
            counts[(day, outcome)] = n
        day += timedelta(days=1)
    return counts


def _kept_days(scope: str, first: date, last: date, zone: Any) -> dict[tuple[date, str], int]:
    """``{(day, outcome): n}`` for ``first``..``last`` (local days) from the counts kept as
    entries are written (``segadmin.audit.counts``): a few hundred quarter-hour rows, however
    many entries the days hold. Every timezone's midnight is on a quarter hour."""
    start, end = _day_range(first, zone)[0], _day_range(last, zone)[1]
    found: dict[tuple[date, str], int] = {}
    for bucket, outcome, n in kept_counts.by_bucket(scope, start, end):
        key = (bucket.astimezone(zone).date(), outcome or NO_ANSWER)
        found[key] = found.get(key, 0) + n
    return found


def daily_counts(
    entries: AuditEntryQuerySet, *, scope: str = "all", days: int = DAYS
) -> tuple[list[date], dict[tuple[date, str], int]]:
    """``(days, counts)``: the last ``days`` local dates (oldest first) and
    ``counts[(day, outcome)]`` for request entries, NO_ANSWER standing for a NULL outcome.

    ``entries`` must be what ``scope`` names ("all", or "user:<id>" for one person's own).
    Days that are over come from DailyCount (counted once, then kept); the last LIVE_DAYS
    are counted live.
    """
    zone = timezone.get_current_timezone()
    zone_name = timezone.get_current_timezone_name()
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    live_from = today - timedelta(days=LIVE_DAYS - 1)
    outcomes = [o for o, _ in SERIES]

    cached = DailyCount.objects.filter(
        zone=zone_name, scope=scope, day__gte=first, day__lt=live_from
    ).values_list("day", "outcome", "count")
    counts: dict[tuple[date, str], int] = {}
    have: set[date] = set()
    for day, outcome, n in cached:
        have.add(day)
        if n:
            counts[(day, outcome)] = n
    missing = [first + timedelta(days=i) for i in range((live_from - first).days)]
    missing = [day for day in missing if day not in have]
    if missing:
        # Days wholly after the first kept count are added up from the kept quarter hours;
        # only older ones (before the counts began) are counted in the log.
        kept_from = kept_counts.first_bucket()
        counted = [d for d in missing if kept_from is None or _day_range(d, zone)[0] < kept_from]
        fresh = _count_days(entries, counted[0], counted[-1], zone) if counted else {}
        if len(counted) < len(missing):
            fresh.update(_kept_days(scope, missing[len(counted)], missing[-1], zone))
        now = timezone.now()
        DailyCount.objects.bulk_create(
            [
                DailyCount(
                    day=day,
                    zone=zone_name,
                    scope=scope,
                    outcome=outcome,
                    count=fresh.get((day, outcome), 0),
                    computed_at=now,
                )
                for day in missing
                for outcome in outcomes
            ],
            ignore_conflicts=True,  # another process counted them at the same time
        )
        counts.update({key: n for key, n in fresh.items() if key[0] in set(missing)})
    counts.update(_kept_days(scope, live_from, today, zone))
    return [first + timedelta(days=i) for i in range(days)], counts


def chart(entries: AuditEntryQuerySet, *, scope: str = "all", days: int = DAYS) -> dict[str, Any]:
    """The bars of the chart, with its totals per outcome, ready for the template."""
    dates, counts = daily_counts(entries, scope=scope, days=days)
    peak = max([sum(counts.get((d, o), 0) for o, _ in SERIES) for d in dates] + [1])
    slot = CHART_WIDTH / len(dates)
    base = reverse("audit:list")  # once, not for each of up to 120 segments
    width = slot * 0.72
    bars = []
    for index, day in enumerate(dates):
        x = index * slot + (slot - width) / 2
        y = float(CHART_HEIGHT)
        segments = []
        for outcome, label in SERIES:
            count = counts.get((day, outcome), 0)
            if not count:
                continue
            height = max(1.5, CHART_HEIGHT * count / peak)
            y -= height
            iso = day.isoformat()
            url = _audit_url(base, date_from=iso, date_to=iso, outcome=outcome)
            segments.append(Segment(outcome, label, count, x, y, width, height, url))
        total = sum(s.count for s in segments)
        # A label under every fifth day (and the last), oldest on the left.
        show = (len(dates) - 1 - index) % 5 == 0
        bars.append(Bar(day, total, segments, x + width / 2, show))
    totals = {o: sum(counts.get((d, o), 0) for d in dates) for o, _ in SERIES}
    return {
        "bars": bars,
        "peak": peak,
        "width": CHART_WIDTH,
        "view_width": CHART_WIDTH + 40,  # room for the first and last day's labels
        "height": CHART_HEIGHT,
        "full_height": CHART_HEIGHT + AXIS_HEIGHT,
        "series": [
            {
                "outcome": o,
                "label": label,
                "total": totals[o],
                "url": _audit_url(base, date_from=dates[0].isoformat(), outcome=o),
            }
            for o, label in SERIES
        ],
        "total": sum(totals.values()),
        "first": dates[0],
        "last": dates[-1],
    }


def recent_failures(
    entries: AuditEntryQuerySet, *, scope: str = "all", hours: int = 24
) -> list[dict[str, Any]]:
    """Requests of the last ``hours`` that did not get through, by outcome, with links.

    Read from the kept counts of ``scope`` (what ``entries`` are), from the start of the
    quarter hour ``hours`` ago; the links to the audit list start there too, so each count
    is what its link lists."""
    since = kept_counts.bucket_of(timezone.now() - timedelta(hours=hours))
    end = timezone.now() + timedelta(days=1)  # nothing is stamped in the future
    counts: dict[str, int] = {}
    for _bucket, outcome, n in kept_counts.by_bucket(scope, since, end):
        counts[outcome or NO_ANSWER] = counts.get(outcome or NO_ANSWER, 0) + n
    stamp = since.replace(microsecond=0).isoformat()
    return [
        {
            "outcome": outcome,
            "label": label,
            "count": counts.get(outcome, 0),
            "url": _audit_url(since=stamp, outcome=outcome),
        }
        for outcome, label in SERIES
        if outcome != Outcome.SENT
    ]


def failures_to_look_at(
    entries: AuditEntryQuerySet,
    *,
    columns: tuple[str, ...],
    actor_user_id: int | None = None,
    hours: int = 24,
    limit: int = 5,
) -> list[Any]:
    """The latest calls of the last ``hours`` that Segment rejected or that failed (reads left
    out), newest first, to open one by one; ``actor_user_id``: only that person's.

    The person is compared as an expression no index serves: on their ``(actor_user, seq)``
    index the database would walk every call they ever made when the last day had no
    failure (140 ms for a Marketer with 25,000 entries).

    Each outcome is read on its own through the ``(outcome, seq)`` index from the first
    entry of the last ``hours`` (found through ``created_at``; the chain numbers entries in
    the order of their clock, so every later ``seq`` is in the window): at most ``limit``
    rows of each, however many entries the day holds. A plain ``created_at`` condition on
    them would make SQLite read the whole day by that index instead (1.5 s a visit at 2,000,000
    entries stamped today).
    """
    since = timezone.now() - timedelta(hours=hours)
    end = timezone.now() + timedelta(days=1)
    in_range = AuditEntry.objects.filter(created_at__gte=since, created_at__lt=end)
    first_seq = in_range.order_by("created_at", "seq").values_list("seq", flat=True).first()
    if first_seq is None:
        return []
    if actor_user_id is not None:
        entries = entries.alias(actor_number=F("actor_user_id") + 0).filter(
            actor_number=actor_user_id
        )
    found: list[Any] = []
    for outcome in (Outcome.REJECTED, Outcome.FAILED):
        found += (
            # The window again, as an expression no index serves (see above): for a clock
            # set back.
            entries.alias(stamp=Coalesce("created_at", "created_at"))
            .filter(
                kind=Kind.REQUEST,
                outcome=outcome,
                seq__gte=first_seq,
                stamp__gte=since,
                stamp__lt=end,
            )
            .exclude(method__in=READ_METHODS)
            .only(*columns)
            .order_by("-seq")[:limit]
        )
    return sorted(found, key=lambda entry: entry.seq, reverse=True)[:limit]
