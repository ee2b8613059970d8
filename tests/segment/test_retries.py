"""Segment's retry policy (segment-api.md §5) through urllib3's Retry, faked with `responses`."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import responses

from segadmin.segment import client
from segadmin.segment.messages import build_message

URL = "https://api.segment.io/v1/track"


def request() -> client.SegmentRequest:
    message = build_message("track", user_id="u1", event="E")
    return client.tracking_request(message, write_key="WK", region="us")


def answer(*statuses: int, headers: dict | None = None) -> responses.RequestsMock:
    for status in statuses:
        responses.post(URL, status=status, json={}, headers=headers or {})


@pytest.mark.parametrize("status", [408, 410, 429, 460, 500, 502, 503, 504, 599])
@responses.activate
def test_transient_statuses_are_retried(status):
    answer(status, 200)
    result = client.send(request(), profile=client.BACKGROUND)
    assert (result.status, result.attempts, len(responses.calls)) == (200, 2, 2)
    assert result.ok


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422, 501, 505, 511])
@responses.activate
def test_final_statuses_are_not_retried(status):
    answer(status, 200)
    result = client.send(request(), profile=client.BACKGROUND)
    assert (result.status, result.attempts, len(responses.calls)) == (status, 1, 1)
    assert not result.ok


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@responses.activate
def test_a_redirect_is_a_failure_that_is_neither_followed_nor_retried(status):
    responses.post(URL, status=status, headers={"Location": "https://elsewhere.test/"})
    result = client.send(request(), profile=client.BACKGROUND)
    assert (result.status, result.attempts, len(responses.calls)) == (status, 1, 1)
    assert not result.ok


@responses.activate
def test_a_413_with_retry_after_is_still_not_retried():
    answer(413, 200, headers={"Retry-After": "1"})
    assert client.send(request(), profile=client.BACKGROUND).attempts == 1


@responses.activate
def test_the_background_profile_makes_ten_retries_then_reports_the_last_answer():
    answer(*[500] * 12)
    result = client.send(request(), profile=client.BACKGROUND)
    assert (result.status, result.attempts, len(responses.calls)) == (500, 11, 11)


@responses.activate
def test_backoff_is_immediate_then_doubles_from_half_a_second_capped_at_a_minute():
    answer(*[503] * 11)
    result = client.send(request(), profile=client.BACKGROUND)
    assert result.waits[0] == 0
    for wait, base in zip(result.waits[1:], [0.5, 1, 2, 4, 8, 16, 32, 60, 60], strict=True):
        assert base <= wait <= min(60, base * 1.1)


def test_backoff_can_be_tuned_for_fast_tests():
    quick = dataclasses.replace(client.BACKGROUND, backoff_first=0.01, backoff_max=0.02, jitter=0)
    assert [quick.backoff(n) for n in range(1, 5)] == [0, 0.01, 0.02, 0.02]


@responses.activate
def test_retry_after_in_seconds_is_respected():
    answer(429, 200, headers={"Retry-After": "7"})
    result = client.send(request(), profile=client.BACKGROUND)
    assert (result.attempts, result.waits) == (2, (7,))


@responses.activate
def test_retry_after_as_an_http_date_is_respected():
    later = datetime.now(tz=UTC) + timedelta(seconds=30)
    answer(503, 200, headers={"Retry-After": format_datetime(later, usegmt=True)})
    result = client.send(request(), profile=client.BACKGROUND)
    assert result.attempts == 2
    assert 28 <= result.waits[0] <= 30


@responses.activate
def test_retry_after_is_capped_at_300_seconds():
    answer(429, 200, headers={"Retry-After": "86400"})
    assert client.send(request(), profile=client.BACKGROUND).waits == (300,)


@responses.activate
def test_an_unreadable_retry_after_falls_back_to_the_backoff():
    answer(429, 429, 200, headers={"Retry-After": "soon"})
    result = client.send(request(), profile=client.BACKGROUND)
    assert result.attempts == 3
    assert result.waits[0] == 0 and 0.5 <= result.waits[1] <= 0.55


@responses.activate
def test_each_retry_carries_x_retry_count():
    seen: list[str | None] = []

    def callback(prepared):
        seen.append(prepared.headers.get("X-Retry-Count"))
        return (500 if len(seen) < 3 else 200, {}, "{}")

    responses.add_callback(responses.POST, URL, callback=callback)
    result = client.send(request(), profile=client.BACKGROUND)
    assert result.attempts == 3
    assert seen == [None, "1", "2"]


@responses.activate
def test_the_interactive_profile_makes_at_most_one_quick_retry():
    answer(500, 500, 200)
    result = client.send(request())
    assert (result.status, result.attempts, len(responses.calls)) == (500, 2, 2)


@responses.activate
def test_the_interactive_profile_recovers_with_its_one_retry():
    answer(503, 200)
    result = client.send(request(), profile=client.INTERACTIVE)
    assert (result.status, result.attempts, result.waits) == (200, 2, (0,))


@responses.activate
def test_the_interactive_profile_does_not_wait_out_a_long_retry_after():
    answer(429, 200, headers={"Retry-After": "30"})
    result = client.send(request(), profile=client.INTERACTIVE)
    assert (result.status, result.attempts) == (429, 1)


@responses.activate
def test_the_interactive_profile_waits_out_a_short_retry_after():
    answer(429, 200, headers={"Retry-After": "1"})
    result = client.send(request(), profile=client.INTERACTIVE)
    assert (result.status, result.attempts, result.waits) == (200, 2, (1,))


@responses.activate
def test_no_interactive_retry_starts_that_could_end_after_the_deadline(monkeypatch):
    clock = itertools.chain([100.0], itertools.repeat(102.5))
    monkeypatch.setattr(client.transport.time, "monotonic", lambda: next(clock))
    answer(500, 200)
    result = client.send(request(), profile=client.INTERACTIVE)
    # 2.5 s spent + a worst-case attempt (3 s connect + 5 s read) > 10 s: no retry.
    assert (result.status, result.attempts) == (500, 1)


def test_the_interactive_profile_is_bounded_by_about_ten_seconds():
    profile = client.INTERACTIVE
    assert profile.max_retries == 1
    assert (profile.connect_timeout, profile.read_timeout) == (3.0, 5.0)
    assert profile.deadline is not None and profile.deadline <= 10
    assert profile.retry_after_cap <= 2 and profile.give_up_over_cap


@responses.activate
def test_a_result_reports_status_headers_body_and_duration():
    responses.post(URL, status=200, json={"success": True}, headers={"X-Thing": "1"})
    result = client.send(request())
    assert result.ok and result.error is None
    assert result.json() == {"success": True}
    assert result.text() == '{"success": true}'
    assert result.headers["X-Thing"] == "1"
    assert result.duration_ms >= 0
