"""How long does verify_audit take on a big audit log?

Fills a database with realistic audit rows (request + outcome pairs, every tenth pair followed
by a credential event), chained exactly as the app chains them but appended in bulk, then
times ``verify_chain()``. Rows already there are kept, so a second run only re-times.

    .venv/bin/python bench/verify_audit.py --rows 1000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/segadmin_bench \
        .venv/bin/python bench/verify_audit.py --rows 1000000

Without DATABASE_URL it uses bench/results/audit.sqlite3 (never the development database).

``--before REV`` times the chain code of git revision REV against the working tree's in the
same run, alternating, each check in its own process (so each peak RSS is its own); the
working tree's both in one process and split across ``--workers`` processes (default: the
CPUs this process may use). CPU time counts the worker processes' too:

    .venv/bin/python bench/verify_audit.py --rows 200000 --before d31e41f --rounds 3
    .venv/bin/python bench/verify_audit.py --rows 1000000 --before 86a9114 --rounds 3 --workers 2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import RESULTS, use_bench_environment  # noqa: E402

use_bench_environment(RESULTS / "audit.sqlite3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to reach (default 1M)")
    parser.add_argument("--chunk", type=int, default=10_000, help="rows per transaction")
    parser.add_argument("--before", metavar="REV", help="also time the chain code of git REV")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each with --before")
    parser.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="processes for the split full check (default: the CPUs this process may use)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # a chain.py to time, then exit
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.workers)
        return

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

    if args.before:
        compare(args.before, args.rounds, args.workers)
        return

    for workers in sorted({1, args.workers}):
        started, cpu = time.perf_counter(), _cpu()
        report = verify_chain(workers=workers)
        took, cpu = time.perf_counter() - started, _cpu() - cpu
        # Peak RSS of this process; run a second time (rows present) to see verify alone.
        # The workers are the forkserver's children, not ours: their peak is not seen here.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"verify_chain(workers={workers}): {report} in {took:.1f} s wall, {cpu:.1f} s CPU "
            f"({report.count / took:,.0f} rows/s); peak RSS {peak:.0f} MB; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the walk's workers)."""
    times = os.times()
    own = times.user + times.system + times.children_user + times.children_system
    return own + _forkserver_children_cpu()


def _forkserver_children_cpu() -> float:
    """CPU seconds of the finished children of multiprocessing's forkserver: the walk's parts
    are forked by it, not by this process, so os.times() leaves them out (Linux: /proc)."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # fields[0] is the state (field 3 of proc(5)); cutime and cstime are fields 16 and 17.
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def child(path: str, workers: int) -> None:
    """Time one full check with the chain module at ``path`` ("" = the working tree's) and
    print its figures as one JSON line."""
    import django

    django.setup()
    if path:
        spec = importlib.util.spec_from_file_location("segadmin.audit._chain_timed", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    else:
        from segadmin.audit import chain as module
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu = time.perf_counter(), _cpu()
    report = module.verify_chain(workers=workers) if workers > 1 else module.verify_chain()
    took, cpu = time.perf_counter() - started, _cpu() - cpu
    peak = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    line = {"ok": report.ok, "count": report.count, "wall": took, "cpu": cpu}
    print(json.dumps({**line, "rate": report.count / took, "peak_mb": peak, "base_mb": base}))


def compare(rev: str, rounds: int, workers: int) -> None:
    """The chain code of ``rev`` and the working tree's (one process, then ``workers``),
    alternating, each in a fresh process."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:segadmin/audit/chain.py"],
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryDirectory() as folder:
        before = Path(folder) / "chain_before.py"
        before.write_bytes(source)
        after_n = f"after, {workers} processes"
        runs: dict[str, list[dict]] = {"before": [], "after": [], after_n: []}
        sides = [("before", str(before), 1), ("after", "", 1), (after_n, "", workers)]
        if workers == 1:
            del runs[after_n], sides[-1]
        for round_ in range(rounds):
            for name, path, processes in sides:
                done = subprocess.run(
                    [sys.executable, __file__, "--child", path, "--workers", str(processes)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                run = json.loads(done.stdout.strip().splitlines()[-1])
                runs[name].append(run)
                print(
                    f"round {round_ + 1} {name}: {run['count']} entries ok={run['ok']} "
                    f"{run['wall']:.2f} s wall, {run['cpu']:.2f} s CPU, {run['rate']:,.0f} rows/s, "
                    f"peak RSS {run['peak_mb']:.0f} MB (after setup {run['base_mb']:.0f} MB); "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    medians = {
        name: (
            statistics.median(r["rate"] for r in found),
            statistics.median(r["cpu"] for r in found),
            max(r["peak_mb"] for r in found),
        )
        for name, found in runs.items()
    }
    count = runs["after"][0]["count"]
    for name, (rate, cpu, peak) in medians.items():
        print(
            f"{name} ({rev if name == 'before' else 'working tree'}): median {rate:,.0f} rows/s, "
            f"{cpu:.2f} s CPU ({count / cpu:,.0f} rows per CPU second), "
            f"peak RSS up to {peak:.0f} MB"
        )
    for name in list(runs)[1:]:
        print(
            f"{name} / before: {medians[name][0] / medians['before'][0]:.2f}x rows/s (wall), "
            f"{medians['before'][1] / medians[name][1]:.2f}x rows per CPU second"
        )


def fill(rows: int, chunk: int) -> None:
    """Append ``rows`` rows chained exactly like chain.append, but built as plain tuples and
    written with one executemany per chunk: model instances and bulk_create would spend most
    of the time preparing 45 fields per row, and this is a benchmark of verifying, not of
    writing."""
    from django.db import connection, transaction
    from django.db.models import Max
    from django.utils import timezone

    from segadmin.audit.chain import BLOB_FIELDS, HASHED_FIELDS, OUTCOME_FIELDS, _digest, _values
    from segadmin.audit.keys import keyring
    from segadmin.audit.models import AuditEntry, ChainHead, pack_body

    fields = list(AuditEntry._meta.concrete_fields)
    names = [f.attname for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    insert = f"INSERT INTO audit_auditentry ({columns}) VALUES ({placeholders})"  # noqa: S608
    copy_sql = f"COPY audit_auditentry ({columns}) FROM STDIN"
    defaults = {f.attname: f.get_default() for f in fields}

    headers = json.dumps(
        {
            "Authorization": "Basic ****",
            "Content-Type": "application/json",
            "User-Agent": "segadmin/0.1.0",
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    request_template = {
        **defaults,
        "kind": "request",
        "role": "Marketer",
        "ip": "192.0.2.10",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) bench",
        "source_ref": "1",
        "source_name": "My site",
        "api": "tracking",
        "call_type": "track",
        "method": "POST",
        "url": "https://api.segment.io/v1/track",
        "request_headers": headers,
        "event": "Order Completed",
        # The outcome copy is not hashed on request rows.
        "outcome": "sent",
        "response_status": 200,
        "attempts": 1,
        "duration_ms": 87.5,
    }
    answer_template = {
        **defaults,
        "kind": "outcome",
        "outcome": "sent",
        "response_status": 200,
        "attempts": 1,
        "duration_ms": 87.5,
        "response_headers": json.dumps({"Content-Type": "application/json"}),
        "response_body": pack_body(b'{"success":true}'),
    }
    event_template = {
        **defaults,
        "kind": "event",
        "username": "ada",
        "role": "Admin",
        "action": "credential.changed",
        "target_type": "source",
        "target_id": "1",
        "target_name": "My site",
        "source_ref": "1",
        "source_name": "My site",
        "details": '{"changed":["name"]}',
    }

    ring = keyring()
    next_id = (AuditEntry.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    head = ChainHead.objects.get(pk=1)
    seq, previous = head.last_seq, head.last_hash
    written = n = 0
    while written < rows:
        now = timezone.now()
        stored_now = connection.ops.adapt_datetimefield_value(now)
        batch = []
        while len(batch) < chunk and written + len(batch) < rows:
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
            request = {
                **request_template,
                "id": next_id,
                "username": f"person{n % 40}",
                "user_id": f"user-{n % 50_000}",
                "message_id": message_id,
                "request_body": pack_body(json.dumps(body, sort_keys=True).encode()),
            }
            answer = {**answer_template, "id": next_id + 1, "request_entry_id": next_id}
            next_id += 2
            batch += [request, answer]
            if n % 20 == 0:
                batch.append({**event_template, "id": next_id})
                next_id += 1
        params = []
        for row in batch:
            seq += 1
            row["seq"], row["prev_hash"], row["created_at"] = seq, previous, now
            row["key_id"] = ring.signing_id
            row["hash"] = previous = _digest(
                seq,
                previous,
                _values(
                    [row[name] for name in HASHED_FIELDS], [row[name] for name in OUTCOME_FIELDS]
                ),
                [row[name] for name in BLOB_FIELDS],
                ring.signing_key,
            )
            row["created_at"] = stored_now
            params.append([row[name] for name in names])
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY: PostgreSQL's bulk path, many times faster than INSERTs.
                with cursor.cursor.copy(copy_sql) as copy:
                    for values in params:
                        copy.write_row(values)
            else:
                cursor.executemany(insert, params)
            ChainHead.objects.filter(pk=1).update(last_seq=seq, last_hash=previous)
        written += len(batch)
        print(f"  {written} rows", end="\r", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('audit_auditentry', 'id'), "
                "(SELECT MAX(id) FROM audit_auditentry))"
            )
    print()


if __name__ == "__main__":
    main()
