"""The local fake's regulations and suppressions (segment-api-more.md §2), over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import deque

import pytest

TOKEN = "sgp_fake_privacy_token_0000000000000000"


def call(fake, method: str, path: str, body=None, token: str = TOKEN):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(fake.url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


@pytest.fixture
def fake(fake_segment):
    fake_segment.add_workspace(TOKEN, id="ws_1")
    fake_segment.add_source(id="src_1", token=TOKEN, write_keys=["wk"])
    return fake_segment


def create(fake, ids, kind="SUPPRESS_WITH_DELETE", subject="USER_ID", path="/regulations"):
    body = {"regulationType": kind, "subjectType": subject, "subjectIds": ids}
    return call(fake, "POST", path, body)


def status_of(fake, regulate_id):
    answer = call(fake, "GET", f"/regulations/{regulate_id}")[1]
    return answer["data"]["regulation"]["overallStatus"]


def test_a_create_answers_a_regulate_id_with_the_quota_headers(fake):
    status, body, headers = create(fake, ["u1", "u2"])
    assert status == 200
    assert body["data"]["regulateId"]
    assert headers["X-RateLimit-Remaining"] == "109998"
    assert headers["X-RateLimit-Reset"].endswith("GMT")


@pytest.mark.parametrize(
    ("body_change", "words"),
    [
        ({"regulationType": "DELETE_ARCHIVE_ONLY"}, "regulationType"),
        ({"regulationType": "BURN"}, "regulationType"),
        ({"subjectType": "ANONYMOUS_ID"}, "subjectType"),
        ({"subjectIds": []}, "subjectIds"),
        ({"subjectIds": [f"u{i}" for i in range(5001)]}, "at most 5000"),
        ({"subjectIds": ["u1", 7]}, "strings"),
    ],
)
def test_a_workspace_create_is_checked(fake, body_change, words):
    body = {"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": ["u1"]}
    status, answer, _ = call(fake, "POST", "/regulations", {**body, **body_change})
    assert status == 422
    assert words in answer["errors"][0]["message"]


def test_a_source_create_takes_its_own_types_and_an_unknown_source_is_404(fake):
    path = "/regulations/sources/src_1"
    assert create(fake, ["u1"], kind="DELETE_ARCHIVE_ONLY", path=path)[0] == 200
    assert create(fake, ["u1"], path="/regulations/sources/src_nope")[0] == 404
    status, answer, _ = create(fake, ["a1"], subject="ANONYMOUS_ID", path=path)
    assert status == 422 and "DELETE_ARCHIVE_ONLY" in answer["errors"][0]["message"]


def test_statuses_move_on_each_read_to_finished_or_the_outcome_set(fake):
    regulate_id = create(fake, ["u1"])[1]["data"]["regulateId"]
    seen = [status_of(fake, regulate_id) for _ in range(3)]
    assert seen == ["RUNNING", "FINISHED", "FINISHED"]
    fake.state.regulations.outcome[TOKEN] = "FAILED"
    failing = create(fake, ["u2"])[1]["data"]["regulateId"]
    call(fake, "GET", f"/regulations/{failing}")
    regulation = call(fake, "GET", f"/regulations/{failing}")[1]["data"]["regulation"]
    assert regulation["overallStatus"] == "FAILED" and regulation["finishedAt"]


def test_the_control_api_sets_a_status_and_holds_statuses_still(fake):
    regulate_id = create(fake, ["u1"])[1]["data"]["regulateId"]
    assert call(fake, "POST", "/_fake/regulations", {"token": TOKEN, "advance": "manual"})[0] == 200
    call(fake, "GET", f"/regulations/{regulate_id}")
    assert status_of(fake, regulate_id) == "INITIALIZED"
    assert call(fake, "POST", f"/_fake/regulations/{regulate_id}", {"status": "FAILED"})[0] == 200
    listed = call(fake, "GET", "/regulations?status=FAILED")[1]["data"]["regulations"]
    assert [r["id"] for r in listed] == [regulate_id]
    assert call(fake, "GET", "/_fake/regulations")[1]["regulations"][0]["status"] == "FAILED"


def test_suppressions_follow_suppress_and_unsuppress(fake):
    create(fake, ["u1", "u2"], kind="SUPPRESS_ONLY")
    create(fake, ["u1"], kind="UNSUPPRESS")
    status, body, _ = call(fake, "GET", "/suppressions")
    assert status == 200
    assert body["data"]["suppressed"] == [{"subjectType": "USER_ID", "subjectIds": ["u2"]}]


def test_a_token_without_the_privacy_scope_gets_403_everywhere(fake):
    call(fake, "POST", "/_fake/regulations", {"token": TOKEN, "privacy": False})
    assert create(fake, ["u1"])[0] == 403
    assert call(fake, "GET", "/suppressions")[0] == 403
    assert call(fake, "GET", "/regulations")[0] == 403


def test_an_exhausted_quota_is_a_429_with_the_quota_headers(fake):
    call(fake, "POST", "/_fake/regulations", {"token": TOKEN, "quota": 3})
    assert create(fake, ["u1", "u2"])[0] == 200
    status, body, headers = create(fake, ["u3", "u4"])
    assert status == 429
    assert headers["X-RateLimit-Remaining"] == "1"
    assert "1 users left" in body["errors"][0]["message"]
    # The other category has its own quota.
    assert create(fake, ["u3", "u4"], kind="SUPPRESS_ONLY")[0] == 200


def test_the_create_rate_limit_is_a_429_with_retry_after(fake):
    fake.state.regulations.creates[TOKEN] = deque([time.monotonic()] * 600)
    status, _, headers = create(fake, ["u1"])
    assert status == 429 and int(headers["Retry-After"]) >= 1
