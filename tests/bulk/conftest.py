"""Bulk import fixtures: a source known to the fake, uploads, and real db_worker processes.

Tests that run ``manage.py db_worker`` in a subprocess need a database both processes can
open: on SQLite the test database is therefore a file (named per pytest process, removed at
exit) instead of pytest-django's shared in-memory one; on PostgreSQL the test database is
shared already.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from segadmin.credentials.models import Source
from tests.factories import make_source

ROOT = Path(__file__).resolve().parents[2]
WRITE_KEY = "wk_bulk_test_0123456789abcdef"
SQLITE = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"

if SQLITE:
    _test_file = Path(f"/tmp/segadmin-test-bulk-{os.getuid()}-{os.getpid()}.sqlite3")
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(_test_file)

    @atexit.register
    def _remove_test_file() -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{_test_file}{suffix}").unlink()


postgres_only = pytest.mark.skipif(
    SQLITE,
    reason="two workers claiming chunks at once needs PostgreSQL (SELECT ... FOR UPDATE SKIP "
    "LOCKED); run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/segadmin_bulk",
)


@pytest.fixture
def source(db: None, fake_segment: Any) -> Source:
    fake_segment.add_write_key(WRITE_KEY, "src_bulk")
    return make_source("Bulk site", WRITE_KEY)


def csv_text(header: list[str], rows: list[list[Any]]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def upload(
    client: Any,
    content: bytes,
    *,
    name: str = "users.csv",
    call_type: str = "identify",
    source: Source,
) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/bulk/",
        {
            "file": SimpleUploadedFile(name, content, content_type="text/csv"),
            "call_type": call_type,
            "source": source.pk,
        },
    )


def mapping_post(job: Any, overrides: dict[str, dict] | None = None, **extra: str) -> dict:
    """The mapping form's data as proposed, with per-column overrides."""
    data: dict[str, str] = dict(extra)
    overrides = overrides or {}
    for index, item in enumerate(job.mapping):
        item = {**item, **overrides.get(item["column"], {})}
        data[f"target_{index}"] = item["target"]
        data[f"type_{index}"] = item["type"]
        if item.get("empty_null"):
            data[f"null_{index}"] = "on"
        if item.get("property"):
            data[f"property_{index}"] = item["property"]
    return data


def database_url() -> str:
    """The test database, as DATABASE_URL for a subprocess."""
    db = connection.settings_dict
    if SQLITE:
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def start_worker(fake_segment: Any) -> Iterator[Callable[..., subprocess.Popen]]:
    """start_worker(*args, env={...}) runs `manage.py db_worker` against the test database and
    the fake; every worker still running at the end of the test is stopped."""
    started: list[subprocess.Popen] = []

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        environment = {
            **os.environ,
            **fake_segment.env(),
            "DATABASE_URL": database_url(),
            **(env or {}),
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.1",
                "--verbosity",
                "0",
                *args,
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def wait_for(condition: Callable[[], Any], *, timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
