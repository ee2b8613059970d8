"""How fast the local fake takes /v1/batch, next to the minimal counting server: is the fake
the bottleneck of a throughput benchmark?

    .venv/bin/python bench/fake_throughput.py [--repeat 3] [--batches 50] [--size 1000] [--gzip]

Plain ``requests`` (one keep-alive session) posts prebuilt /v1/batch bodies of ``--size``
Identify messages (built by segadmin's ``build_message``: five traits each, as the bulk import
sends them) one after the other into (a) the fake (``manage.py fake_segment``) and (b)
``bench/count_server.py``, each in its own process. Each figure is the median of ``--repeat``
runs of ``--batches`` batches; each run checks that the server accepted (or counted) every
message. The client's encoding is not timed: the bodies are built before the clock starts.
Next to msg/s (wall time, which on a shared machine carries the wait for a core) it prints
the server process's CPU time per message (from /proc), which moves much less with load.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench._support import RunningServer, start_fake  # noqa: E402
from segadmin.segment.messages import build_message  # noqa: E402

WRITE_KEY = "benchThroughputKey00000000000001"


def bodies(batches: int, size: int, *, compress: bool) -> list[bytes]:
    """``batches`` distinct /v1/batch bodies (no message ID repeats: the fake would drop
    repeats as duplicates)."""
    built = []
    for b in range(batches):
        batch = []
        for i in range(b * size, (b + 1) * size):
            traits = {
                "email": f"user{i}@example.com",
                "plan": ("free", "pro", "team")[i % 3],
                "visits": i % 97,
                "vip": bool(i % 2),
                "signed_up": f"2024-05-{1 + i % 28:02d}T09:30:00Z",
            }
            batch.append(build_message("identify", user_id=f"user-{i}", traits=traits))
        body = json.dumps(
            {"batch": batch, "sentAt": "2024-05-01T09:30:00.000Z"}, separators=(",", ":")
        ).encode()
        built.append(gzip.compress(body, 6) if compress else body)
    return built


def rate(
    server: RunningServer, payloads: list[bytes], size: int, *, compress: bool
) -> tuple[float, float | None]:
    """Messages per second, and the server's CPU microseconds per message (None: unknown)."""
    server.reset()
    server.add_write_key(WRITE_KEY)
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode(),
    }
    if compress:
        headers["Content-Encoding"] = "gzip"
    with requests.Session() as session:
        session.post(f"{server.url}/v1/identify", data=b"{}", headers=headers, timeout=30)
        server.reset()  # the warm-up request above opened the connection; forget it
        server.add_write_key(WRITE_KEY)
        cpu_before = server.cpu_seconds()
        started = time.perf_counter()
        for payload in payloads:
            response = session.post(f"{server.url}/v1/batch", data=payload, headers=headers)
            response.raise_for_status()
        elapsed = time.perf_counter() - started
    expected = len(payloads) * size
    got = server.accepted()  # the counting server answers once it has counted everything
    cpu_after = server.cpu_seconds()
    if got != expected:
        raise SystemExit(f"{server.url} accepted {got} of {expected} messages")
    cpu = None
    if cpu_before is not None and cpu_after is not None:
        cpu = (cpu_after - cpu_before) / expected * 1e6
    return expected / elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batches", type=int, default=50, help="batches per run")
    parser.add_argument("--size", type=int, default=1000, help="messages per batch")
    parser.add_argument("--gzip", action="store_true", help="gzip the bodies")
    options = parser.parse_args()
    payloads = bodies(options.batches, options.size, compress=options.gzip)
    mean_kb = sum(map(len, payloads)) / len(payloads) / 1024
    print(
        f"{options.batches} batches of {options.size:,} Identify messages "
        f"({mean_kb:.0f} KB{' gzipped' if options.gzip else ''} each), "
        f"median of {options.repeat} runs"
    )
    figures = {}
    for name, count_only in (("fake_segment", False), ("count_server", True)):
        with start_fake(count_only=count_only) as server:
            runs = [
                rate(server, payloads, options.size, compress=options.gzip)
                for _ in range(options.repeat)
            ]
        rates = [r for r, _ in runs]
        figures[name] = statistics.median(rates)
        cpus = [c for _, c in runs if c is not None]
        cpu = f", server CPU {statistics.median(cpus):.1f} µs/msg" if cpus else ""
        listed = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"  {name:<13} {figures[name]:>9,.0f} msg/s  (runs: {listed}{cpu})")
    ratio = figures["fake_segment"] / figures["count_server"]
    print(f"  the fake takes {ratio:.2f} of what the counting server takes")


if __name__ == "__main__":
    main()
