"""segadmin.segment.redaction: the one definition of a secret, for storing, logging and showing."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from segadmin.segment import client, redaction
from segadmin.segment.messages import build_message

KEY = "wk_SeCrEt_0123456789abcdef"
MASK = "****"


def every_encoding(secret: str) -> dict[str, str]:
    """The encodings the module promises to catch, written out independently of it."""
    raw, basic = secret.encode(), f"{secret}:".encode()
    return {
        "plain": secret,
        "percent": quote(secret, safe=""),
        "percent-plus": quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
        "hex": binascii.hexlify(raw).decode(),
        "HEX": binascii.hexlify(raw).decode().upper(),
        "hex of key:": binascii.hexlify(basic).decode(),
        "base64": base64.b64encode(raw).decode(),
        "base64 unpadded": base64.b64encode(raw).decode().rstrip("="),
        "base64 of key:": base64.b64encode(basic).decode(),
        "base64 of key: unpadded": base64.b64encode(basic).decode().rstrip("="),
        "url-safe base64": base64.urlsafe_b64encode(raw).decode(),
        "url-safe base64 unpadded": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "url-safe base64 of key:": base64.urlsafe_b64encode(basic).decode().rstrip("="),
    }


# --- names ----------------------------------------------------------------------------------


def test_nested_keys_named_like_secrets_are_masked_at_any_depth():
    answer = {
        "data": {
            "sources": [
                {"id": "s1", "writeKeys": ["wk1", "wk2"], "settings": {"writeKey": "wk3"}},
            ],
            "oauth": {"accessToken": "at", "refresh_token": "rt", "client_secret": "cs"},
            "deep": [[{"user": {"password": "pw", "token": "tk", "apiKey": 12345}}]],
        }
    }
    redacted = redaction.redact_json(answer)
    source = redacted["data"]["sources"][0]
    assert source["writeKeys"] == [MASK, MASK]
    assert source["settings"]["writeKey"] == MASK
    assert redacted["data"]["oauth"] == {
        "accessToken": MASK,
        "refresh_token": MASK,
        "client_secret": MASK,
    }
    assert redacted["data"]["deep"][0][0]["user"] == {
        "password": MASK,
        "token": MASK,
        "apiKey": MASK,
    }
    assert source["id"] == "s1"
    assert answer["data"]["oauth"]["accessToken"] == "at"  # the original is left as it was


def test_names_that_only_look_close_to_a_secret_stay_readable():
    answer = {
        "labels": [{"key": "env", "value": "prod"}],
        "tokenType": "Bearer",
        "keyCount": 3,
        "hasPassword": True,
        "token": None,
        "secret": "",
    }
    assert redaction.redact_json(answer) == answer


def test_request_bodies_mask_only_write_keys_so_traits_stay_readable():
    body = json.dumps({"writeKey": KEY, "traits": {"password_hint": "cat", "token": "t1"}})
    redacted = redaction.redact_body(body.encode(), names=redaction.is_write_key_name)
    assert redacted == {"writeKey": MASK, "traits": {"password_hint": "cat", "token": "t1"}}


def test_a_secret_inside_any_string_or_key_is_scrubbed():
    value = {"note": f"the key is {KEY}", KEY: "as a key", "list": [quote(KEY, safe="")]}
    redacted = redaction.redact_json(value, [KEY])
    assert redacted == {"note": "the key is ****", MASK: "as a key", "list": [MASK]}


# --- headers --------------------------------------------------------------------------------


def test_headers_named_like_secrets_are_masked_whole_and_authorization_keeps_its_scheme():
    headers = {
        "Authorization": f"Bearer {KEY}",
        "Proxy-Authorization": "opaque",
        "X-Api-Token": "tok-123456",
        "X-Write-Key": "wk-123456",
        "Set-Cookie": "session=abc; HttpOnly",
        "Cookie": "a=b",
        "X-Request-Id": "req-1",
        "X-Echo": f"you sent {base64.b64encode(f'{KEY}:'.encode()).decode()}",
        "Content-Type": "application/json",
    }
    assert redaction.redact_headers(headers, [KEY]) == {
        "Authorization": "Bearer ****",
        "Proxy-Authorization": MASK,
        "X-Api-Token": MASK,
        "X-Write-Key": MASK,
        "Set-Cookie": MASK,
        "Cookie": MASK,
        "X-Request-Id": "req-1",
        "X-Echo": "you sent ****",
        "Content-Type": "application/json",
    }


# --- known values in every encoding ---------------------------------------------------------


def test_every_encoding_of_a_secret_is_scrubbed_from_text_and_bytes():
    for name, form in every_encoding(KEY).items():
        text = f"before <{form}> after"
        assert redaction.scrub_text(text, [KEY]) == "before <****> after", name
        assert redaction.scrub_bytes(text.encode(), [KEY]) == b"before <****> after", name


_SECRETS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+/=.~!$",
    min_size=8,
    max_size=60,
)


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    secret=_SECRETS,
    encoding=st.sampled_from(sorted(every_encoding("x"))),
    before=st.text(alphabet=" ,;|<>()[]{}'\"\n", max_size=5),
    after=st.text(alphabet=" ,;|<>()[]{}'\"\n", max_size=5),
)
def test_no_encoding_of_a_secret_survives_the_redaction(secret, encoding, before, after):
    form = every_encoding(secret)[encoding]
    text = f"{before}{form}{after}"
    scrubbed = redaction.scrub_text(text, [secret])
    scrubbed_bytes = redaction.scrub_bytes(text.encode(), [secret]).decode()
    for output in (scrubbed, scrubbed_bytes):
        assert output == f"{before}{MASK}{after}"
        for other in every_encoding(secret).values():
            assert other not in output


# --- answers --------------------------------------------------------------------------------


def test_an_answer_without_a_secret_name_is_kept_byte_for_byte():
    body = b'{"success":  true}'
    answer = redaction.redact_answer({"Content-Type": "application/json"}, body, None, [KEY])
    assert answer.body == body
    assert answer.json() == {"success": True}
    assert answer.error == ""


def test_an_answer_listing_write_keys_is_stored_with_masks():
    body = json.dumps({"data": {"sources": [{"id": "s1", "writeKeys": ["wkA123456"]}]}}).encode()
    answer = redaction.redact_answer({}, body, None, [])
    assert answer.json() == {"data": {"sources": [{"id": "s1", "writeKeys": [MASK]}]}}
    assert b"wkA123456" not in answer.body


def test_an_answer_that_is_not_json_is_scrubbed_as_bytes():
    body = f"echo {KEY} {binascii.hexlify(KEY.encode()).decode()}".encode()
    answer = redaction.redact_answer({}, body, f"reason with {KEY}", [KEY])
    assert answer.text() == "echo **** ****"
    assert answer.error == "reason with ****"


def test_a_send_result_is_redacted_with_the_requests_secrets():
    result = client.SendResult(
        status=400,
        headers={"X-Echo": KEY},
        body=json.dumps({"errors": [{"message": f"bad key {KEY}"}]}).encode(),
        attempts=1,
        duration_ms=1.0,
        error=None,
    )
    answer = result.redacted([KEY])
    assert answer.headers == {"X-Echo": MASK}
    assert answer.json() == {"errors": [{"message": "bad key ****"}]}


# --- what a request carries ------------------------------------------------------------------


def test_a_requests_secrets_are_its_key_and_the_write_keys_typed_into_its_body():
    request = client.raw_tracking_request(
        method="POST",
        path="/v1/batch",
        headers={},
        query={},
        body=json.dumps({"batch": [{"writeKey": "typedKey123"}], "writeKeys": ["listKey456"]}),
        write_key=KEY,
        region="us",
    )
    # Basic auth's "key:" and its base64 are forms of the key, so they are not listed again.
    assert redaction.request_secrets(request) == [KEY, "typedKey123", "listKey456"]


def test_a_basic_credential_of_another_secret_is_decoded_into_both_halves():
    request = client.SegmentRequest(
        api="tracking",
        method="GET",
        url="https://api.segment.io/v1/x",
        headers={"Authorization": "Basic " + base64.b64encode(b"someUser:somePass").decode()},
        body=None,
        call_type="raw",
    )
    secrets = redaction.request_secrets(request)
    assert {"someUser:somePass", "someUser", "somePass"} <= set(secrets)
    text = redaction.scrub_text("someUser / somePass", secrets)
    assert text == "**** / ****"


def test_a_gzipped_batch_body_is_decoded_and_its_write_key_masked():
    batch = [build_message("identify", user_id="u1")]
    request = client.batch_request(batch, write_key=KEY, region="us", gzip=True)
    body = redaction.redact_body(
        request.body, [KEY], gzipped=True, names=redaction.is_write_key_name
    )
    assert body["writeKey"] == MASK
    assert body["batch"][0]["userId"] == "u1"
    assert redaction.redact_body(b"\x1f\x8bnot gzip", gzipped=True).startswith("<")
    assert KEY in gzip.decompress(request.body).decode()  # the request itself still has it


def test_a_value_listed_under_a_secret_name_is_scrubbed_wherever_else_it_appears():
    listed = "wkListedAbCdEf0123456789"
    body = json.dumps(
        {"data": {"source": {"name": f"site {listed}", "writeKeys": [listed], "tokens": 1000}}}
    ).encode()
    answer = redaction.redact_answer({"X-Echo": listed}, body, None, [])
    assert answer.json() == {
        "data": {"source": {"name": "site ****", "writeKeys": [MASK], "tokens": MASK}}
    }
    assert answer.headers == {"X-Echo": MASK}


def test_known_secrets_are_worked_out_once_and_follow_the_headers() -> None:
    """Asked three times a send: the same answer as ``request_secrets``, a list of the caller's
    own each time, never in ``repr()``, and worked out again if the headers change in place."""
    body = json.dumps({"writeKey": "rawBodyKey1234", "userId": "u"}).encode()
    request = client.SegmentRequest(
        api="tracking",
        method="POST",
        url="https://api.segment.io/v1/identify",
        headers={"Authorization": "Basic " + base64.b64encode(b"firstKey1:").decode()},
        body=body,
        call_type="raw",
        secrets=("givenSecret1",),
    )
    first = request.known_secrets()
    assert first == redaction.request_secrets(request)
    assert {"firstKey1", "rawBodyKey1234", "givenSecret1"} <= set(first)
    first.append("changed by the caller")
    assert request.known_secrets() == redaction.request_secrets(request)
    assert "firstKey1" not in repr(request)
    request.headers["Authorization"] = "Bearer otherToken99"
    assert request.known_secrets() == redaction.request_secrets(request)
    assert "otherToken99" in request.known_secrets() and "firstKey1" not in request.known_secrets()
