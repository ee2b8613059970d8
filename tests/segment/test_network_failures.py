"""Network failures come back as results with a readable reason, never as tracebacks."""

from __future__ import annotations

import dataclasses
import socket

import urllib3.util.connection

from segadmin.segment import client
from segadmin.segment.messages import build_message

QUICK = dataclasses.replace(client.BACKGROUND, max_retries=2, backoff_first=0.001)


def request() -> client.SegmentRequest:
    message = build_message("identify", user_id="u1")
    return client.tracking_request(message, write_key="WK", region="us")


def test_a_refused_connection_is_a_result_and_is_retried(settings, refused_url):
    settings.SEGMENT_TRACKING_API_URL = refused_url
    result = client.send(request(), profile=QUICK)
    assert (result.status, result.error, result.attempts) == (None, "connection refused", 3)
    assert not result.ok and result.json() is None and result.body == b""


def test_a_server_that_never_answers_times_out(settings):
    # A listening socket nobody accepts from: the connection opens, no answer ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.SEGMENT_TRACKING_API_URL = f"http://127.0.0.1:{silent.getsockname()[1]}"
        profile = dataclasses.replace(QUICK, read_timeout=0.2, max_retries=1)
        result = client.send(request(), profile=profile)
    assert (result.status, result.error, result.attempts) == (None, "timed out after 0.2 s", 2)
    assert result.duration_ms >= 400


def test_a_dropped_connection_reads_as_reset(fake_segment):
    fake_segment.add_write_key("WK")
    fake_segment.queue_faults(["drop", "drop", "drop"])
    result = client.send(request(), profile=QUICK)
    assert (result.status, result.error, result.attempts) == (None, "connection reset", 3)
    assert fake_segment.received() == []


def test_a_dropped_connection_then_an_answer_succeeds_on_retry(fake_segment):
    fake_segment.add_write_key("WK")
    fake_segment.queue_faults(["drop"])
    result = client.send(request())
    assert (result.status, result.attempts) == (200, 2)
    assert len(fake_segment.received(status="accepted")) == 1


def test_a_failed_dns_lookup_is_named(settings, monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    settings.SEGMENT_TRACKING_API_URL = "http://segment.invalid"
    result = client.send(request(), profile=QUICK)
    assert (result.status, result.error) == (None, "DNS lookup failed")


def test_a_connect_timeout_is_named_with_its_limit(settings, monkeypatch):
    def slow_connect(*args, **kwargs):
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", slow_connect)
    settings.SEGMENT_TRACKING_API_URL = "http://127.0.0.1:9"
    result = client.send(request(), profile=client.INTERACTIVE)
    assert (result.status, result.error) == (None, "connection timed out after 3 s")


def test_a_misconfigured_base_url_is_a_result(settings):
    settings.SEGMENT_TRACKING_API_URL = "not a url"
    result = client.send(request())
    assert result.status is None
    assert result.error == "invalid URL"


def test_a_failure_reason_never_repeats_the_url_or_its_credential(settings, refused_url):
    settings.SEGMENT_PUBLIC_API_URL = refused_url
    raw = client.raw_public_request(
        method="GET",
        path="/sources",
        headers={},
        query={"token": "SECRET-T"},
        body=None,
        token="SECRET-T",
        region="us",
    )
    result = client.send(raw)
    assert "SECRET-T" not in (result.error or "")
    assert "127.0.0.1" not in (result.error or "")
