"""Real commits: the request is durable before it leaves, and concurrent senders share one chain."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.db import connection, connections

from segadmin import sending
from segadmin.audit.chain import verify_chain
from segadmin.audit.log import Actor, record_event
from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Source
from segadmin.segment import client
from segadmin.segment.client import SendResult
from segadmin.segment.messages import build_message
from tests import factories
from tests.audit.conftest import postgres_only

pytestmark = pytest.mark.django_db(transaction=True)

SENDERS = 20


def make_source() -> Source:
    return factories.make_source("My site", "wk_concurrency_0123456789")


def ok(request, *, profile) -> SendResult:
    time.sleep(random.uniform(0, 0.02))  # let the threads interleave around the HTTP call
    return SendResult(
        status=200, headers={}, body=b'{"success":true}', attempts=1, duration_ms=1.0, error=None
    )


def in_other_connection(fn):
    """Run fn in a fresh thread (so a fresh database connection) and return its result."""
    box: list = []

    def run() -> None:
        try:
            box.append(fn())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return box[0]


def test_the_request_entry_is_committed_before_the_request_leaves(monkeypatch):
    source = make_source()
    seen_by_others: list[list] = []

    def watching_send(request, *, profile):
        seen_by_others.append(
            in_other_connection(
                lambda: list(AuditEntry.objects.values_list("kind", "outcome", "event"))
            )
        )
        return ok(request, profile=profile)

    monkeypatch.setattr(client, "send", watching_send)
    message = build_message("track", user_id="u-1", event="Signed Up")
    sending.send_message(actor=Actor.system("tests"), source=source, message=message)

    assert seen_by_others == [[("request", None, "Signed Up")]]
    assert AuditEntry.objects.get(kind=Kind.REQUEST).outcome == "sent"


@postgres_only
def test_twenty_concurrent_senders_each_leave_one_entry_and_the_chain_holds(monkeypatch):
    source = make_source()
    monkeypatch.setattr(client, "send", ok)
    start = threading.Barrier(SENDERS)
    errors: list[BaseException] = []
    message_ids: list[str] = []

    def sender(number: int) -> None:
        try:
            message = build_message("track", user_id=f"u-{number}", event="Concurrent")
            message_ids.append(message["messageId"])
            start.wait()
            sending.send_message(
                actor=Actor.system(f"sender {number}"), source=source, message=message
            )
            if number % 4 == 0:  # credential events interleave with requests
                record_event(
                    actor=Actor.system(f"sender {number}"),
                    action="credential.changed",
                    target_type="source",
                    target_id=source.pk,
                    target_name=source.name,
                )
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    requests = list(
        AuditEntry.objects.filter(kind=Kind.REQUEST).values_list("message_id", flat=True)
    )
    assert sorted(requests) == sorted(message_ids)
    assert AuditEntry.objects.filter(kind=Kind.OUTCOME).count() == SENDERS
    assert AuditEntry.objects.filter(kind=Kind.EVENT).count() == SENDERS // 4
    total = SENDERS * 2 + SENDERS // 4
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, total + 1)
    )
    assert set(AuditEntry.objects.filter(kind=Kind.REQUEST).values_list("outcome", flat=True)) == {
        "sent"
    }
    report = verify_chain()
    assert report.ok, str(report)
    assert report.count == total


CHILD = """
import django, os, sys
django.setup()
from segadmin.audit.log import Actor
from segadmin import sending
from segadmin.credentials.models import Source
from segadmin.segment.messages import build_message
sending.send_message(
    actor=Actor.system("doomed worker"),
    source=Source.objects.get(pk=int(sys.argv[1])),
    message=build_message("track", user_id="u-killed", event="Never Answered"),
)
"""


@postgres_only
def test_a_process_killed_while_waiting_for_segment_leaves_no_answer_recorded():
    # A real process, a real kill -9: the entry it committed before sending stays, without
    # an outcome. (PostgreSQL only: the SQLite test database lives in this process's memory.)
    source = make_source()
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "segadmin.settings",
            "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(
                **connection.settings_dict
            ),
            "SEGMENT_TRACKING_API_URL": f"http://127.0.0.1:{silent.getsockname()[1]}",
        }
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(source.pk)], env=env, cwd=settings.BASE_DIR
        )
        try:
            silent.settimeout(60)
            accepted, _ = silent.accept()  # the request has left
            with accepted:
                entry = AuditEntry.objects.get(kind=Kind.REQUEST)  # already committed
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.event == "Never Answered"
    assert entry.outcome is None
    assert entry.outcome_label == "no answer recorded"
    assert not AuditEntry.objects.filter(kind=Kind.OUTCOME).exists()
    assert verify_chain().ok
