"""Bulk import end to end into the local fake, next to segment-analytics-python sending the
same rows into the same fake; and the worker's peak memory on a large file.

    .venv/bin/python bench/bulk_import.py [--rows 100000] [--memory-rows 1000000]

What is timed for segadmin: uploading the CSV through the real view (parsing, storing the
chunks), starting the job, and a real ``manage.py db_worker --batch`` process sending every row
in /v1/batch requests through the send service (each request and outcome in the audit log),
until the process exits. For the official library: from the first ``identify()`` to the end of
``flush()``, with a queue large enough to drop nothing. The fake runs in its own process; both
runs check that the fake accepted every row. The database is a fresh SQLite file (or
``--database-url``). ``--memory-rows 0`` skips the memory run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import start_fake  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix="segadmin-bench-bulk-"))


def _environment(database_url: str | None) -> None:
    from cryptography.fernet import Fernet

    os.environ["SEGADMIN_ENV_FILE"] = "none"
    os.environ["DEBUG"] = "false"
    os.environ["SECRET_KEY"] = "bench-secret-key-" + "x" * 40
    os.environ["SEGADMIN_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    os.environ["SEGADMIN_AUDIT_KEY"] = secrets.token_urlsafe(32)
    os.environ["STATICFILES_BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{WORK / 'bench.sqlite3'}"
    os.environ["LOG_LEVEL"] = "WARNING"
    # Measured here: sending. A large import otherwise waits for a second Admin's approval.
    os.environ["SEGADMIN_APPROVAL_ROWS"] = str(10**9)
    os.environ["SECURE_COOKIES"] = "false"  # the test client speaks plain HTTP
    os.environ["DJANGO_SETTINGS_MODULE"] = "segadmin.settings"


def fake_call(url: str, path: str, data: dict | None = None) -> dict:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(data).encode() if data is not None else None,
        method="POST" if data is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def accepted(url: str) -> int:
    return fake_call(url, "/_fake/state")["counts"].get("accepted", 0)


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("userId,email,plan,visits,vip,signed_up\n")
        for i in range(1, rows + 1):
            out.write(
                f"user-{i},user{i}@example.com,{('free', 'pro', 'team')[i % 3]},{i % 97},"
                f"{'true' if i % 2 else 'false'},2024-05-{1 + i % 28:02d}T09:30:00Z\n"
            )


def _high_water_mb(pid: int) -> int:
    """VmHWM of a running process: its peak resident memory since exec. (ru_maxrss would
    also count the bench's own memory, which the child held between fork and exec.)"""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def run_worker(tree: Path = ROOT) -> tuple[float, int]:
    """Run WORKERS db_worker --batch processes (of the code in ``tree``) until the queue is
    empty: (seconds, the largest peak resident memory of one worker in MB, sampled every 0.1 s
    until it exits)."""
    started = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--batch",
                "--no-reload",
                "--no-startup-delay",
                "--verbosity",
                "0",
            ],
            cwd=tree,
            env=os.environ.copy(),
        )
        for _ in range(WORKERS)
    ]
    peak = 0
    while any(process.poll() is None for process in processes):
        for process in processes:
            if process.returncode is None:
                peak = max(peak, _high_water_mb(process.pid))
        time.sleep(0.1)
    for process in processes:
        if process.returncode:
            raise SystemExit(f"db_worker exited with {process.returncode}")
    global LAST_WORKER_CPU
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds the workers spent (user + system): far steadier than wall time on a
    # machine shared with other work.
    LAST_WORKER_CPU = (cpu.ru_utime - cpu_before.ru_utime) + (cpu.ru_stime - cpu_before.ru_stime)
    return time.perf_counter() - started, peak


LAST_WORKER_CPU = 0.0


# The Identify rule of the plan --plan connects the source to: every column typed, as a real
# plan would (all the benchmark's rows conform, so every row is still sent).
IDENTIFY_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email"},
                "plan": {"enum": ["free", "pro", "team"]},
                "visits": {"type": "integer", "minimum": 0},
                "vip": {"type": "boolean"},
                "signed_up": {"type": "string", "format": "date-time"},
            },
            "required": ["email", "plan"],
        }
    },
}


def connect_plan(source: object) -> None:
    from segadmin.credentials.models import TrackingPlan, TrackingPlanRule, Workspace

    workspace = Workspace(name="Bench", region="us")
    workspace.set_public_api_token("bench-token-0000000000000000")
    workspace.save()
    plan = TrackingPlan.objects.create(workspace=workspace, plan_id="tp_bench", name="Bench plan")
    TrackingPlanRule.objects.create(plan=plan, rule_type="IDENTIFY", json_schema=IDENTIFY_SCHEMA)
    source.workspace, source.tracking_plan = workspace, plan  # type: ignore[attr-defined]
    source.save()  # type: ignore[attr-defined]


def segadmin_run(
    url: str,
    path: Path,
    rows: int,
    write_key: str,
    *,
    with_plan: bool = False,
    worker_tree: Path = ROOT,
) -> dict:
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from segadmin.audit.chain import verify_chain
    from segadmin.audit.models import AuditEntry, Kind
    from segadmin.bulk.models import BulkJob
    from segadmin.credentials.models import Source

    fake_call(url, "/_fake/write_keys", {"key": write_key})
    user, _ = User.objects.get_or_create(username="bench")
    user.groups.add(Group.objects.get(name="Marketer"))
    source = Source(name=f"Bench {write_key[-4:]}", region="us")
    source.set_write_key(write_key)
    source.save()
    if with_plan:
        connect_plan(source)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    before = accepted(url)

    started = time.perf_counter()
    with path.open("rb") as upload:
        response = client.post(
            "/bulk/", {"file": upload, "call_type": "identify", "source": source.pk}
        )
    assert response.status_code == 302, response.content[:500]
    uploaded = time.perf_counter()
    job = BulkJob.objects.get(source=source)
    data = {"action": "start"}
    for index, item in enumerate(job.mapping):
        data[f"target_{index}"] = item["target"]
        data[f"type_{index}"] = item["type"]
    assert client.post(f"/bulk/{job.pk}/", data).status_code == 302
    worker_seconds, peak_mb = run_worker(worker_tree)
    total = time.perf_counter() - started

    job.refresh_from_db()
    got = accepted(url) - before
    assert job.status == "done" and job.sent == rows and got == rows, (job.status, job.sent, got)
    requests = AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk)).count()
    assert requests == job.requests
    if with_plan:  # every batch was checked against the plan, and kept it on the record
        recorded = AuditEntry.objects.filter(
            kind=Kind.REQUEST, bulk_job_id=str(job.pk), details__contains='"Bench plan"'
        )
        assert recorded.count() == requests
    return {
        "rows": rows,
        "upload_s": uploaded - started,
        "worker_s": worker_seconds,
        "worker_cpu_s": LAST_WORKER_CPU,
        "total_s": total,
        "rows_per_s": rows / total,
        "requests": requests,
        "peak_mb": peak_mb,
        "chain_ok": verify_chain().ok,
    }


def official_run(url: str, rows: int) -> dict:
    from segment.analytics import Client as OfficialClient

    write_key = "benchOfficialKey0000000000000001"
    fake_call(url, "/_fake/write_keys", {"key": write_key})
    before = accepted(url)
    client = OfficialClient(write_key, host=url, max_queue_size=rows + 1)
    started = time.perf_counter()
    for i in range(1, rows + 1):
        client.identify(
            f"user-{i}",
            {
                "email": f"user{i}@example.com",
                "plan": ("free", "pro", "team")[i % 3],
                "visits": i % 97,
                "vip": bool(i % 2),
                "signed_up": f"2024-05-{1 + i % 28:02d}T09:30:00Z",
            },
        )
    client.flush()
    seconds = time.perf_counter() - started
    client.shutdown()
    got = accepted(url) - before
    assert got == rows, f"the official library delivered {got} of {rows}"
    return {"rows": rows, "total_s": seconds, "rows_per_s": rows / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=1, help="db_worker processes")
    parser.add_argument(
        "--plan",
        action="store_true",
        help="only compare the import without and with a tracking plan on the source",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="--plan: runs of each side, medians reported"
    )
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="--plan: also run the worker of the code in this directory (a checkout of an "
        "older commit, sharing this database), alternating with this tree's",
    )
    args = parser.parse_args()
    _environment(args.database_url)
    global WORKERS
    WORKERS = args.workers
    os.environ["SEGADMIN_BULK_PARALLEL"] = str(args.workers)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    fake = start_fake()
    url = fake.url
    os.environ["SEGMENT_TRACKING_API_URL"] = url
    try:
        path = WORK / "rows.csv"
        write_csv(path, args.rows)
        if args.plan:
            compare_plan(url, path, args.rows, args.repeat, args.before)
            return
        ours = segadmin_run(url, path, args.rows, "benchBulkKey00000000000000000001")
        official = official_run(url, args.rows)
        print(
            f"{args.rows:,} Identify rows from a {path.stat().st_size / 1e6:.1f} MB CSV:\n"
            f"  segadmin bulk import, end to end: {ours['total_s']:.1f} s = "
            f"{ours['rows_per_s']:,.0f} rows/s (upload {ours['upload_s']:.1f} s, worker "
            f"{ours['worker_s']:.1f} s, {ours['requests']} batch requests audited, chain ok: "
            f"{ours['chain_ok']}, worker peak RSS {ours['peak_mb']} MB)\n"
            f"  segment-analytics-python {official_rows_version()}: {official['total_s']:.1f} s = "
            f"{official['rows_per_s']:,.0f} rows/s"
        )
        if args.memory_rows:
            path = WORK / "million.csv"
            write_csv(path, args.memory_rows)
            big = segadmin_run(url, path, args.memory_rows, "benchBulkKey00000000000000000002")
            print(
                f"{args.memory_rows:,} rows ({path.stat().st_size / 1e6:.0f} MB): worker peak RSS "
                f"{big['peak_mb']} MB; end to end {big['total_s']:.0f} s = "
                f"{big['rows_per_s']:,.0f} rows/s (upload {big['upload_s']:.0f} s)"
            )
    finally:
        fake.stop()
        shutil.rmtree(WORK, ignore_errors=True)


def compare_plan(url: str, path: Path, rows: int, repeat: int, before: Path | None) -> None:
    """Worker time without and with a tracking plan, for this tree and (``before``) an older
    one, the four runs alternating ``repeat`` times; medians and every run printed."""
    trees = [("after", ROOT)] + ([("before", before.resolve())] if before else [])
    times: dict[tuple[str, bool], list[float]] = {}
    cpus: dict[tuple[str, bool], list[float]] = {}
    keys = iter(range(10_000))
    for _ in range(repeat):
        for name, tree in trees:
            for with_plan in (False, True):
                result = segadmin_run(
                    url,
                    path,
                    rows,
                    f"benchBulkKey{next(keys):020d}",
                    with_plan=with_plan,
                    worker_tree=tree,
                )
                times.setdefault((name, with_plan), []).append(result["worker_s"])
                cpus.setdefault((name, with_plan), []).append(result["worker_cpu_s"])
                print(
                    f"  {name}, {'with' if with_plan else 'without'} a plan: "
                    f"{result['worker_s']:.2f} s wall, {result['worker_cpu_s']:.2f} s CPU, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    print(f"{rows:,} Identify rows, db_worker time, medians of {repeat}:")
    for name, _ in trees:
        for what, figures in (("wall", times), ("CPU", cpus)):
            plain = statistics.median(figures[(name, False)])
            planned = statistics.median(figures[(name, True)])
            print(
                f"  {name}, {what}: without a plan {plain:.2f} s ({rows / plain:,.0f} rows/s), "
                f"with a tracking plan {planned:.2f} s ({rows / planned:,.0f} rows/s): "
                f"{100 * (planned / plain - 1):+.0f} %"
            )


def official_rows_version() -> str:
    from importlib.metadata import version

    return version("segment-analytics-python")


if __name__ == "__main__":
    main()
