"""The fake's Tracking API: what Segment's edge answers and what it keeps (segment-api.md §9).

The edge answers 200 to nearly everything; messages Segment would drop are stored with the
status ``discarded:<code>`` so tests can see what a real workspace would never show.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from json.decoder import scanstring  # type: ignore[attr-defined]  # in CPython, not typeshed
from typing import Any, cast

from segadmin.segment.fake.state import (
    CALL_KEYS,
    CALL_TYPES,
    COMMON_KEYS,
    MAX_BATCH_ITEMS,
    Arrival,
    Checked,
    FakeState,
    new_record,
)

PATHS = {f"/v1/{name}": name for name in (*CALL_TYPES, "batch", "import")}
MAX_SINGLE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_ITEM_BYTES = 32 * 1024

ALLOWED = {call_type: COMMON_KEYS | keys for call_type, keys in CALL_KEYS.items()}
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace, as json.decoder skips it
_SPACE_CHARS = frozenset(" \t\n\r")
# json.loads's own scanner (C), defaults alike.
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in __init__, not typeshed
# The pattern matches the empty string, so its match() never returns None.
_SPACE_MATCH = cast("Callable[[str, int], re.Match[str]]", _SPACE.match)

NOTHING: frozenset[str] = frozenset()

Answer = tuple[int, dict[str, Any]]
Handled = tuple[Answer, Arrival | None]
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
    write_key = body.get("writeKey") if isinstance(body, dict) else None
    if isinstance(write_key, str):
        return write_key
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


def handle(state: FakeState, path: str, headers: dict[str, str], raw: bytes) -> Handled:
    """Answer one Tracking API POST; returns the answer and what to ``accept`` once it has
    left (None: nothing).

    The intake is the fake's hot path (a benchmark posts hundreds of 1,000-message batches a
    second): each body is parsed once, messages are checked after the answer (which does not
    depend on them) and not copied, and their enrichment waits until someone reads them
    (``state.enriched``)."""
    call = PATHS[path]
    is_batch = call in ("batch", "import")
    limit = MAX_BATCH_BYTES if is_batch else MAX_SINGLE_BYTES
    if "gzip" in headers.get("content-encoding", "").lower():
        decoded = gunzip(raw, limit)
        if decoded is None:
            return bad_request("invalid_gzip", "The body is not valid gzip."), None
        raw = decoded
    if len(raw) > limit:
        return bad_request("payload_too_large", "Exceed payload limit"), None
    try:
        body, item_sizes = parse_body(raw) if len(raw) > MAX_ITEM_BYTES else (json.loads(raw), None)
    except (ValueError, UnicodeDecodeError, RecursionError):  # too deep to read is not JSON
        return bad_request("invalid_json", "The body is not valid JSON."), None
    if not isinstance(body, dict):
        return bad_request("invalid_json", "The body must be a JSON object."), None

    write_key = write_key_of(headers, body)
    if not write_key.strip():
        # Our choice: reports say an empty write key gets a 400 (unconfirmed).
        return bad_request("missing_write_key", "No write key in the request."), None

    if is_batch:
        items = body.get("batch")
        if not isinstance(items, list):
            return bad_request("invalid_batch", "batch must be a list of messages."), None
        if len(raw) > MAX_ITEM_BYTES and any_item_too_large(items, item_sizes):
            return bad_request("payload_too_large", "Exceed payload limit"), None
    else:
        items = [body]

    with state.lock:
        source_id = state.write_keys.get(write_key, False)
    known = source_id is not False
    arrival = Arrival(
        path=path,
        call=call,
        write_key=write_key,
        known=known,
        source_id=source_id,
        received=datetime.now(tz=UTC),
        sent_at=body.get("sentAt"),
    )
    if not is_batch:
        arrival.items = [body]
        return OK, arrival
    arrival.context, arrival.integrations = body.get("context"), body.get("integrations")
    if not items:
        arrival.checked = [Checked({}, "empty_batch", (), None, literal=True)]
        return OK, arrival
    arrival.items = items
    # Our choice: Segment answers 200 to a batch of too many events and rejects them; we
    # drop them all.
    arrival.whole_batch_code = "too_many_events" if len(items) > MAX_BATCH_ITEMS else None
    return OK, arrival


def accept(state: FakeState, arrival: Arrival) -> None:
    """Check and keep the messages of an answered request (called after its answer left)."""
    if arrival.items:
        call = None if arrival.is_batch else arrival.call
        code, known = arrival.whole_batch_code, arrival.known
        arrival.checked = [check(item, call, code, known) for item in arrival.items]
        arrival.items = []  # kept once, in ``checked``
    state.store(arrival)


def check(item: Any, call: str | None, whole_batch_code: str | None, known: bool) -> Checked:
    """Check one message (``call``: a single call's type; None: a batch item, typed by its
    own ``type``) as Segment would, without copying it."""
    if not isinstance(item, dict):
        return Checked({"value": item}, "invalid", (), None, literal=True)
    call_type = item.get("type") if call is None else call
    allowed = ALLOWED.get(call_type, COMMON_KEYS) if isinstance(call_type, str) else COMMON_KEYS
    ignored = NOTHING if allowed.issuperset(item) else item.keys() - allowed
    if ignored or call is not None:
        # What the checks see is the message as stored: typed, without ignored keys. (The
        # merged batch context is an object exactly when the item's own is one or absent,
        # so the item's own context answers "context_not_object" alike.)
        seen = {key: value for key, value in item.items() if key not in ignored}
        seen["type"] = call_type
    else:
        seen = item
    code = whole_batch_code or discard_code(seen)
    assigned_id = None if item.get("messageId") else f"fake-{uuid.uuid4()}"
    if code is None and not known:
        code = "invalid_write_key"  # the edge says 200; the events are dropped later
    dropped = tuple(sorted(ignored)) if ignored else ()
    return new_record(Checked, (item, code, dropped, assigned_id, False))


def any_item_too_large(items: list[Any], item_sizes: list[int] | None) -> bool:
    """Is any item over 32 KB, encoded compactly? Only items whose text as sent could encode
    that large are encoded again: compact UTF-8 is at most 4.5 bytes per character sent
    (4 for a character, 18 for "1e15"), so an item sent in under a fifth of the limit fits."""
    sizes = item_sizes if item_sizes is not None else [MAX_ITEM_BYTES] * len(items)
    for item, size in zip(items, sizes, strict=True):
        if size * 5 <= MAX_ITEM_BYTES:
            continue
        encoded = json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()
        if len(encoded) > MAX_ITEM_BYTES:
            return True
    return False


class _NotPlain(Exception):
    """The body is not a plain JSON object: ``json.loads`` reads it (and names its error)."""


def parse_body(raw: bytes) -> tuple[Any, list[int] | None]:
    """``json.loads(raw)``, and the length in characters of each item of a top-level
    ``batch`` array as sent (None when unknown), from the same single parse."""
    try:
        return _walk_object(raw.decode("utf-8"))
    except (_NotPlain, StopIteration, ValueError, UnicodeDecodeError):
        # Anything unusual (a BOM, UTF-16, bad JSON) is read by json.loads, which accepts
        # or refuses exactly what it always did.
        return json.loads(raw), None


def _walk_object(text: str) -> tuple[dict[str, Any], list[int] | None]:
    """The top-level object, key by key, with the C scanner ``json.loads`` itself uses."""
    space, scan = _SPACE_MATCH, _SCAN
    at = space(text, 0).end()
    if text[at : at + 1] != "{":
        raise _NotPlain
    body: dict[str, Any] = {}
    sizes = None
    at = space(text, at + 1).end()
    if text[at : at + 1] == "}":
        at += 1
    else:
        while True:
            if text[at : at + 1] != '"':
                raise _NotPlain
            key, at = scanstring(text, at + 1)
            at = space(text, at).end()
            if text[at : at + 1] != ":":
                raise _NotPlain
            at = space(text, at + 1).end()
            if key == "batch" and text[at : at + 1] == "[":
                value, sizes, at = _walk_array(text, at)
            else:
                value, at = scan(text, at)
                if key == "batch":
                    sizes = None
            body[key] = value
            at = space(text, at).end()
            if text[at : at + 1] == "}":
                at += 1
                break
            if text[at : at + 1] != ",":
                raise _NotPlain
            at = space(text, at + 1).end()
    if space(text, at).end() != len(text):
        raise _NotPlain
    return body, sizes


def _walk_array(text: str, at: int) -> tuple[list[Any], list[int], int]:
    space, scan = _SPACE_MATCH, _SCAN
    items: list[Any] = []
    sizes: list[int] = []
    add_item, add_size = items.append, sizes.append
    at = space(text, at + 1).end()
    if text[at : at + 1] == "]":
        return items, sizes, at + 1
    while True:
        item, end = scan(text, at)
        add_item(item)
        add_size(end - at)
        # Senders rarely put spaces between items: look before calling the regex.
        char = text[end : end + 1]
        if char in _SPACE_CHARS:
            end = space(text, end).end()
            char = text[end : end + 1]
        if char == "]":
            return items, sizes, end + 1
        if char != ",":
            raise _NotPlain
        at = end + 1
        if text[at : at + 1] in _SPACE_CHARS:
            at = space(text, at).end()
