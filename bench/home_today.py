"""Does the home page cost the same whatever today's volume?

Builds a fresh SQLite database (bench/home_today-<rows>-<days>.sqlite3), or fills the empty
PostgreSQL database DATABASE_URL names, holding ``--rows``
delivering request entries spread evenly over the last ``--days`` days (``--days 1``: all of
them stamped today, the last 20 hours), copied by the database from one entry the audit log
wrote (its body, headers and columns; 40 people; 5 % failed, 5 % rejected by Segment), then
starts the kept counts the way migration audit 0012 does (``counts.recount``) and times the
home page through Django's test Client as an Admin (every entry) and as a Marketer (own),
after one visit that fills home.DailyCount for the days that are over. The copies are not
chained (``verify_audit`` would refuse them); nothing on the home page reads the chain.

    .venv/bin/python bench/home_today.py --rows 1000000 --days 120
    .venv/bin/python bench/home_today.py --rows 2000000 --days 1
    DATABASE_URL=postgres://segadmin@127.0.0.1:5432/segadmin_home_2m_1 \
        .venv/bin/python bench/home_today.py --rows 2000000 --days 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120, help="spread over (1: all today)")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    path = ROOT / "bench" / f"home_today-{args.rows}-{args.days}.sqlite3"
    # PostgreSQL: name an empty database of its own in DATABASE_URL (filled on the first run).
    url = os.environ.get("DATABASE_URL", "")
    postgres = url.startswith(("postgres://", "postgresql://"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="segadmin.settings",
        SEGADMIN_ENV_FILE="none",
        DEBUG="false",
        SECRET_KEY="benchmark-secret-key-not-for-production-0123456789",
        SEGADMIN_ENCRYPTION_KEYS="dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktMDAwMDA=",
        SEGADMIN_AUDIT_KEY="benchmark-audit-key-not-for-production-0123456789",
        DATABASE_URL=url if postgres else f"sqlite:///{path}",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
        STATICFILES_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    fresh = not path.exists()
    call_command("migrate", verbosity=0)
    if postgres:
        from segadmin.audit.models import AuditEntry

        fresh = not AuditEntry.objects.exists()
    if fresh:
        started = time.perf_counter()
        fill(args.rows, args.days)
        print(
            f"built {args.rows:,} entries over {args.days} day(s) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        connection.close()
    measure(args.repeat)


def fill(rows: int, days: int) -> None:
    from django.contrib.auth.models import Group, User
    from django.db import connection, transaction
    from django.utils import timezone

    from segadmin.accounts.roles import role_of
    from segadmin.audit import counts
    from segadmin.audit.log import Actor, record_outcome, record_request
    from segadmin.audit.models import AuditEntry
    from segadmin.home.models import SetupDone
    from segadmin.segment import client
    from segadmin.segment.messages import build_message

    postgres = connection.vendor == "postgresql"
    if not postgres:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA cache_size = -1000000")
    users = []
    for i in range(40):
        role = "Admin" if i < 4 else "Marketer"
        user = User.objects.create_user(f"{role.lower()}{i}", password=None)
        user.groups.add(Group.objects.get(name=role))
        users.append(user)
    first_pk = users[0].pk
    assert [u.pk for u in users] == list(range(first_pk, first_pk + 40))
    actor = Actor(
        user=users[0], username="admin0", role=role_of(users[0]) or "", ip=None, user_agent=""
    )
    message = build_message("track", user_id="user-1", event="Order Completed")
    request = client.tracking_request(message, write_key="wk_bench_0123456789", region="us")
    template = record_request(actor=actor, request=request)
    record_outcome(
        template,
        client.SendResult(
            status=200, headers={}, body=b"{}", attempts=1, duration_ms=40.0, error=None
        ),
        request=request,
    )
    SetupDone.objects.create(done_at=timezone.now())
    end = timezone.now() - timedelta(minutes=5)
    span = timedelta(hours=20) if days == 1 else timedelta(days=days)
    start = end - span
    step = span.total_seconds() / rows
    columns = [f.column for f in AuditEntry._meta.concrete_fields if f.column != "id"]
    made = {
        "seq": f"{template.seq + 1000} + s.i",
        "created_at": (
            f"to_timestamp({start.timestamp()} + s.i * {step})"
            if postgres
            else f"datetime({start.timestamp()} + s.i * {step}, 'unixepoch')"
        ),
        "actor_user_id": f"{first_pk} + s.i % 40",
        "outcome": "CASE s.i % 20 WHEN 0 THEN 'failed' WHEN 1 THEN 'rejected' ELSE 'sent' END",
        "response_status": "CASE s.i % 20 WHEN 0 THEN NULL WHEN 1 THEN 400 ELSE 200 END",
    }
    if postgres:  # psycopg takes a lone % for a placeholder
        made = {name: sql.replace(" % ", " %% ") for name, sql in made.items()}
    select = ", ".join(made.get(c, f'e."{c}"') for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    chunk = 250_000
    with connection.cursor() as cursor:
        for low in range(0, rows, chunk):
            high = min(rows, low + chunk)
            with transaction.atomic():
                # Only this script's own integers and the model's column names are formatted in.
                if postgres:
                    series = f"(SELECT generate_series({low}, {high - 1}) AS i) s"
                    prefix = ""
                else:
                    series = "s"
                    prefix = (
                        f"WITH RECURSIVE s(i) AS (SELECT {low} UNION ALL SELECT i + 1 FROM s "  # noqa: S608
                        f"WHERE i < {high - 1}) "
                    )
                sql = (
                    f'{prefix}INSERT INTO "audit_auditentry" ({names}) SELECT {select} '  # noqa: S608
                    f'FROM {series}, "audit_auditentry" e WHERE e."id" = %s'
                )
                cursor.execute(sql, [template.pk])
            print(f"  {high:,} rows", flush=True)
        cursor.execute("ANALYZE")
    started = time.perf_counter()
    counts.recount(timezone.now() - timedelta(days=3))
    print(f"kept counts started (last 3 days) in {time.perf_counter() - started:.0f} s")


def measure(repeat: int) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    from segadmin.audit.models import AuditEntry

    print(f"{AuditEntry.objects.count():,} entries")
    for username in ("admin0", "marketer5"):
        browser = Client()
        browser.force_login(User.objects.get(username=username))
        assert browser.get("/").status_code == 200  # fills DailyCount for the days that are over
        wall, cpu = [], []
        for _ in range(repeat):
            w, c = time.perf_counter(), time.process_time()
            response = browser.get("/")
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
            assert response.status_code == 200
        print(
            f"home as {username}: median {statistics.median(wall) * 1000:.1f} ms wall, "
            f"{statistics.median(cpu) * 1000:.1f} ms CPU ({repeat} visits)"
        )


if __name__ == "__main__":
    main()
