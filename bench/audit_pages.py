"""How fast are the audit log's pages, the user lookup and the dashboard at a million rows?

Fills a database with realistic audit entries spread over the last 120 days (40 people in the
three roles, 8 sources in 3 workspaces, every call type, ~5% not delivered, bulk batches,
credential events; each request followed by its outcome row, chained exactly as the app
chains them but appended in bulk) and indexes their messages (``--messages``, default
10,000,000: one per single call, the rest inside the bulk batches; written by the database
itself, see ``fill_index``), then times, through Django's test Client (middleware,
view, template: the server's whole time), many repetitions of:

  the first page, a middle page, the last page, each filter, a marketer's own list, a user
  lookup, the home dashboard, an entry page, the export (rows/s and memory), and Django's
  admin changelist of the same table, printing median, p95 and the ratio to ours.

    .venv/bin/python bench/audit_pages.py                      # SQLite: bench/audit_pages.sqlite3
    .venv/bin/python bench/audit_pages.py --messages 0 --fill-only   # the entries, no index
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/segadmin_bench_pages \\
        .venv/bin/python bench/audit_pages.py

Rows already there are kept (a second run only measures; index rows are written once, when
there are none). The database must be empty or made
by this script: other audit data would change what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import use_bench_environment  # noqa: E402

# bench/audit_pages.sqlite3, not under bench/results: audit_pages_compare.py and the README's
# steps name it there. The Admins it reads as have no second factor.
use_bench_environment(
    ROOT / "bench" / "audit_pages.sqlite3",
    allowed_hosts="testserver,127.0.0.1,localhost",
    require_mfa=False,
)

MARKER = "bench: Web shop"
DAYS = 120
PEOPLE = {"Marketer": 30, "Support": 6, "Admin": 4}
SOURCES = [
    "Web shop",
    "iOS app",
    "Android app",
    "Newsletter",
    "POS",
    "Support desk",
    "CRM",
    "Partner feed",
]
USERS = 200_000
# (call type, weight)
CALLS = [
    ("track", 55),
    ("identify", 25),
    ("page", 8),
    ("screen", 3),
    ("group", 3),
    ("alias", 1),
    ("batch", 3),
    ("profiles:traits", 1),
    ("raw", 1),
]
EVENTS = [
    "Order Completed",
    "Product Viewed",
    "Signed Up",
    "Cart Viewed",
    "Checkout Started",
    "Coupon Applied",
    "Subscription Renewed",
    "Password Reset",
]
HEADERS = json.dumps(
    {
        "Authorization": "Basic ****",
        "Content-Type": "application/json",
        "User-Agent": "segadmin/0.1.0",
    },
    sort_keys=True,
    separators=(",", ":"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to reach (default 1M)")
    parser.add_argument(
        "--messages",
        type=int,
        default=10_000_000,
        help="indexed messages to reach (default 10M; 0: entries only, no index rows)",
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    parser.add_argument("--fill-only", action="store_true")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--verify", action="store_true", help="run verify_chain after filling")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from segadmin.audit.models import AuditEntry, AuditMessage

    have = AuditEntry.objects.count()
    filling = have < args.rows or bool(args.messages and not AuditMessage.objects.exists())
    if filling and connection.vendor == "sqlite":
        # For the fill only: no fsync per chunk, a 1 GB page cache for the index builds. The
        # connection is closed after the fill, so the pages are measured with the defaults.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA cache_size = -1000000")
    print(
        f"{connection.vendor}: {have:,} audit rows present, "
        f"{AuditMessage.objects.count():,} indexed messages"
    )
    if have < args.rows:
        world = make_world()
        started = time.perf_counter()
        fill(world, args.rows - have)
        print(f"appended {args.rows - have:,} rows in {time.perf_counter() - started:.0f} s")
        analyze("audit_auditentry")
    if args.messages and not AuditMessage.objects.exists():
        started = time.perf_counter()
        made = fill_index(args.messages)
        print(f"indexed {made:,} messages in {time.perf_counter() - started:.0f} s")
        analyze("audit_auditmessage")
    if filling:
        connection.close()
    if args.verify:
        from segadmin.audit.chain import verify_chain

        print(f"verify_chain: {verify_chain()}")
    tested_connection()
    if args.fill_only:
        return
    measure(args.repeat, export=not args.skip_export)


def analyze(table: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")


# --- the data -------------------------------------------------------------------------------


def make_world() -> dict[str, Any]:
    from django.contrib.auth.models import Group, User

    from segadmin.audit.models import AuditEntry
    from segadmin.credentials.models import Source, Workspace

    marker = Source.objects.filter(name=MARKER).first()
    if marker is None and AuditEntry.objects.exists():
        sys.exit("This database holds audit entries this script did not write: use a fresh one.")
    if marker is None:
        workspaces = []
        for name in ("Acme EU", "Acme US", "Labs"):
            workspace = Workspace(name=name, region="eu" if "EU" in name else "us")
            workspace.set_public_api_token(f"sgp_bench_{uuid.uuid4().hex}")
            workspace.save()
            workspaces.append(workspace)
        for i, name in enumerate(SOURCES):
            source = Source(name=f"bench: {name}", region="us", workspace=workspaces[i % 3])
            source.set_write_key(f"wk_bench_{uuid.uuid4().hex}")
            source.save()
        for role, count in PEOPLE.items():
            group = Group.objects.get(name=role)
            for n in range(count):
                user = User.objects.create(username=f"{role.lower()}{n}")
                user.set_unusable_password()
                user.save()
                user.groups.add(group)
    return {
        "users": [
            (user, role)
            for role in PEOPLE
            for user in User.objects.filter(groups__name=role).order_by("pk")
        ],
        "sources": list(Source.objects.filter(name__startswith="bench: ").order_by("pk")),
    }


def tested_connection() -> None:
    """A finished setup, as a real install with a million entries has: one successful Test
    connection of the first workspace on the record (its request and its answer, written by
    the audit log's own functions). The fill never wrote one, so without it the home page's
    first-run checklist would be checked, and shown, on every visit. Added once, at the end
    of the log, to a database filled before this existed."""
    from django.contrib.auth.models import User
    from django.core.management.color import no_style
    from django.db import connection

    from segadmin.accounts.roles import role_of
    from segadmin.audit.log import Actor, record_outcome, record_request
    from segadmin.audit.models import AuditEntry, AuditMessage
    from segadmin.credentials.models import Workspace
    from segadmin.segment import client
    from segadmin.segment.client.public_api import public_request

    test = "public:get_workspace"
    if AuditEntry.objects.filter(kind="request", call_type=test, outcome="sent").exists():
        return
    workspace = Workspace.objects.order_by("pk").first()
    user = User.objects.get(username="admin0")
    if workspace is None:
        return
    # The fill wrote the entries' IDs itself: PostgreSQL's sequence has to catch up first.
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [AuditEntry, AuditMessage]):
            cursor.execute(sql)
    actor = Actor(user=user, username="admin0", role=role_of(user) or "", ip=None, user_agent="")
    request = public_request(
        "/", [], token=workspace.public_api_token(), region=workspace.region, call_type=test
    )
    entry = record_request(actor=actor, request=request, workspace=workspace)
    result = client.SendResult(
        status=200,
        headers={"Content-Type": "application/json"},
        body=b"{}",
        attempts=1,
        duration_ms=80.0,
        error=None,
    )
    record_outcome(entry, result, request=request)


def _outcome(rng: random.Random) -> tuple[str | None, int | None, str]:
    roll = rng.random()
    if roll < 0.95:
        return "sent", 200, ""
    if roll < 0.965:
        return "rejected", 400, ""
    if roll < 0.975:
        return "rejected", 429, ""
    if roll < 0.98:
        return "rejected", 500, ""
    if roll < 0.999:
        return "failed", None, rng.choice(["timed out after 5 s", "connection refused"])
    return None, None, ""


class FastAppend:
    """``chain.append`` without the ORM's per-field work: numbered and hashed by the app's own
    ``chain.row_hash`` (so ``verify_audit`` accepts the result), inserted with executemany.
    The ORM's bulk_create spends most of its time preparing 40 fields per row."""

    def __init__(self) -> None:
        from django.db import connection

        from segadmin.audit.models import AuditEntry, ChainHead

        head = ChainHead.objects.filter(pk=1).first()
        self.seq = head.last_seq if head else 0
        self.hash = head.last_hash if head else "0" * 64
        self.id = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.fields = AuditEntry._meta.concrete_fields
        names = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        table = connection.ops.quote_name(AuditEntry._meta.db_table)
        # Only the model's own table and column names: nothing from outside goes in.
        self.sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
        self.dates = {f.attname for f in self.fields if f.get_internal_type() == "DateTimeField"}

    def __call__(self, entries: list[Any]) -> None:
        from django.db import connection, transaction

        from segadmin.audit.chain import row_hash
        from segadmin.audit.keys import keyring
        from segadmin.audit.models import ChainHead

        adapt = connection.ops.adapt_datetimefield_value
        rows = []
        for entry in entries:
            self.id += 1
            self.seq += 1
            entry.id, entry.seq, entry.prev_hash = self.id, self.seq, self.hash
            entry.key_id = keyring().signing_id
            entry.hash = self.hash = row_hash(entry)
            rows.append(
                [
                    adapt(getattr(entry, f.attname))
                    if f.attname in self.dates
                    else getattr(entry, f.attname)
                    for f in self.fields
                ]
            )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(self.sql, rows)
            updated = ChainHead.objects.filter(pk=1).update(last_seq=self.seq, last_hash=self.hash)
            if not updated:
                ChainHead.objects.create(pk=1, last_seq=self.seq, last_hash=self.hash)


def fill(world: dict[str, Any], rows: int, chunk: int = 4000) -> None:
    """Append ``rows`` rows (requests, their outcomes, some events), oldest to newest. The same
    rows, from the same seed, as this script wrote before the message index: ``fill_index``
    indexes them afterwards."""
    from django.utils import timezone

    from segadmin.audit.models import AuditEntry, Kind, pack_body

    rng = random.Random(20261128)
    append = FastAppend()
    done = append.seq
    total = done + rows
    end = timezone.now() - timedelta(minutes=5)
    start = end - timedelta(days=DAYS)
    step = (end - start) / max(total, 1)
    weights = [w for _, w in CALLS]
    kinds = [c for c, _ in CALLS]
    users, sources = world["users"], world["sources"]
    answer_headers = json.dumps({"Content-Type": "application/json"})
    written, n = 0, done
    while written < rows:
        requests: list[AuditEntry] = []
        answers: list[tuple[AuditEntry, dict[str, Any]]] = []
        events: list[AuditEntry] = []
        while len(requests) + len(answers) + len(events) < chunk and written < rows:
            n += 1
            when = start + step * n
            user, role = rng.choice(users)
            if rng.random() < 0.005:
                source = rng.choice(sources)
                events.append(
                    AuditEntry(
                        kind=Kind.EVENT,
                        created_at=when,
                        actor_user=user,
                        username=user.username,
                        role=role,
                        ip="192.0.2.10",
                        action="credential.changed",
                        target_type="source",
                        target_id=str(source.pk),
                        target_name=source.name,
                        source=source,
                        source_ref=str(source.pk),
                        source_name=source.name,
                        details='{"changed":["name"]}',
                    )
                )
                written += 1
                continue
            call_type = rng.choices(kinds, weights)[0]
            source = rng.choice(sources)
            who = rng.randrange(USERS)
            anonymous = rng.random() < 0.2
            user_id = "" if anonymous else f"user-{who}"
            anonymous_id = str(uuid.UUID(int=who, version=4)) if anonymous else ""
            message_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            event = rng.choice(EVENTS) if call_type == "track" else ""
            body: dict[str, Any] = {
                "type": call_type,
                "messageId": message_id,
                "context": {"library": {"name": "segadmin", "version": "0.1.0"}},
                "integrations": {},
                "sentAt": when.isoformat(),
                "writeKey": "****",
            }
            if user_id:
                body["userId"] = user_id
            else:
                body["anonymousId"] = anonymous_id
            if call_type == "identify":
                body["traits"] = {
                    "plan": rng.choice(["free", "pro", "team"]),
                    "email": f"user{who}@example.com",
                    "logins": rng.randrange(90),
                }
            elif call_type == "track":
                body["event"] = event
                body["properties"] = {"revenue": round(rng.random() * 200, 2), "currency": "USD"}
            api, url, bulk = "tracking", f"https://api.segment.io/v1/{call_type}", None
            if call_type == "batch":
                bulk = f"job-{n // 5000}"
                body = {"batch": [body], "sentAt": when.isoformat(), "writeKey": "****"}
            elif call_type == "profiles:traits":
                api, url, body = "profiles", "https://profiles.segment.com/v1/spaces/spa/...", {}
                event, message_id = "", ""
            elif call_type == "raw":
                url = "https://api.segment.io/v1/group"
                event = ""
            outcome, status, error = _outcome(rng)
            duration = 40 + rng.random() * 200
            request = AuditEntry(
                kind=Kind.REQUEST,
                created_at=when,
                actor_user=user,
                username=user.username,
                role=role,
                ip="192.0.2.10",
                user_agent="Mozilla/5.0 (X11; Linux x86_64) bench",
                source=source if api == "tracking" else None,
                source_ref=str(source.pk) if api == "tracking" else "",
                source_name=source.name if api == "tracking" else "",
                workspace=source.workspace if api == "profiles" else None,
                workspace_ref=str(source.workspace_id) if api == "profiles" else "",
                workspace_name=source.workspace.name if api == "profiles" else "",
                api=api,
                call_type=call_type,
                method="GET" if api == "profiles" else "POST",
                url=url,
                request_headers=HEADERS,
                request_body=pack_body(json.dumps(body, sort_keys=True).encode()),
                user_id=user_id,
                anonymous_id=anonymous_id,
                event=event,
                message_id=message_id,
                bulk_job_id=bulk,
                # The outcome copy is not hashed on request rows: set it now, not by update.
                outcome=outcome,
                error=error,
                response_status=status,
                attempts=None if outcome is None else (2 if status == 429 else 1),
                duration_ms=None if outcome is None else duration,
            )
            requests.append(request)
            written += 1
            if outcome is not None and written < rows:
                answers.append((request, {"when": when + timedelta(milliseconds=duration)}))
                written += 1
        append(requests)
        outcome_rows = [
            AuditEntry(
                kind=Kind.OUTCOME,
                created_at=extra["when"],
                request_entry_id=request.pk,
                outcome=request.outcome,
                error=request.error,
                response_status=request.response_status,
                attempts=request.attempts,
                duration_ms=request.duration_ms,
                response_headers=answer_headers,
                response_body=pack_body(
                    b'{"success":true}' if request.outcome == "sent" else b'{"error":"x"}'
                ),
            )
            for request, extra in answers
        ]
        # Outcomes and events in time order, after their chunk's requests (the chain's order
        # is the order of appends; created_at stays non-decreasing well enough for counting).
        append(sorted(outcome_rows + events, key=lambda e: e.created_at))
        print(f"  {done + written:,} rows", end="\r", flush=True)
    print()


# The index rows of a batch's other messages, made by the database (a Python loop writing
# 10,000,000 rows through the recorder's INSERT took hours here). A message's values come from
# a hash of (entry id, position), the same on both databases: 40 % Track calls with one of the
# eight event names, the rest Identify calls; user IDs of the same 200,000 people (so a person
# has about 50 messages); no anonymous ID (an Identify import rarely has one); a unique
# UUID-shaped message ID.
_POSITIONS = "WITH RECURSIVE pos(p) AS (SELECT 1 UNION ALL SELECT p + 1 FROM pos WHERE p < %s) "
_HASHED = (
    "SELECT id, seq, p, h1, (h1 * 48271) %% 2147483647 AS h2 FROM ("
    " SELECT e.id, e.seq, pos.p,"
    " ((CAST(e.id AS BIGINT) * 641 + pos.p) * 2654435761) %% 4294967291 AS h1"
    " FROM audit_auditentry e CROSS JOIN pos"
    " WHERE e.seq > %s AND e.seq <= %s AND e.kind = 'request' AND e.call_type = 'batch'"
    ") hashed"
)
_MESSAGE_ID = {
    "sqlite": (
        "printf('%%08x-%%04x-4%%03x-8%%03x-%%012x', h1, p, h2 %% 4096, (h2 / 4096) %% 4096, id)"
    ),
    "postgresql": (
        "lpad(to_hex(h1), 8, '0') || '-' || lpad(to_hex(p), 4, '0') || '-4'"
        " || lpad(to_hex(h2 %% 4096), 3, '0') || '-8' || lpad(to_hex((h2 / 4096) %% 4096), 3, '0')"
        " || '-' || lpad(to_hex(id), 12, '0')"
    ),
}


def fill_index(messages: int, chunk: int = 20_000) -> int:
    """Index the entries' messages, about ``messages`` of them, as the recorder would have:
    one row per Tracking API request with the entry's own IDs (NULL where it has none), and
    for each bulk batch entry as many more as make up the total. Written ``chunk`` entries of
    the log at a time, oldest first, each request's rows together; the four partial indexes
    are dropped for the fill and built again after (the same indexes, built in one sort
    instead of 10,000,000 random inserts). One transaction: a run stopped half way leaves no
    index rows, and the next run starts the index again."""
    from django.db import connection, transaction

    from segadmin.audit.models import AuditEntry, AuditMessage

    requests = AuditEntry.objects.filter(kind="request", api="tracking")
    singles = requests.count()
    batches = requests.filter(call_type="batch").count()
    extra = max(0, round((messages - singles) / batches)) if batches else 0
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    first_rows = (
        'INSERT INTO audit_auditmessage ("entry_id", "seq", "position", "call_type", "user_id",'
        ' "anonymous_id", "message_id", "event", "row", "email")'
        " SELECT id, seq, 0, CASE call_type WHEN 'batch' THEN 'identify' ELSE call_type END,"
        " NULLIF(user_id, ''), NULLIF(anonymous_id, ''), NULLIF(message_id, ''),"
        " NULLIF(event, ''), CASE WHEN bulk_job_id IS NULL THEN NULL ELSE 1 END,"
        # fill()'s Identify traits.email: user{who}@example.com for user ID user-{who}.
        " CASE WHEN call_type IN ('identify', 'batch') AND user_id LIKE 'user-%%'"
        " THEN 'user' || SUBSTR(user_id, 6) || '@example.com' END"
        " FROM audit_auditentry WHERE seq > %s AND seq <= %s AND kind = 'request'"
        " AND api = 'tracking' ORDER BY seq"
    )
    # The event name: the (h2 / 1000) % 8-th of EVENTS (the script's own constants).
    pick = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(EVENTS))
    # Only this script's constants and the model's table go into the SQL.
    batch_rows = (
        _POSITIONS  # noqa: S608
        + 'INSERT INTO audit_auditmessage ("entry_id", "seq", "position", "call_type",'
        ' "user_id", "anonymous_id", "message_id", "event", "row", "email")'
        " SELECT id, seq, p, CASE WHEN h2 %% 1000 < 400 THEN 'track' ELSE 'identify' END,"
        " 'user-' || CAST(h1 %% 200000 AS TEXT), NULL, "
        + _MESSAGE_ID[connection.vendor]
        + f", CASE WHEN h2 %% 1000 < 400 THEN CASE (h2 / 1000) %% 8 {pick} END END, p + 1,"
        " CASE WHEN h2 %% 1000 >= 400 THEN 'user' || CAST(h1 %% 200000 AS TEXT)"
        " || '@example.com' END FROM (" + _HASHED + ") batch ORDER BY seq, p"
    )
    indexes = AuditMessage._meta.indexes
    # SQLite's schema editor needs foreign-key checks off before the transaction opens.
    connection.disable_constraint_checking()
    with transaction.atomic():
        with connection.schema_editor() as editor:
            for index in indexes:
                editor.remove_index(AuditMessage, index)
        with connection.cursor() as cursor:
            for start in range(0, last, chunk):
                cursor.execute(first_rows, [start, start + chunk])
                if extra:
                    cursor.execute(batch_rows, [extra, start, start + chunk])
                print(f"  indexed up to entry {min(last, start + chunk):,}", end="\r", flush=True)
            if connection.vendor == "postgresql":
                # The deferred foreign-key checks now: PostgreSQL builds no index on a table
                # with trigger events pending.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        print()
        with connection.schema_editor() as editor:
            for index in indexes:
                editor.add_index(AuditMessage, index)
    connection.enable_constraint_checking()
    return AuditMessage.objects.count()


# --- the measurements -----------------------------------------------------------------------


def _timed(call: Callable[[], Any], repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each call (CPU: this process only, so on PostgreSQL
    without the database server's share). The machine may be busy: CPU shows the cost."""
    call()  # warm caches (templates, the database's pages)
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return walls, cpus


def _summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def measure(repeat: int, *, export: bool) -> None:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from segadmin.audit.models import AuditEntry, AuditMessage
    from segadmin.credentials.models import Source, Workspace

    def client_for(username: str) -> Client:
        client = Client()
        client.force_login(User.objects.get(username=username))
        return client

    admin, support, marketer = client_for("admin0"), client_for("support0"), client_for("marketer3")
    superuser = User.objects.filter(username="bench-superuser").first()
    if superuser is None:
        superuser = User.objects.create_superuser("bench-superuser", "b@example.com", None)
    root = Client()
    root.force_login(superuser)

    listed = AuditEntry.objects.listed()
    middle = listed.order_by("-seq").values_list("seq", flat=True)[listed.count() // 2]
    sample = listed.filter(call_type="track").exclude(user_id="").order_by("-seq")[1000]
    busy_user = sample.user_id
    anon = listed.exclude(anonymous_id="").order_by("-seq")[500].anonymous_id
    old_day = (sample.created_at - timedelta(days=60)).date().isoformat()
    source = Source.objects.filter(name__startswith="bench: ").order_by("pk")[2]
    workspace = Workspace.objects.order_by("pk").first()
    audit = reverse("audit:list")
    batch = listed.filter(call_type="batch").order_by("-seq").first()
    inside = AuditMessage.objects.filter(entry=batch, position=5).first() if batch else None
    inside_email = (
        AuditMessage.objects.filter(entry=batch, position__gte=5, email__isnull=False).first()
        if batch
        else None
    )
    # The email of the sampled user's Identify calls (fill(): user{who}@example.com).
    busy_email = f"user{busy_user.removeprefix('user-')}@example.com"

    pages: list[tuple[str, Client, str, dict[str, Any]]] = [
        ("list: first page", admin, audit, {}),
        ("list: middle page", admin, audit, {"before": middle}),
        ("list: last page", admin, audit, {"after": 0}),
        ("filter: one day, 60 days ago", admin, audit, {"date_from": old_day, "date_to": old_day}),
        ("filter: person", admin, audit, {"person": "support2"}),
        ("filter: role", admin, audit, {"role": "Admin"}),
        ("filter: call type (alias)", admin, audit, {"call_type": "alias"}),
        ("filter: call type (events)", admin, audit, {"call_type": "events"}),
        ("filter: source", admin, audit, {"source": source.pk}),
        ("filter: workspace", admin, audit, {"workspace": workspace.pk}),
        ("filter: outcome (no answer)", admin, audit, {"outcome": "none"}),
        ("filter: outcome (failed)", admin, audit, {"outcome": "failed"}),
        ("filter: HTTP status 429", admin, audit, {"status": 429}),
        ("filter: user ID", admin, audit, {"user_id": busy_user}),
        ("filter: anonymous ID", admin, audit, {"anonymous_id": anon}),
        ("filter: event name", admin, audit, {"event": "Password Reset"}),
        ("filter: message ID", admin, audit, {"message_id": sample.message_id}),
        ("filter: email", admin, audit, {"email": busy_email}),
        ("filter: email, a marketer's own", marketer, audit, {"email": busy_email}),
        (
            "filter: combined (source+outcome+call type)",
            admin,
            audit,
            {"source": source.pk, "outcome": "rejected", "call_type": "identify"},
        ),
        (
            "filter: combined, last page",
            admin,
            audit,
            {"source": source.pk, "outcome": "failed", "after": 0},
        ),
        ("list: a marketer's own", marketer, audit, {}),
        ("list: a marketer's own, last page", marketer, audit, {"after": 0}),
        ("entry page", admin, reverse("audit:entry", args=[sample.pk]), {}),
        (
            "user lookup (user ID)",
            support,
            reverse("lookup:index"),
            {"identifier_type": "user_id", "identifier": busy_user},
        ),
        *(
            [
                (
                    "filter: user ID of a batch's 6th message",
                    admin,
                    audit,
                    {"user_id": inside.user_id},
                ),
                ("filter: import (bulk job)", admin, audit, {"bulk_job": batch.bulk_job_id}),
                *(
                    [
                        (
                            "filter: email of a batch's message",
                            admin,
                            audit,
                            {"email": inside_email.email},
                        )
                    ]
                    if inside_email is not None
                    else []
                ),
                (
                    "user lookup (a user of a batch's 6th message)",
                    support,
                    reverse("lookup:index"),
                    {"identifier_type": "user_id", "identifier": inside.user_id},
                ),
            ]
            if inside is not None
            else []
        ),
        ("home dashboard (Admin: every entry)", admin, reverse("home:index"), {}),
        ("home dashboard (Marketer: own entries)", marketer, reverse("home:index"), {}),
    ]
    admin_pages = [
        ("admin changelist: first page", root, "/admin/audit/auditentry/", {}),
        ("admin changelist: last page", root, "/admin/audit/auditentry/", {"p": "last"}),
        ("admin changelist: search user ID", root, "/admin/audit/auditentry/", {"q": busy_user}),
        (
            "admin changelist: filter outcome",
            root,
            "/admin/audit/auditentry/",
            {"outcome__exact": "failed"},
        ),
    ]
    rows = AuditEntry.objects.count()
    print(
        f"\n{connection.vendor}, {rows:,} rows, {repeat} timed requests per page "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"{'page':52} {'median ms':>10} {'p95 ms':>8} {'CPU median':>11} {'CPU p95':>8}")
    results: dict[str, tuple[float, float]] = {}
    for name, client, url, query in pages + admin_pages:
        if name == "admin changelist: last page":
            # The admin pages with ?p=N (OFFSET); its last page number needs the count.
            per_page = 100
            count = AuditEntry.objects.count()
            query = {"p": max(1, -(-count // per_page))}

        def get(client: Client = client, url: str = url, query: dict = query) -> Any:
            response = client.get(url, query)
            assert response.status_code == 200, (url, query, response.status_code)
            return response

        reps = repeat if not name.startswith("admin") else max(5, repeat // 3)
        walls, cpus = _timed(get, reps)
        results[name] = _summary(walls)
        median, p95 = results[name]
        cpu_median, cpu_p95 = _summary(cpus)
        flag = "" if (median < 50 and p95 < 150) or name.startswith("admin") else "  <- over goal"
        print(
            f"{name:52} {median:10.1f} {p95:8.1f} {cpu_median:11.1f} {cpu_p95:8.1f}{flag}",
            flush=True,
        )
    for ours, theirs in (
        ("list: first page", "admin changelist: first page"),
        ("list: last page", "admin changelist: last page"),
        ("filter: user ID", "admin changelist: search user ID"),
        ("filter: outcome (failed)", "admin changelist: filter outcome"),
    ):
        print(f"ratio {theirs} / {ours}: {results[theirs][0] / results[ours][0]:.1f}x (median)")
    if export:
        measure_export(admin)


def measure_export(client: Any) -> None:
    import tracemalloc

    from django.urls import reverse

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu = time.perf_counter(), time.process_time()
    response = client.get(reverse("audit:export"), {"format": "csv"})
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nexport CSV: {lines - 1:,} rows, {size / 1e6:.0f} MB in {took:.1f} s = "
        f"{(lines - 1) / took:,.0f} rows/s wall, {(lines - 1) / cpu:,.0f} rows/s of CPU; "
        f"peak RSS {before:.0f} MB before, {after:.0f} MB after"
    )
    # Python memory while streaming 200,000 rows, traced (slower: not timed).
    tracemalloc.start()
    response = client.get(reverse("audit:export"), {"format": "jsonl"})
    peaks = []
    for i, _chunk in enumerate(response.streaming_content):
        if i % 100 == 0:
            peaks.append(tracemalloc.get_traced_memory()[1] / 1e6)
        if i >= 400:  # 400 chunks of 500 lines
            break
    response.close()
    tracemalloc.stop()
    print(
        f"export JSON Lines, traced: peak Python memory {peaks[1]:.1f} MB after 50,000 rows, "
        f"{peaks[-1]:.1f} MB after 200,000 rows"
    )


if __name__ == "__main__":
    main()
