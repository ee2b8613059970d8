"""The benchmarks' shared tools: the counting server, starting a server in its own process, the
stopwatch of call_screens.py --breakdown, and the environment the benchmarks run Django in."""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Iterator

import pytest
import requests

from bench import count_server
from bench._support import start_fake, use_bench_environment


@pytest.fixture
def counting_url() -> Iterator[str]:
    server = count_server.Server(("127.0.0.1", 0))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_the_counting_server_counts_batch_items_over_one_kept_alive_connection(counting_url):
    batch = json.dumps({"batch": [{"type": "track"}] * 3}).encode()
    with requests.Session() as session:
        answers = [
            session.post(f"{counting_url}/v1/batch", data=batch, timeout=5),
            session.post(
                f"{counting_url}/v1/import",
                data=gzip.compress(batch),
                headers={"Content-Encoding": "gzip"},
                timeout=5,
            ),
            session.post(f"{counting_url}/v1/identify", json={"userId": "u"}, timeout=5),
            session.post(f"{counting_url}/v1/batch", data=b"{not json", timeout=5),
        ]
        state = session.get(f"{counting_url}/_fake/state", timeout=5).json()
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert answers[0].json() == {"success": True}
    assert state == {"counts": {"accepted": 7}, "messages": 0, "requests": 4}


def test_the_counting_server_resets_and_answers_unknown_routes_404(counting_url):
    requests.post(f"{counting_url}/v1/track", json={"event": "E"}, timeout=5)
    assert requests.post(f"{counting_url}/_fake/reset", timeout=5).json() == {"reset": True}
    assert requests.get(f"{counting_url}/_fake/state", timeout=5).json()["counts"] == {
        "accepted": 0
    }
    assert requests.get(f"{counting_url}/v1/nothing", timeout=5).status_code == 404


def test_start_fake_runs_the_counting_server_in_its_own_process_until_stopped():
    with start_fake(count_only=True) as server:
        server.reset()
        server.add_write_key("anything")
        body = {"batch": [{"type": "identify", "userId": "u"}] * 5}
        assert requests.post(f"{server.url}/v1/batch", json=body, timeout=5).status_code == 200
        assert server.accepted() == 5
        assert server.env()["SEGMENT_TRACKING_API_URL"] == server.url
        process = server.process
    assert process.poll() is not None  # stopped on leaving the block


def test_start_fake_runs_manage_py_fake_segment_and_returns_once_it_answers():
    with start_fake(count_only=False) as fake:
        fake.add_write_key("benchKey")
        body = {"batch": [{"type": "identify", "userId": "u"}, {"type": "track", "userId": "u"}]}
        answer = requests.post(f"{fake.url}/v1/batch", json=body, auth=("benchKey", ""), timeout=5)
        assert answer.status_code == 200
        assert fake.accepted() == 1  # the Track without an event is dropped, as Segment would
        fake.reset()
        assert fake.accepted() == 0


def test_an_unknown_bench_sink_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("BENCH_SINK", "counting")
    with pytest.raises(SystemExit, match="BENCH_SINK is 'counting': use 'fake' or 'count'"):
        start_fake()


def test_the_stopwatch_sums_a_posts_spans_per_label_and_keeps_none_from_the_warm_up(monkeypatch):
    from types import SimpleNamespace

    from bench import _stopwatch

    clock = iter([0.0, 0.002, 0.010, 0.013, 0.020, 0.021])  # three calls: 2 ms, 3 ms, 1 ms
    monkeypatch.setattr(_stopwatch, "perf_counter", lambda: next(clock))
    watch = _stopwatch.Stopwatch()
    owner = SimpleNamespace(work=lambda n: n * 2)
    watch.wrap(owner, "work", "two entries")

    watch.begin("warm-up")
    assert owner.work(1) == 2
    watch.end(keep=False)
    watch.begin("identify")
    assert owner.work(2) == 4
    assert owner.work(3) == 6
    watch.end()

    assert watch.median("identify", "two entries") == pytest.approx(4.0)
    assert watch.median("warm-up", "two entries") == 0.0
    assert watch.median("identify", "view") == 0.0


BENCH_VARIABLES = (
    "DJANGO_SETTINGS_MODULE",
    "SEGADMIN_ENV_FILE",
    "DEBUG",
    "SECRET_KEY",
    "SEGADMIN_ENCRYPTION_KEYS",
    "SEGADMIN_AUDIT_KEY",
    "DATABASE_URL",
    "ALLOWED_HOSTS",
    "STATICFILES_BACKEND",
    "LOG_LEVEL",
    "SEGADMIN_REQUIRE_MFA",
)


@pytest.fixture
def bench_variables(monkeypatch):
    """None of the variables use_bench_environment sets, and all of them put back afterwards."""
    for name in BENCH_VARIABLES:
        monkeypatch.setenv(name, "")  # remembers the value before, put back after the test
        monkeypatch.delenv(name)


def test_the_bench_environment_uses_its_own_sqlite_file_and_plain_static_storage(
    bench_variables, tmp_path
):
    database = tmp_path / "results" / "bench.sqlite3"
    use_bench_environment(database)
    assert database.parent.is_dir()
    assert os.environ["DATABASE_URL"] == f"sqlite:///{database}"
    assert os.environ["DJANGO_SETTINGS_MODULE"] == "segadmin.settings"
    assert os.environ["SEGADMIN_ENV_FILE"] == "none"
    assert os.environ["DEBUG"] == "false"
    assert os.environ["ALLOWED_HOSTS"] == "testserver"
    assert os.environ["STATICFILES_BACKEND"] == (
        "django.contrib.staticfiles.storage.StaticFilesStorage"
    )
    assert os.environ["LOG_LEVEL"] == "WARNING"
    for key in ("SECRET_KEY", "SEGADMIN_ENCRYPTION_KEYS", "SEGADMIN_AUDIT_KEY"):
        assert os.environ[key]
    assert "SEGADMIN_REQUIRE_MFA" not in os.environ  # the settings' default


def test_the_bench_environment_keeps_the_callers_database_and_keys(
    bench_variables, monkeypatch, tmp_path
):
    callers = {
        "DATABASE_URL": "postgres://bench@127.0.0.1/bench",
        "SECRET_KEY": "the-callers-secret-key",
        "SEGADMIN_ENV_FILE": ".env",
        "ALLOWED_HOSTS": "example.com",
        "SEGADMIN_REQUIRE_MFA": "true",
    }
    for name, value in callers.items():
        monkeypatch.setenv(name, value)
    use_bench_environment(
        tmp_path / "unused.sqlite3", allowed_hosts="testserver,localhost", require_mfa=False
    )
    assert os.environ["DATABASE_URL"] == "postgres://bench@127.0.0.1/bench"
    assert os.environ["SECRET_KEY"] == "the-callers-secret-key"
    assert os.environ["SEGADMIN_REQUIRE_MFA"] == "true"
    assert os.environ["SEGADMIN_ENV_FILE"] == "none"  # never a .env
    assert os.environ["ALLOWED_HOSTS"] == "testserver,localhost"


def test_the_bench_environment_can_let_admins_in_without_a_second_factor(bench_variables, tmp_path):
    use_bench_environment(tmp_path / "bench.sqlite3", require_mfa=False)
    assert os.environ["SEGADMIN_REQUIRE_MFA"] == "false"
