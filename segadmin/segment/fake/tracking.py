"""The fake's Tracking API: what Segment's edge answers and what it keeps (segment-api.md §9).

The edge answers 200 to nearly everything; messages Segment would drop are stored with the
status ``discarded:<code>`` so tests can see what a real workspace would never show.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

from segadmin.segment.fake.state import (
    CALL_KEYS,
    CALL_TYPES,
    COMMON_KEYS,
    MAX_BATCH_ITEMS,
    FakeState,
    _iso,
    received_at_and_timestamp,
)

PATHS = {f"/v1/{name}": name for name in (*CALL_TYPES, "batch", "import")}
MAX_SINGLE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_ITEM_BYTES = 32 * 1024

Answer = tuple[int, dict[str, Any]]
OK: Answer = (200, {"success": True})


def bad_request(code: str, message: str) -> Answer:
    # Our choice (segment-api.md §9): Segment does not document its 400 body.
    return 400, {"code": code, "message": message}


def gunzip(body: bytes, limit: int) -> bytes | None:
    """Decompress at most ``limit + 1`` bytes (a gzip bomb stops there); None if not gzip."""
    try:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = decompressor.decompress(body, limit + 1)
    except zlib.error:
        return None
    return data


def write_key_of(headers: dict[str, str], body: Any) -> str:
    """Basic auth user part (colon optional), else the body's writeKey."""
    authorization = headers.get("authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        key = decoded.split(":", 1)[0]
        if key:
            return key
    if isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        return body["writeKey"]
    return ""


def discard_code(message: dict[str, Any]) -> str | None:
    """The Delivery Overview code Segment would drop this message with, or None."""
    call_type = message.get("type")
    if call_type not in CALL_TYPES:
        return "invalid_type"
    user_id, anonymous_id = message.get("userId"), message.get("anonymousId")
    for value in (user_id, anonymous_id, message.get("groupId"), message.get("previousId")):
        if value is not None and not isinstance(value, str):
            return "id_not_string"
    if call_type == "alias":
        if not user_id or not message.get("previousId"):
            return "no_user_anon_id"
    elif not user_id and not anonymous_id:
        return "no_user_anon_id"
    if call_type == "track":
        event = message.get("event")
        if not isinstance(event, str) or not event.strip():
            return "event_not_defined"
    if call_type in ("page", "screen"):
        for key in ("name", "category"):
            value = message.get(key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                return f"{key}_not_string"
    if call_type == "group" and not message.get("groupId"):
        return "no_group_id"
    for key in ("traits", "properties", "context", "integrations"):
        if message.get(key) is not None and not isinstance(message[key], dict):
            return f"{key}_not_object"
    message_id = message.get("messageId")
    if message_id is not None and (not isinstance(message_id, str) or len(message_id) > 100):
        return "invalid_message_id"
    return None


def _merge(batch_level: Any, own: Any) -> Any:
    if isinstance(batch_level, dict) and isinstance(own, dict):
        return {**batch_level, **own}
    if own is None and isinstance(batch_level, dict):
        return dict(batch_level)
    return own


def handle(
    state: FakeState, path: str, headers: dict[str, str], raw: bytes
) -> tuple[Answer, list[dict[str, Any]]]:
    """Answer one Tracking API POST; returns the answer and the entries to store."""
    is_batch = PATHS[path] in ("batch", "import")
    limit = MAX_BATCH_BYTES if is_batch else MAX_SINGLE_BYTES
    if "gzip" in headers.get("content-encoding", "").lower():
        decoded = gunzip(raw, limit)
        if decoded is None:
            return bad_request("invalid_gzip", "The body is not valid gzip."), []
        raw = decoded
    if len(raw) > limit:
        return bad_request("payload_too_large", "Exceed payload limit"), []
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # too deep to read is not JSON
        return bad_request("invalid_json", "The body is not valid JSON."), []
    if not isinstance(body, dict):
        return bad_request("invalid_json", "The body must be a JSON object."), []

    write_key = write_key_of(headers, body)
    if not write_key.strip():
        # Our choice: reports say an empty write key gets a 400 (unconfirmed).
        return bad_request("missing_write_key", "No write key in the request."), []

    if is_batch:
        items = body.get("batch")
        if not isinstance(items, list):
            return bad_request("invalid_batch", "batch must be a list of messages."), []
        # No item can be over the limit when the whole body is not (saves the encoding).
        for item in items if len(raw) > MAX_ITEM_BYTES else ():
            encoded = json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()
            if len(encoded) > MAX_ITEM_BYTES:
                return bad_request("payload_too_large", "Exceed payload limit"), []
    else:
        items = [body]

    with state.lock:
        source_id = state.write_keys.get(write_key, False)
    known = source_id is not False
    received = datetime.now(tz=UTC)
    received_text = _iso(received)
    whole_batch_code = None
    if is_batch and not items:
        whole_batch_code = "empty_batch"
    elif is_batch and len(items) > MAX_BATCH_ITEMS:
        # Our choice: Segment answers 200 and rejects the events; we drop them all.
        whole_batch_code = "too_many_events"

    entries: list[dict[str, Any]] = []
    if whole_batch_code == "empty_batch":
        entries.append(_entry(path, write_key, known, source_id, {}, "discarded:empty_batch", []))
        return OK, entries

    now = time.monotonic()
    for item in items:
        if not isinstance(item, dict):
            entries.append(
                _entry(path, write_key, known, source_id, {"value": item}, "discarded:invalid", [])
            )
            continue
        message = dict(item)
        if not is_batch:
            message["type"] = PATHS[path]
            message.pop("writeKey", None)
        else:
            message["context"] = _merge(body.get("context"), message.get("context"))
            message["integrations"] = _merge(body.get("integrations"), message.get("integrations"))
            if message["context"] is None:
                del message["context"]
            if message["integrations"] is None:
                del message["integrations"]
        sent_at = message.pop("sentAt", None) or body.get("sentAt")
        call_type = message.get("type")
        allowed = COMMON_KEYS | CALL_KEYS.get(call_type, set())
        dropped = sorted(key for key in message if key not in allowed)
        for key in dropped:
            del message[key]
        message.pop("writeKey", None)

        code = whole_batch_code or discard_code(message)
        if not message.get("messageId"):
            message["messageId"] = f"fake-{uuid.uuid4()}"
        original, corrected = received_at_and_timestamp(message, sent_at, received)
        message["originalTimestamp"] = original
        message["timestamp"] = corrected
        message["receivedAt"] = received_text
        if sent_at is not None:
            message["sentAt"] = sent_at
        if code is None and not known:
            code = "invalid_write_key"  # the edge says 200; the events are dropped later
        if code is None:
            with state.lock:
                duplicate = state.is_duplicate(str(message["messageId"]), now)
            if duplicate:
                code = "duplicate"
        status = "accepted" if code is None else f"discarded:{code}"
        entries.append(_entry(path, write_key, known, source_id, message, status, dropped))
    return OK, entries


def _entry(
    path: str,
    write_key: str,
    known: bool,
    source_id: Any,
    message: dict[str, Any],
    status: str,
    dropped_keys: list[str],
) -> dict[str, Any]:
    return {
        "path": path,
        "status": status,
        "write_key": write_key,
        "write_key_known": known,
        "source_id": source_id if known else None,
        "dropped_keys": dropped_keys,
        "message": message,
    }
