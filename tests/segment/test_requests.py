"""Request builders: redaction for the audit log, summaries, and the raw request guards.

``SegmentRequest.redacted()`` goes through segadmin.segment.redaction (tested on its own in
test_redaction.py); these tests check that the builders give it everything to remove.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from segadmin.segment import client, hosts
from segadmin.segment.errors import UnsafeRequest
from segadmin.segment.messages import build_message

KEY = "wk_SeCrEt_0123456789abcdef"


def forms_of(secret: str) -> list[str]:
    return [
        secret,
        base64.b64encode(secret.encode()).decode().rstrip("="),
        base64.b64encode(f"{secret}:".encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(f"{secret}:".encode()).decode().rstrip("="),
        quote(secret, safe=""),
        secret.encode().hex(),
    ]


def assert_hidden(value, secret: str = KEY) -> None:
    text = json.dumps(value) + repr(value)
    for form in forms_of(secret):
        assert form not in text


# --- hosts ----------------------------------------------------------------------------------


def test_hosts_follow_the_region(settings):
    settings.SEGMENT_TRACKING_API_URL = ""
    settings.SEGMENT_PUBLIC_API_URL = ""
    settings.SEGMENT_PROFILES_API_URL = ""
    assert hosts.tracking_base("us") == "https://api.segment.io"
    assert hosts.tracking_base("EU") == "https://events.eu1.segmentapis.com"
    assert hosts.public_base("us") == "https://api.segmentapis.com"
    assert hosts.public_base("eu") == "https://eu1.api.segmentapis.com"
    assert hosts.profiles_base("us") == "https://profiles.segment.com"
    assert hosts.profiles_base("eu") == "https://profiles.euw1.segment.com"


def test_settings_override_every_region_without_a_trailing_slash(settings):
    settings.SEGMENT_TRACKING_API_URL = "http://127.0.0.1:9/"
    assert hosts.tracking_base("eu") == "http://127.0.0.1:9"
    request = client.tracking_request(
        build_message("identify", user_id="u"), write_key="k", region="eu"
    )
    assert request.url == "http://127.0.0.1:9/v1/identify"


def test_an_unknown_region_is_refused_clearly():
    with pytest.raises(ValueError, match="use 'us' or 'eu'"):
        hosts.tracking_base("apac")


# --- redaction ------------------------------------------------------------------------------


def test_a_tracking_request_is_redacted_for_the_audit_log():
    message = build_message("track", user_id="u1", event="Bought")
    request = client.tracking_request(message, write_key=KEY, region="us")
    redacted = request.redacted()

    assert redacted["method"] == "POST"
    assert redacted["url"] == "https://api.segment.io/v1/track"
    assert redacted["headers"]["Authorization"] == "Basic ****"
    assert redacted["body"]["writeKey"] == "****"
    assert redacted["body"]["event"] == "Bought"
    assert_hidden(redacted)
    assert KEY in request.body.decode()  # the real request still carries it


def test_a_gzipped_batch_is_decoded_and_redacted():
    batch = [build_message("identify", user_id=f"u{i}") for i in range(3)]
    request = client.batch_request(batch, write_key=KEY, region="us", gzip=True)
    assert request.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(request.body))["writeKey"] == KEY
    redacted = request.redacted()
    assert [m["userId"] for m in redacted["body"]["batch"]] == ["u0", "u1", "u2"]
    assert redacted["body"]["writeKey"] == "****"
    assert_hidden(redacted)


def test_a_public_api_token_is_masked_as_bearer():
    request = client.raw_public_request(
        method="GET", path="/sources", headers={}, query={}, body=None, token=KEY, region="us"
    )
    assert request.redacted()["headers"]["Authorization"] == "Bearer ****"
    assert_hidden(request.redacted())


def test_every_copy_of_the_secret_in_a_raw_request_is_masked():
    request = client.raw_tracking_request(
        method="POST",
        path="/v1/track",
        headers={
            "X-Copy": KEY,
            "X-B64": base64.b64encode(f"{KEY}:".encode()).decode(),
            "X-Hex": KEY.encode().hex(),
        },
        query=[("writeKey", KEY), ("other", quote(KEY, safe=""))],
        body=f'not json, but {KEY} and "writeKey": "{KEY}"',
        write_key=KEY,
        region="us",
    )
    redacted = request.redacted()
    assert_hidden(redacted)
    assert redacted["headers"]["X-Copy"] == "****"
    assert redacted["headers"]["X-Hex"] == "****"
    assert "****" in redacted["url"]


def test_nested_write_keys_and_secrets_inside_values_are_masked():
    body = {"batch": [{"writeKey": "other-key", "traits": {"note": f"key is {KEY}"}}]}
    request = client.raw_tracking_request(
        method="POST",
        path="/v1/batch",
        headers={},
        query={},
        body=json.dumps(body),
        write_key=KEY,
        region="us",
    )
    redacted = request.redacted()["body"]
    assert redacted["batch"][0]["writeKey"] == "****"
    assert redacted["batch"][0]["traits"]["note"] == "key is ****"


def test_repr_of_a_request_never_shows_the_secret():
    request = client.tracking_request(
        build_message("identify", user_id="u"), write_key=KEY, region="us"
    )
    assert_hidden(repr(request))
    assert_hidden(str(request))


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    secret=st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+/=",
        min_size=8,
        max_size=60,
    )
)
def test_no_encoding_of_any_write_key_survives_redaction(secret):
    # A key that is also a piece of the request's own words ("Authoriz", "identify") cannot be
    # told apart from them: such keys prove nothing, so they are skipped.
    plain = client.tracking_request(
        build_message("identify", user_id="u", traits={"echo": "-"}),
        write_key="0" * 32,
        region="us",
    )
    plain_text = json.dumps(plain.redacted())
    assume(not any(form in plain_text for form in forms_of(secret)))
    message = build_message("identify", user_id="u", traits={"echo": secret})
    request = client.tracking_request(message, write_key=secret, region="us")
    redacted = json.dumps(request.redacted())
    for form in forms_of(secret):
        assert form not in redacted


def test_sending_logs_no_secret(fake_segment, caplog):
    fake_segment.add_write_key(KEY)
    fake_segment.queue_faults([500])
    caplog.set_level(logging.DEBUG)
    request = client.raw_tracking_request(
        method="POST",
        path="/v1/track",
        headers={},
        query={"writeKey": KEY},
        body=json.dumps({"userId": "u", "event": "E"}),
        write_key=KEY,
        region="us",
    )
    client.send(request)
    for form in forms_of(KEY):
        assert form not in caplog.text


# --- summary --------------------------------------------------------------------------------


def test_the_summary_gives_the_searchable_ids_of_a_single_call():
    message = build_message("track", user_id="u1", anonymous_id="a1", event="E", message_id="m1")
    request = client.tracking_request(message, write_key=KEY, region="us")
    assert request.summary() == {
        "user_id": "u1",
        "anonymous_id": "a1",
        "event": "E",
        "message_id": "m1",
    }


def test_the_summary_of_a_batch_is_its_first_message():
    batch = [
        build_message("identify", user_id="first", message_id="m1"),
        build_message("identify", user_id="second"),
    ]
    request = client.batch_request(batch, write_key=KEY, region="us", gzip=True)
    assert request.summary() == {
        "user_id": "first",
        "anonymous_id": None,
        "event": None,
        "message_id": "m1",
    }


def test_the_summary_of_a_request_without_a_message_is_empty():
    request = client.raw_public_request(
        method="GET", path="/", headers={}, query={}, body=None, token=KEY, region="us"
    )
    assert request.summary() == dict.fromkeys(("user_id", "anonymous_id", "event", "message_id"))
    raw = client.raw_tracking_request(
        method="POST",
        path="/v1/track",
        headers={},
        query={},
        body="not json",
        write_key=KEY,
        region="us",
    )
    assert raw.summary()["user_id"] is None


# --- raw requests ---------------------------------------------------------------------------


def raw(**overrides):
    arguments = {
        "method": "POST",
        "path": "/v1/track",
        "headers": {},
        "query": {},
        "body": "{}",
        "write_key": KEY,
        "region": "us",
    }
    arguments.update(overrides)
    return client.raw_tracking_request(**arguments)


def test_a_raw_request_goes_to_the_configured_base_with_its_query_and_headers(settings):
    settings.SEGMENT_TRACKING_API_URL = "http://127.0.0.1:9"
    request = raw(
        method="put", query=[("a", "1 2"), ("b", "x&y")], headers={"X-Custom": "yes"}, body="{}"
    )
    assert request.url == "http://127.0.0.1:9/v1/track?a=1%202&b=x%26y"
    assert request.method == "PUT"
    assert request.headers["X-Custom"] == "yes"
    assert request.headers["Content-Type"] == "application/json"
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    )
    assert request.call_type == "raw"
    assert request.body == b"{}"


def test_a_raw_request_keeps_a_content_type_it_was_given():
    assert raw(headers={"Content-Type": "text/plain"}).headers["Content-Type"] == "text/plain"


@pytest.mark.parametrize(
    "path",
    [
        "https://evil.test/v1/track",
        "http:/evil.test",
        "javascript:alert(1)",
        "//evil.test/v1/track",
        "/v1/../admin",
        "/v1/%2e%2e/admin",
        "/v1/%252e%252e/admin",
        "/v1/track@evil.test",
        "/v1/%40evil.test",
        "/v1\\track",
        "/v1/%5Ctrack",
        "/v1/track\x00",
        "/v1/track\r\nHost: evil",
        "/v1/%0d%0aHost:evil",
        "v1/track",
        "",
        "/v1/track?writeKey=x",
        "/v1/track#frag",
        "/v1/tr ack",
        "/%2F%2Fevil.test",
    ],
)
def test_a_raw_path_that_could_leave_the_base_is_refused(path):
    with pytest.raises(UnsafeRequest) as refused:
        raw(path=path)
    assert refused.value.field == "path"
    assert refused.value.message


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic abc"},
        {"authorization": "Bearer x"},
        {"Proxy-Authorization": "x"},
        {"X-Evil": "a\r\nX-Injected: 1"},
        {"X-Evil": "a\nb"},
        {"X-Evil\r\nInjected": "1"},
        {"Bad Name": "1"},
        {"Host": "evil.test"},
        {"Content-Length": "5"},
        {"Transfer-Encoding": "chunked"},
    ],
)
def test_raw_headers_cannot_inject_or_replace_the_credential(headers):
    with pytest.raises(UnsafeRequest) as refused:
        raw(headers=headers)
    assert refused.value.field == "headers"


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "GET\r\nX: y", "", "FOO"])
def test_only_ordinary_methods_are_allowed(method):
    with pytest.raises(UnsafeRequest) as refused:
        raw(method=method)
    assert refused.value.field == "method"


def test_the_public_raw_request_has_the_same_guards():
    with pytest.raises(UnsafeRequest):
        client.raw_public_request(
            method="GET",
            path="//evil.test/",
            headers={},
            query={},
            body=None,
            token=KEY,
            region="us",
        )
    request = client.raw_public_request(
        method="GET",
        path="/sources/abc",
        headers={"Accept": "application/json"},
        query={"pagination[count]": "5"},
        body=None,
        token=KEY,
        region="eu",
    )
    assert request.api == "public"
    assert request.url.startswith(hosts.public_base("eu") + "/sources/abc?pagination")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.body is None and "Content-Type" not in request.headers


def test_builders_refuse_an_empty_credential():
    with pytest.raises(ValueError, match="write key is empty"):
        client.tracking_request(build_message("identify", user_id="u"), write_key="", region="us")
    with pytest.raises(ValueError, match="token is empty"):
        client.raw_public_request(
            method="GET", path="/", headers={}, query={}, body=None, token=" ", region="us"
        )
