"""Bulk import end to end into the local fake (or, with ``BENCH_SINK=count``, the counting server),
next to segment-analytics-python sending the same rows into the same server and plain
``requests`` posting prebuilt batches into it (the ceiling), all in the same run.

    .venv/bin/python bench/bulk_import.py [--rows 100000] [--repeat 3] [--memory-rows 0]

segadmin runs as ``make run`` runs it: a ``manage.py db_worker`` process (with the Makefile's
options, ``WORKER_OPTIONS``) started before the file is uploaded and left waiting for tasks. A
1,000-row import first warms the worker up (its first task imports the modules; its figures are
printed apart). The CSV is uploaded through the real view (parsed, stored as chunks; timed
apart), then Start is pressed (the real view) and the clock runs from that answer until the
server has counted every row: the worker picking the task up, reading, checking, sending every
row in /v1/batch requests through the send service (each request and outcome in the audit log).
It also prints when the first rows reached the server, how long after the last row the audit
log's message index of the batches was complete (it is written after the import: audit.backlog)
and the workers' CPU for it, the worker's CPU time and its peak RSS
(``VmHWM``). For the official library: from the first ``identify()`` to the end of ``flush()``,
with a queue large enough to drop nothing. The ceiling: plain ``requests`` (one keep-alive
session) posting prebuilt bodies of 1,000 Identify messages into the same server
(``fake_throughput.py``'s, at most 100 of them a run). ``--repeat`` runs the three in turn that
many times (medians). Every run checks that the server counted every row. The database is a
fresh SQLite file (or ``--database-url``). ``--memory-rows N`` adds one run of an N-row file for
the worker's peak memory.
"""

from __future__ import annotations

import argparse
import base64
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
from bench.fake_throughput import bodies as ceiling_bodies  # noqa: E402

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


def _makefile_worker_options() -> list[str]:
    """The Makefile's WORKER_OPTIONS, so the benchmark runs the worker as `make run` does
    (plus --no-reload: the reloader's child would be the process working, and measured)."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("WORKER_OPTIONS "):
            return line.split("=", 1)[1].split()
    return []


def _makefile_workers() -> int:
    """The Makefile's WORKERS: how many task workers `make run` starts."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("WORKERS "):
            return int(line.split("=", 1)[1])
    return 1


class ServiceWorker:
    """One ``manage.py db_worker`` as `make run` starts it, waiting for tasks."""

    def __init__(self, tree: Path = ROOT) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                *_makefile_worker_options(),
                "--no-reload",
                "--verbosity",
                "0",
            ],
            cwd=tree,
            env=os.environ.copy(),
        )

    def _stat(self, name: str) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) // 1024
        return 0

    def peak_mb(self) -> int:
        """VmHWM: the process's peak resident memory since it started."""
        return self._stat("VmHWM")

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def check(self) -> None:
        if self.process.poll() is not None:
            raise SystemExit(f"db_worker exited with {self.process.returncode}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ServiceWorkers:
    """``--workers`` of them (each import queues one task per worker it may use)."""

    def __init__(self, count: int) -> None:
        self.workers = [ServiceWorker() for _ in range(count)]

    def peak_mb(self) -> int:
        return max(worker.peak_mb() for worker in self.workers)

    def cpu_seconds(self) -> float:
        return sum(worker.cpu_seconds() for worker in self.workers)

    def check(self) -> None:
        for worker in self.workers:
            worker.check()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


SERVICE: ServiceWorkers | None = None


def wait_for_rows(url: str, before: int, rows: int) -> tuple[float, float]:
    """Poll the server until it has counted ``rows`` more than ``before``: (when the first
    rows arrived, when the last did), as perf_counter() times. Fails after a minute without
    progress."""
    first = 0.0
    seen, progress = before, time.perf_counter()
    while True:
        now_count = accepted(url)
        now = time.perf_counter()
        if now_count > before and not first:
            first = now
        if now_count >= before + rows:
            return first, now
        if now_count != seen:
            seen, progress = now_count, now
        elif now - progress > 60:
            raise SystemExit(f"no progress for a minute: {now_count - before} of {rows} rows")
        if SERVICE is not None:
            SERVICE.check()
        time.sleep(0.002 if not first else 0.01)


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
    from segadmin.audit.models import AuditEntry, AuditMessage, Kind, PendingIndex
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
    if SERVICE is not None:
        cpu_before = SERVICE.cpu_seconds()
        pressed = time.perf_counter()
    assert client.post(f"/bulk/{job.pk}/", data).status_code == 302
    if SERVICE is not None:
        # Timed from Start's answer (the job is queued) until the server has every row.
        start_answered = time.perf_counter()
        first, last = wait_for_rows(url, before, rows)
        total = last - start_answered
        deadline = time.monotonic() + 120
        while (job_status := BulkJob.objects.get(pk=job.pk).status) in ("queued", "running"):
            if time.monotonic() > deadline:
                raise SystemExit(f"the job is still {job_status} two minutes after its last row")
            time.sleep(0.02)
        global LAST_WORKER_CPU
        LAST_WORKER_CPU = SERVICE.cpu_seconds() - cpu_before
        worker_seconds, peak_mb = total, SERVICE.peak_mb()
        first_s, start_s = first - start_answered, start_answered - pressed
        # The audit's message index of the batches follows the import (audit.backlog): how
        # long after the last row it is complete, and the workers' CPU for it.
        cpu_at_end = SERVICE.cpu_seconds()
        while PendingIndex.objects.exists():
            if time.monotonic() > deadline + 600:
                raise SystemExit("the message index did not catch up in ten minutes")
            time.sleep(0.05)
        index_s, index_cpu_s = time.perf_counter() - last, SERVICE.cpu_seconds() - cpu_at_end
        peak_mb = SERVICE.peak_mb()
    else:
        worker_seconds, peak_mb = run_worker(worker_tree)
        total = time.perf_counter() - started
        first_s = start_s = 0.0
        index_s = index_cpu_s = 0.0
    batches = AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk))
    indexed = AuditMessage.objects.filter(entry__in=batches).count()
    assert indexed == rows, f"{indexed} of {rows} rows in the message index"

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
        "first_s": first_s,
        "start_s": start_s,
        "index_s": index_s,
        "index_cpu_s": index_cpu_s,
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
    parser.add_argument(
        "--memory-rows", type=int, default=0, help="also import a file this long, for memory"
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--workers",
        type=int,
        default=_makefile_workers(),
        help="db_worker processes (default: as many as `make run` starts, the Makefile's WORKERS)",
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="only compare the import without and with a tracking plan on the source",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side, medians reported")
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="--plan: also run the worker of the code in this directory (a checkout of an "
        "older commit, sharing this database), alternating with this tree's",
    )
    args = parser.parse_args()
    if args.before and not args.plan:
        parser.error("--before compares the worker with a tracking plan: give --plan with it")
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
    global SERVICE
    if not args.plan:
        SERVICE = ServiceWorkers(WORKERS)
    try:
        path = WORK / "rows.csv"
        write_csv(path, args.rows)
        if args.plan:
            compare_plan(url, path, args.rows, args.repeat, args.before)
            return
        compare(url, path, args.rows, args.repeat)
        if args.memory_rows:
            path = WORK / "million.csv"
            write_csv(path, args.memory_rows)
            big = segadmin_run(url, path, args.memory_rows, "benchBulkKey99999999999999999999")
            print(
                f"{args.memory_rows:,} rows ({path.stat().st_size / 1e6:.0f} MB): worker peak RSS "
                f"{big['peak_mb']} MB; from Start {big['total_s']:.1f} s = "
                f"{big['rows_per_s']:,.0f} rows/s (upload {big['upload_s']:.0f} s)"
            )
    finally:
        if SERVICE is not None:
            SERVICE.stop()
        fake.stop()
        shutil.rmtree(WORK, ignore_errors=True)


def compare(url: str, path: Path, rows: int, repeat: int) -> None:
    """segadmin, the official library and the plain-requests ceiling in turn, ``repeat``
    times, into the same server; every run and the medians printed."""
    payloads = ceiling_bodies(min(100, max(1, rows // 1000)), 1000, compress=False)
    # The worker's first import after it started pays for importing the task's modules, as
    # the first import after `make run` does: a small one first, its figures printed apart.
    warm_up = WORK / "warm-up.csv"
    write_csv(warm_up, 1000)
    cold = segadmin_run(url, warm_up, 1000, "benchBulkKeyWarmUp00000000000001")
    print(
        f"warm-up, the worker's first import (1,000 rows): first rows at the server "
        f"{1000 * cold['first_s']:.0f} ms after Start answered, all of them after "
        f"{1000 * cold['total_s']:.0f} ms",
        flush=True,
    )
    ours_runs, official_runs, ceilings = [], [], []
    for number in range(1, repeat + 1):
        load = os.getloadavg()[0]
        ours = segadmin_run(url, path, rows, f"benchBulkKey{number:020d}")
        official = official_run(url, rows)
        ceiling = ceiling_rate(url, payloads, 1000)
        ours_runs.append(ours)
        official_runs.append(official["rows_per_s"])
        ceilings.append(ceiling)
        print(
            f"run {number} (load {load:.1f} -> {os.getloadavg()[0]:.1f}): segadmin "
            f"{ours['total_s']:.2f} s from Start = {ours['rows_per_s']:,.0f} rows/s (first rows "
            f"at the server {1000 * ours['first_s']:.0f} ms after Start answered, Start's "
            f"answer {1000 * ours['start_s']:.0f} ms; upload {ours['upload_s']:.1f} s; worker "
            f"CPU {ours['worker_cpu_s']:.1f} s; {ours['requests']} batch requests audited, "
            f"chain ok: {ours['chain_ok']}; worker peak RSS {ours['peak_mb']} MB; message "
            f"index complete {ours['index_s']:.1f} s after the last row, "
            f"{ours['index_cpu_s']:.1f} s of CPU); segment-analytics-python "
            f"{official['rows_per_s']:,.0f} rows/s; plain requests "
            f"{ceiling:,.0f} msg/s",
            flush=True,
        )
    rate = statistics.median(r["rows_per_s"] for r in ours_runs)
    official = statistics.median(official_runs)
    ceiling = statistics.median(ceilings)
    print(
        f"{rows:,} Identify rows from a {path.stat().st_size / 1e6:.1f} MB CSV, medians of "
        f"{repeat} into {'the counting server' if _counting() else 'the fake'}:\n"
        f"  segadmin, Start to the last row at the server: {rate:,.0f} rows/s "
        f"(first rows {1000 * statistics.median(r['first_s'] for r in ours_runs):.0f} ms after "
        f"Start; worker CPU {statistics.median(r['worker_cpu_s'] for r in ours_runs):.1f} s; "
        f"peak RSS {max(r['peak_mb'] for r in ours_runs)} MB; the message index complete "
        f"{statistics.median(r['index_s'] for r in ours_runs):.1f} s after the last row)\n"
        f"  segment-analytics-python {official_rows_version()}: {official:,.0f} rows/s\n"
        f"  plain requests, prebuilt batches of 1,000 (the ceiling): {ceiling:,.0f} msg/s\n"
        f"  segadmin / official library: {rate / official:.2f}x; segadmin / ceiling: "
        f"{rate / ceiling:.2f}"
    )


def _counting() -> bool:
    return os.environ.get("BENCH_SINK", "fake") == "count"


def ceiling_rate(url: str, payloads: list[bytes], size: int) -> float:
    """Plain ``requests``, one keep-alive session, posting the prebuilt bodies one after the
    other into the server at ``url``: messages per second (every one checked counted)."""
    import requests

    write_key = "benchCeilingKey00000000000000001"
    fake_call(url, "/_fake/write_keys", {"key": write_key})
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
    }
    with requests.Session() as session:
        session.post(f"{url}/v1/identify", data=b"{}", headers=headers, timeout=30)  # connect
        before = accepted(url)
        started = time.perf_counter()
        for payload in payloads:
            session.post(f"{url}/v1/batch", data=payload, headers=headers).raise_for_status()
        elapsed = time.perf_counter() - started
    got = accepted(url) - before
    if got != len(payloads) * size:
        raise SystemExit(f"the server counted {got} of {len(payloads) * size} messages")
    return got / elapsed


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
