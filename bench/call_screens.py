"""The call screens' own time per send, side by side with a minimal Django view.

Posts the Identify and Track forms (the way the browser does: as htmx, through the whole
middleware stack, with a logged-in Marketer) with action=send, against the local fake of
Segment running in its own process, and in the same loop a minimal Django view that validates
a three-field form and writes two rows (bench/_minimal.py), one post of each in turn so the
machine's load weighs on all three alike. For each send it takes the wall time of the whole
request and subtracts the HTTP time the client measured for the call to the fake
(``SendResult.duration_ms``, shown on the result panel), leaving what segadmin itself spends:
the form, validation, decrypting the write key, the audit rows, rendering the answer. The CPU
column is this process's CPU time per post (the fake runs elsewhere), a figure that moves less
than wall time on a busy machine. ``own / minimal`` is the screen's own time over the minimal
view's.

    .venv/bin/python bench/call_screens.py --sends 300
    .venv/bin/python bench/call_screens.py --sends 300 --full-page   # no htmx: the whole page
    .venv/bin/python bench/call_screens.py --profile identify --sends 100   # cProfile
    .venv/bin/python bench/call_screens.py --sends 300 --breakdown   # where own time goes
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/segadmin_calls_bench \
        .venv/bin/python bench/call_screens.py --sends 300

Without DATABASE_URL it uses bench/results/call_screens.sqlite3 (never the development one).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._stopwatch import STOPWATCH  # noqa: E402
from bench._support import RESULTS, start_fake, use_bench_environment  # noqa: E402

# SEGADMIN_REQUIRE_MFA as the settings have it: its check is part of every request measured.
use_bench_environment(RESULTS / "call_screens.sqlite3")

_DURATION = re.compile(r'data-testid="result-duration" data-ms="([0-9.]+)"')


def identify_form(source_id: int, index: int) -> dict:
    """An Identify as typed in the editor: reserved traits and custom rows of several types."""
    rows = [
        ("r", "email", "text", f"user{index}@example.com"),
        ("r", "firstName", "text", "Ada"),
        ("r", "age", "number", "36"),
        ("r", "address.city", "text", "Paris"),
        ("c", "plan", "text", "pro"),
        ("c", "seats", "number", str(index % 50)),
        ("c", "vip", "boolean", "true"),
        ("c", "tags", "list", '["beta", "eu"]'),
    ]
    return {
        "action": "send",
        "source": str(source_id),
        "user_id": f"user-{index}",
        "timestamp_0": "2024-05-01T09:30",
        "timestamp_1": "Europe/Paris",
        "traits__mode": "rows",
        "traits__kind": [r[0] for r in rows],
        "traits__key": [r[1] for r in rows],
        "traits__type": [r[2] for r in rows],
        "traits__value": ["" if r[2] == "boolean" else r[3] for r in rows],
        "traits__bool": [r[3] if r[2] == "boolean" else "" for r in rows],
    }


def track_form(source_id: int, index: int) -> dict:
    return {
        "action": "send",
        "source": str(source_id),
        "user_id": f"user-{index}",
        "event": "Order Completed",
        "properties__mode": "json",
        "properties__json": json.dumps({"revenue": 19.99, "currency": "EUR", "items": index % 7}),
    }


def minimal_form(source_id: int, index: int) -> dict:
    return {"user_id": f"user-{index}", "event": "Order Completed", "note": "pro"}


SCREENS = (
    ("identify", "/calls/identify/", identify_form),
    ("track", "/calls/track/", track_form),
    ("minimal", "/_bench/minimal/", minimal_form),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=300, help="sends per screen (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed sends first")
    parser.add_argument(
        "--full-page",
        action="store_true",
        help="post as a browser without htmx does (the whole page comes back), not as htmx",
    )
    parser.add_argument(
        "--profile",
        metavar="SCREEN",
        choices=[name for name, _path, _build in SCREENS],
        help="cProfile that screen's sends instead of timing them; prints the top functions",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time the parts of each post: outside the view (middleware, session, log-in), "
        "the two audit entries (the minimal view's two rows), the rest of the view",
    )
    args = parser.parse_args()

    fake = start_fake()
    url = fake.url
    os.environ["SEGMENT_TRACKING_API_URL"] = url
    try:
        run(
            args.sends,
            args.warmup,
            htmx=not args.full_page,
            profile=args.profile,
            breakdown=args.breakdown,
        )
    finally:
        fake.stop()


def run(
    sends: int, warmup: int, *, htmx: bool, profile: str | None, breakdown: bool = False
) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from segadmin.credentials.models import Source

    settings.ROOT_URLCONF = "bench._minimal"  # segadmin's URLs plus the minimal view
    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench-marketer")
    user.groups.add(Group.objects.get(name="Marketer"))
    source = Source.objects.filter(name="Bench source").first()
    if source is None:
        source = Source(name="Bench source", region="us")
        source.set_write_key("wk_bench_0123456789abcdefghij")
        source.save()
    if breakdown:
        _start_stopwatch(settings)
    client = Client(headers={"HX-Request": "true"} if htmx else {})
    client.force_login(user)

    if profile:
        _profile(client, source.pk, profile, sends, warmup)
        return

    print(
        f"{connection.vendor}, {sends} sends per screen ({'htmx' if htmx else 'full page'}), "
        f"interleaved, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    samples: dict[str, dict[str, list[float]]] = {
        name: {column: [] for column in ("total", "http", "own", "cpu", "view")}
        for name, _p, _b in SCREENS
    }
    # One send of each screen in turn: the machine's load weighs on every column alike.
    for index in range(warmup + sends):
        for name, path, build in SCREENS:
            STOPWATCH.begin(name)
            took, cpu_ms, segment_ms = _post(client, name, path, build(source.pk, index), index)
            STOPWATCH.end(keep=index >= warmup)
            if index < warmup:
                continue
            sample = samples[name]
            sample["total"].append(took)
            sample["http"].append(segment_ms)
            sample["own"].append(took - segment_ms)
            sample["cpu"].append(cpu_ms)
            if breakdown:
                sample["view"].append(STOPWATCH.post["view"] - segment_ms)
    print(
        f"{'screen':<10} {'total ms':>9} {'Segment ms':>11} {'own ms':>8} {'own p95':>8} "
        f"{'CPU ms':>7} {'own / minimal':>14}"
    )
    minimal = statistics.median(samples["minimal"]["own"])
    for name, _path, _build in SCREENS:
        sample = samples[name]
        own = statistics.median(sample["own"])
        p95 = statistics.quantiles(sample["own"], n=20)[-1]
        print(
            f"{name:<10} {statistics.median(sample['total']):>9.1f} "
            f"{statistics.median(sample['http']):>11.1f} {own:>8.1f} {p95:>8.1f} "
            f"{statistics.median(sample['cpu']):>7.1f} {own / minimal:>13.2f}x"
        )
    if breakdown:
        _print_breakdown(samples)


def _start_stopwatch(settings) -> None:
    """Time the view inside the middleware stack, the audit log's two entries a send (the
    request, then the outcome) and the minimal view's two rows."""
    from django.contrib.admin.models import LogEntry

    from segadmin.audit import log

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "bench._stopwatch.ViewStopwatch"]
    STOPWATCH.wrap(log, "record_request", "two entries")
    STOPWATCH.wrap(log, "record_outcome", "two entries")
    STOPWATCH.wrap(LogEntry.objects, "create", "two entries")


def _print_breakdown(samples: dict[str, dict[str, list[float]]]) -> None:
    """Medians of each part of a post's own time (medians: close to adding up, not exactly).
    The view's time is without Segment's, as the own time is."""
    print(
        f"\nmedian ms a post {'own':>6} {'outside the view':>17} {'view':>6} "
        f"{'two entries / rows':>19} {'rest of the view':>17}"
    )
    for name, _path, _build in SCREENS:
        own = statistics.median(samples[name]["own"])
        view = statistics.median(samples[name]["view"])
        rows = STOPWATCH.median(name, "two entries")
        print(
            f"{name:<16} {own:>6.2f} {own - view:>17.2f} {view:>6.2f} {rows:>19.2f} "
            f"{view - rows:>17.2f}"
        )


def _post(client, name: str, path: str, data: dict, index: int) -> tuple[float, float, float]:
    """One post: (wall ms, CPU ms, Segment's ms as the result panel shows it; 0 for minimal)."""
    # Form-encoded, as a browser posts the form (htmx too): the call forms upload no file.
    body = urlencode(data, doseq=True)
    started, cpu_started = time.perf_counter(), time.process_time()
    response = client.post(path, body, content_type="application/x-www-form-urlencoded")
    took = (time.perf_counter() - started) * 1000
    cpu_ms = (time.process_time() - cpu_started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{name}: send {index} failed ({response.status_code})")
    if name == "minimal":
        return took, cpu_ms, 0.0
    match = _DURATION.search(response.content.decode())
    if not match:
        raise SystemExit(f"{name}: send {index} shows no result")
    return took, cpu_ms, float(match.group(1))


def _profile(client, source_id: int, screen: str, sends: int, warmup: int) -> None:
    import cProfile
    import pstats

    name, path, build = next(s for s in SCREENS if s[0] == screen)
    for index in range(warmup):
        _post(client, name, path, build(source_id, index), index)
    profiler = cProfile.Profile()
    profiler.enable()
    for index in range(warmup, warmup + sends):
        _post(client, name, path, build(source_id, index), index)
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(45)
    stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
