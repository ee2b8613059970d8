"""How long does verify_audit take on a big audit log?

Fills a database with realistic audit rows (request + outcome pairs, every tenth pair followed
by a credential event), chained exactly as the app chains them but appended in bulk, then
times ``verify_chain()``. Rows already there are kept, so a second run only re-times.

    .venv/bin/python bench/verify_audit.py --rows 1000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/segadmin_bench \
        .venv/bin/python bench/verify_audit.py --rows 1000000

Without DATABASE_URL it uses bench/results/audit.sqlite3 (never the development database).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segadmin.settings")
os.environ["SEGADMIN_ENV_FILE"] = "none"
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "benchmark-secret-key-not-for-production-0123456789")
os.environ.setdefault("SEGADMIN_ENCRYPTION_KEYS", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktMDAwMDA=")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'bench' / 'results' / 'audit.sqlite3'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to reach (default 1M)")
    parser.add_argument("--chunk", type=int, default=5_000, help="request rows per append")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from segadmin.audit.chain import verify_chain
    from segadmin.audit.models import AuditEntry

    have = AuditEntry.objects.count()
    print(f"{connection.vendor}: {have} rows present")
    if have < args.rows:
        started = time.perf_counter()
        fill(args.rows - have, args.chunk)
        took = time.perf_counter() - started
        print(f"appended {args.rows - have} rows in {took:.1f} s")

    started, cpu = time.perf_counter(), time.process_time()
    report = verify_chain()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    # Peak RSS of this process; run a second time (rows present) to see verify alone.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"verify_chain: {report} in {took:.1f} s wall, {cpu:.1f} s CPU "
        f"({report.count / took:,.0f} rows/s); peak RSS {peak:.0f} MB; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


def fill(rows: int, chunk: int) -> None:
    from django.utils import timezone

    from segadmin.audit import chain
    from segadmin.audit.models import AuditEntry, Kind, Outcome, pack_body

    headers = json.dumps(
        {
            "Authorization": "Basic ****",
            "Content-Type": "application/json",
            "User-Agent": "segadmin/0.1.0",
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    answer_headers = json.dumps({"Content-Type": "application/json", "Content-Length": "16"})
    written = 0
    n = 0
    while written < rows:
        pairs = min(chunk, max(1, (rows - written) // 2))
        requests = []
        for _ in range(pairs):
            n += 1
            message_id = str(uuid.uuid4())
            body = {
                "type": "track",
                "userId": f"user-{n % 50_000}",
                "event": "Order Completed",
                "properties": {"revenue": 19.99, "currency": "USD", "order": n},
                "context": {"library": {"name": "segadmin", "version": "0.1.0"}},
                "integrations": {},
                "messageId": message_id,
                "writeKey": "****",
            }
            requests.append(
                AuditEntry(
                    kind=Kind.REQUEST,
                    username=f"person{n % 40}",
                    role="Marketer",
                    ip="192.0.2.10",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) bench",
                    source_ref="1",
                    source_name="My site",
                    api="tracking",
                    call_type="track",
                    method="POST",
                    url="https://api.segment.io/v1/track",
                    request_headers=headers,
                    request_body=pack_body(json.dumps(body, sort_keys=True).encode()),
                    user_id=f"user-{n % 50_000}",
                    event="Order Completed",
                    message_id=message_id,
                    # The outcome copy is not hashed on request rows: set it now, not by update.
                    outcome=Outcome.SENT,
                    response_status=200,
                    attempts=1,
                    duration_ms=87.5,
                )
            )
        chain.append(requests)
        answers = [
            AuditEntry(
                kind=Kind.OUTCOME,
                request_entry_id=request.pk,
                outcome=Outcome.SENT,
                response_status=200,
                attempts=1,
                duration_ms=87.5,
                response_headers=answer_headers,
                response_body=pack_body(b'{"success":true}'),
            )
            for request in requests
        ]
        events = [
            AuditEntry(
                kind=Kind.EVENT,
                username="ada",
                role="Admin",
                action="credential.changed",
                target_type="source",
                target_id="1",
                target_name="My site",
                source_ref="1",
                source_name="My site",
                details='{"changed":["name"]}',
                created_at=timezone.now(),
            )
            for _ in range(pairs // 10)
        ]
        chain.append(answers + events)
        written += 2 * pairs + len(events)
        print(f"  {written} rows", end="\r", flush=True)
    print()


if __name__ == "__main__":
    main()
