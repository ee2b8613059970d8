"""Bodies nested deeper than segadmin reads are never stored unchecked for secrets."""

from __future__ import annotations

from segadmin.segment.redaction import redact_answer


def test_a_response_body_too_deep_to_check_for_secrets_is_not_stored():
    body = b'{"token": "sgp_secret_value", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    stored = redact_answer({}, body, None, ()).body
    assert b"sgp_secret_value" not in stored
    assert b"nested too deeply" in stored


def test_a_response_body_that_can_be_read_is_stored_with_its_secrets_masked():
    stored = redact_answer({}, b'{"source": {"writeKey": "wk_secret_value"}}', None, ()).body
    assert b"wk_secret_value" not in stored and b"source" in stored
