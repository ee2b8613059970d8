"""What the benchmarks share: the local fake of Segment (or the counting server) in its own
process, on a free loopback port.

    with start_fake() as fake:            # manage.py fake_segment
        os.environ.update(fake.env())     # point segadmin (and its subprocesses) at it
        ...fake.url...

The server runs in its own process so that it does not share the interpreter lock with the
code being measured. ``start_fake(count_only=True)``, or ``BENCH_SINK=count`` in the
environment for a benchmark that does not ask, starts ``bench/count_server.py`` instead: it
counts the messages of each request without checking or storing them, so the figure is the
sender's alone. Both answer the control calls the benchmarks use (``/_fake/reset``,
``/_fake/write_keys``, ``/_fake/state`` with ``counts.accepted``).

The benchmarks that run Django in their own process call ``use_bench_environment`` first,
before ``django.setup()``: the settings module, fixed keys, their own SQLite file (never the
development database) and plain static storage.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"  # ignored by git: absent in a fresh checkout
SINKS = ("fake", "count")  # BENCH_SINK: what the benchmarks send to
STARTUP_SECONDS = 60.0  # Django's start-up on a loaded 2-core machine can take several seconds


def use_bench_environment(
    sqlite_file: Path,
    *,
    allowed_hosts: str = "testserver",
    require_mfa: bool | None = None,
) -> None:
    """Set the environment Django reads its settings from, for a benchmark in this process.

    Values the caller's environment already has win (DATABASE_URL=postgres://... to measure
    PostgreSQL), except that no ``.env`` file is read, static files use plain storage (no
    ``collectstatic`` needed to render pages) and ``ALLOWED_HOSTS`` is ``allowed_hosts`` (the
    test Client's ``testserver``). Without DATABASE_URL the database is ``sqlite_file``; its
    folder is made if missing. ``require_mfa=False`` lets Admins without a second factor in
    (with DEBUG off they would be sent to set one up); None leaves the settings' default.
    """
    sqlite_file.parent.mkdir(exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segadmin.settings")
    os.environ["SEGADMIN_ENV_FILE"] = "none"
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "benchmark-secret-key-not-for-production-0123456789")
    # A fixed Fernet key and audit key for benchmarks only (never used outside them).
    os.environ.setdefault(
        "SEGADMIN_ENCRYPTION_KEYS", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktMDAwMDA="
    )
    os.environ.setdefault("SEGADMIN_AUDIT_KEY", "benchmark-audit-key-not-for-production-0123456789")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{sqlite_file}")
    os.environ["ALLOWED_HOSTS"] = allowed_hosts
    os.environ["STATICFILES_BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if require_mfa is not None:
        os.environ.setdefault("SEGADMIN_REQUIRE_MFA", str(require_mfa).lower())


def _server_environment() -> dict[str, str]:
    """The benchmark's environment, plus what lets Django start without a .env: the fake
    needs no secret (it never sees the project's database or keys)."""
    env = {**os.environ}
    env.setdefault("SEGADMIN_ENV_FILE", "none")
    if "SECRET_KEY" not in env:
        env["DEBUG"] = "true"
    return env


def free_port() -> int:
    """A port nobody listens on now; the server binds it a moment later (a race we accept on
    a benchmark machine, for a server whose readiness we can then poll on a known URL)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningServer:
    """The fake (or the counting server) in its own process, answering on ``url``."""

    def __init__(self, *, count_only: bool = False, seed_demo: bool = False) -> None:
        self.count_only = count_only
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        if count_only:
            command = [sys.executable, str(ROOT / "bench" / "count_server.py"), "--port"]
        else:
            # --skip-checks: the fake touches no database, and the model checks would open
            # the benchmark's (which may not exist yet).
            command = [sys.executable, "manage.py", "fake_segment", "--skip-checks", "--port"]
        command.append(str(port))
        if seed_demo and not count_only:
            command.append("--seed-demo")
        # stderr goes to a file, not a pipe: nobody reads it while the benchmark runs, and a
        # full pipe would stall the server. Closed by stop().
        self._errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self._errors,
            env=_server_environment(),
        )
        try:
            self._wait_until_it_answers()
        except BaseException:
            self.stop()
            raise

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._errors.seek(0)
                raise SystemExit(
                    f"the server exited with {self.process.returncode}: {self._errors.read()}"
                )
            try:
                self.call("/_fake/state", timeout=1)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        raise SystemExit(f"the server did not answer on {self.url} within {STARTUP_SECONDS} s")

    def call(self, path: str, data: dict | None = None, *, timeout: float = 30) -> Any:
        """One control call: GET without ``data``, else POST it as JSON; the JSON answer."""
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(data).encode() if data is not None else None,
            method="POST" if data is not None else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        self.call("/_fake/reset", {})

    def add_write_key(self, key: str) -> None:
        self.call("/_fake/write_keys", {"key": key})

    def accepted(self) -> int:
        return self.call("/_fake/state")["counts"].get("accepted", 0)

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the server's process has used so far; None where there is
        no /proc. On a shared machine this moves much less than wall time."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # Fields 14 and 15 of proc(5) (utime, stime) are the 12th and 13th after the name.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def env(self) -> dict[str, str]:
        """Environment variables pointing segadmin (or its subprocesses) at this server."""
        return {
            "SEGMENT_TRACKING_API_URL": self.url,
            "SEGMENT_PUBLIC_API_URL": self.url,
            "SEGMENT_PROFILES_API_URL": self.url,
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._errors.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_fake(*, count_only: bool | None = None, seed_demo: bool = False) -> RunningServer:
    """Start the fake (``manage.py fake_segment``) or, with ``count_only`` (default: the
    ``BENCH_SINK=count`` environment variable), the counting server; return once it answers."""
    if count_only is None:
        sink = os.environ.get("BENCH_SINK", "fake")
        if sink not in SINKS:
            raise SystemExit(f"BENCH_SINK is {sink!r}: use {' or '.join(map(repr, SINKS))}.")
        count_only = sink == "count"
    return RunningServer(count_only=count_only, seed_demo=seed_demo)
