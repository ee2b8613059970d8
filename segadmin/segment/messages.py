"""Building and validating Tracking API messages (no Django models, no HTTP).

``build_message`` returns a message exactly as it will be sent; ``validate_message`` and
``validate_batch`` mirror what Segment would otherwise answer 200 to and then drop silently
(segment-api.md §4), so a person gets an error before anything leaves.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import segadmin
from segadmin.segment.errors import MessageInvalid, Problem

CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")

MAX_MESSAGE_BYTES = 32_000
MAX_BATCH_BYTES = 500_000
MAX_BATCH_ITEMS = 2_500
MAX_MESSAGE_ID_CHARS = 100
MAX_PROPERTIES = 10_000
# Room kept in every batch body for the keys added at send time: "sentAt" (about 45 bytes)
# and "writeKey" (Segment's keys are 32 characters; 200 bytes leaves space for longer ones).
BATCH_ENVELOPE_RESERVE = 256

LIBRARY_NAME = "segadmin"

# The batch body is {"batch":[m1,m2,...]} before the envelope keys are added.
_BATCH_PREFIX = len(b'{"batch":[')
_BATCH_SUFFIX = len(b"]}")

_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
    r"(?P<offset>Z|z|[+-]\d{2}(:?\d{2})?)?$"
)


# --- Encoding -------------------------------------------------------------------------------


def encode(value: Any) -> bytes:
    """The JSON encoding used on the wire: compact, UTF-8, no NaN or Infinity."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def message_size(message: dict) -> int:
    """Bytes of ``message`` in the JSON encoding used to send it."""
    return len(encode(message))


def batch_body_size(messages: list[dict]) -> int:
    """Bytes of ``{"batch": [...]}`` for these messages, before sentAt and writeKey."""
    return len(encode({"batch": messages}))


# --- Building -------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """Turn Python values into their JSON form the way analytics-python does (Decimal to
    float, Enum to its value, sets and tuples to lists, dates to ISO-8601); anything else is
    left as is so validation can name it instead of it vanishing."""
    if isinstance(value, bool | str | int | float) or value is None:
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return _clean(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(item) for item in value]
    return value


def _stringify_id(value: Any) -> Any:
    # Segment discards numeric ids (id_not_string); the official library stringifies them.
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


def format_timestamp(value: datetime | str) -> str:
    """ISO-8601 with milliseconds and the offset kept, as analytics-python writes it.

    Aware strings are normalised the same way; naive or unparseable input is returned
    unchanged so that validation reports it rather than a timezone being guessed.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.isoformat()
        return value.isoformat(timespec="milliseconds")
    text = value.strip()
    if not _ISO_DATETIME.match(text):
        return value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        return value
    return parsed.isoformat(timespec="milliseconds")


def build_message(
    call_type: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    timestamp: datetime | str | None = None,
    context: dict | None = None,
    integrations: dict | None = None,
    message_id: str | None = None,
    traits: dict | None = None,
    properties: dict | None = None,
    event: str | None = None,
    name: str | None = None,
    category: str | None = None,
    group_id: str | None = None,
    previous_id: str | None = None,
) -> dict:
    """The message exactly as it will be sent (without ``sentAt``/``writeKey``, which the
    request adds). Does not validate: call ``validate_message`` on the result.

    ``messageId`` is a new uuid4 when None; ``timestamp`` is omitted when None ("now");
    ``context.library`` always names segadmin; keys given as None are left out.
    """
    message: dict[str, Any] = {"type": call_type}
    message["messageId"] = str(uuid.uuid4()) if message_id is None else message_id
    if timestamp is not None:
        message["timestamp"] = format_timestamp(timestamp)
    if user_id is not None:
        message["userId"] = _stringify_id(user_id)
    if anonymous_id is not None:
        message["anonymousId"] = _stringify_id(anonymous_id)

    if call_type in ("identify", "group"):
        message["traits"] = _clean(traits) if traits is not None else {}
    if call_type in ("track", "page", "screen"):
        message["properties"] = _clean(properties) if properties is not None else {}
    if call_type == "track" and event is not None:
        message["event"] = event
    if call_type in ("page", "screen"):
        if name is not None:
            message["name"] = name
        if category is not None:
            message["category"] = category
    if call_type == "group" and group_id is not None:
        message["groupId"] = _stringify_id(group_id)
    if call_type == "alias" and previous_id is not None:
        message["previousId"] = _stringify_id(previous_id)

    library = {"name": LIBRARY_NAME, "version": segadmin.__version__}
    if context is None:
        message["context"] = {"library": library}
    elif isinstance(context, Mapping):
        message["context"] = {**_clean(context), "library": library}
    else:
        message["context"] = context  # left for validation to report
    message["integrations"] = _clean(integrations) if integrations is not None else {}
    return message


# --- Validation -----------------------------------------------------------------------------

_ID_LABELS = {
    "userId": "User ID",
    "anonymousId": "Anonymous ID",
    "groupId": "Group ID",
    "previousId": "Previous ID",
}
_OBJECT_LABELS = {
    "traits": "Traits",
    "properties": "Properties",
    "context": "Context",
    "integrations": "Integrations",
}


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _check_id(message: dict, key: str, problems: list[Problem]) -> bool:
    """Checks an id key when present; True when it holds a usable id."""
    value = message.get(key)
    label = _ID_LABELS[key]
    if value is None:
        return False
    if not isinstance(value, str):
        problems.append(
            Problem(key, "id_not_string", f'{label} must be text, e.g. "42" rather than 42.')
        )
        return False
    if _blank(value):
        problems.append(Problem(key, "id_empty", f"{label} is blank: fill it in or leave it out."))
        return False
    return True


def _check_timestamp(value: Any, problems: list[Problem]) -> None:
    if not isinstance(value, str):
        problems.append(
            Problem("timestamp", "timestamp_invalid", "Timestamp must be an ISO-8601 date-time.")
        )
        return
    match = _ISO_DATETIME.match(value.strip())
    try:
        if match is None:
            raise ValueError(value)
        datetime.fromisoformat(value.strip())
    except ValueError:
        problems.append(
            Problem(
                "timestamp",
                "timestamp_invalid",
                "Timestamp is not a date and time Segment understands; use ISO-8601 such as "
                "2024-05-01T09:30:00+02:00.",
            )
        )
        return
    if not match.group("offset"):
        problems.append(
            Problem(
                "timestamp",
                "timestamp_naive",
                "Timestamp has no time zone: add one, e.g. Z for UTC or +02:00.",
            )
        )


def _check_text(message: dict, key: str, label: str, code: str, problems: list[Problem]) -> None:
    value = message.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        problems.append(Problem(key, code, f"{label} must be text."))
    elif _blank(value):
        problems.append(
            Problem(key, f"{key}_empty", f"{label} is blank: fill it in or leave it out.")
        )


def _problems(message: Any, index: int | None = None) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(message, dict):
        return [Problem("", "message_not_object", "A message must be a JSON object.", index)]

    call_type = message.get("type")
    if call_type not in CALL_TYPES:
        problems.append(
            Problem(
                "type",
                "type_invalid",
                "Call type must be one of identify, track, page, screen, group or alias.",
            )
        )

    if call_type == "alias":
        if not _check_id(message, "userId", problems) and message.get("userId") is None:
            problems.append(Problem("userId", "no_user_id", "Add the User ID to alias to."))
        if not _check_id(message, "previousId", problems) and message.get("previousId") is None:
            problems.append(
                Problem("previousId", "no_previous_id", "Add the Previous ID to alias from.")
            )
        _check_id(message, "anonymousId", problems)
    else:
        has_user = _check_id(message, "userId", problems)
        has_anon = _check_id(message, "anonymousId", problems)
        if (
            not has_user
            and not has_anon
            and all(message.get(k) is None for k in ("userId", "anonymousId"))
        ):
            problems.append(
                Problem("userId", "no_user_anon_id", "Add a User ID or an Anonymous ID.")
            )

    if call_type == "track":
        event = message.get("event")
        if event is None or _blank(event):
            problems.append(Problem("event", "event_not_defined", "Add an Event Name."))
        elif not isinstance(event, str):
            problems.append(Problem("event", "event_not_string", "Event Name must be text."))
    if call_type in ("page", "screen"):
        _check_text(message, "name", "Name", "name_not_string", problems)
        _check_text(message, "category", "Category", "category_not_string", problems)
    group_ok = call_type == "group" and _check_id(message, "groupId", problems)
    if call_type == "group" and not group_ok and message.get("groupId") is None:
        problems.append(Problem("groupId", "no_group_id", "Add a Group ID."))

    for key, label in _OBJECT_LABELS.items():
        if key in message and not isinstance(message[key], dict):
            problems.append(
                Problem(
                    key, f"{key}_not_object", f"{label} must be a JSON object of keys and values."
                )
            )
    properties = message.get("properties")
    if isinstance(properties, dict) and len(properties) > MAX_PROPERTIES:
        problems.append(
            Problem(
                "properties",
                "too_many_properties",
                f"{len(properties):,} properties is too many: Segment keeps only the first "
                f"{MAX_PROPERTIES:,}.",
            )
        )

    if "messageId" in message:
        message_id = message["messageId"]
        if not isinstance(message_id, str):
            problems.append(
                Problem("messageId", "message_id_not_string", "Message ID must be text.")
            )
        elif not message_id.strip():
            problems.append(
                Problem("messageId", "message_id_empty", "Message ID is blank: leave it out.")
            )
        elif len(message_id) > MAX_MESSAGE_ID_CHARS:
            problems.append(
                Problem(
                    "messageId",
                    "message_id_too_long",
                    f"Message ID is {len(message_id)} characters; Segment allows at most "
                    f"{MAX_MESSAGE_ID_CHARS}.",
                )
            )

    if message.get("timestamp") is not None:
        _check_timestamp(message["timestamp"], problems)

    try:
        size = message_size(message)
    except (TypeError, ValueError) as exc:
        problems.append(Problem("", "not_json", _not_json_message(exc)))
    else:
        if size > MAX_MESSAGE_BYTES:
            problems.append(
                Problem(
                    "",
                    "message_too_large",
                    f"This call is {size:,} bytes; Segment drops calls over "
                    f"{MAX_MESSAGE_BYTES:,} bytes. Remove some traits or properties.",
                )
            )
    if index is not None:
        problems = [Problem(p.field, p.code, p.message, index) for p in problems]
    return problems


def _not_json_message(exc: Exception) -> str:
    if isinstance(exc, ValueError):
        return "A number is not finite (NaN or Infinity); JSON cannot carry it."
    kind = re.search(r"type (\w+)", str(exc))
    what = f" ({kind.group(1)})" if kind else ""
    return f"A value{what} cannot be sent as JSON: use text, numbers, true/false, lists or objects."


def validate_message(message: dict) -> None:
    """Raise ``MessageInvalid`` listing every problem with one message; return None if fine."""
    problems = _problems(message)
    if problems:
        raise MessageInvalid(problems)


def validate_batch(messages: list[dict]) -> None:
    """Validate each item, the item count and the body size of one ``/v1/batch`` request."""
    if not isinstance(messages, list):
        raise MessageInvalid([Problem("batch", "batch_not_list", "A batch must be a list.")])
    if not messages:
        raise MessageInvalid([Problem("batch", "empty_batch", "The batch has no messages.")])
    problems: list[Problem] = []
    for index, message in enumerate(messages):
        problems.extend(_problems(message, index))
    if len(messages) > MAX_BATCH_ITEMS:
        problems.append(
            Problem(
                "batch",
                "batch_too_many_items",
                f"The batch has {len(messages):,} messages; Segment rejects batches of more "
                f"than {MAX_BATCH_ITEMS:,}.",
            )
        )
    if not any(p.code == "not_json" for p in problems):
        size = batch_body_size(messages) + BATCH_ENVELOPE_RESERVE
        if size > MAX_BATCH_BYTES:
            problems.append(
                Problem(
                    "batch",
                    "batch_too_large",
                    f"The batch is {size:,} bytes; Segment refuses batches over "
                    f"{MAX_BATCH_BYTES:,} bytes. Send fewer messages at a time.",
                )
            )
    if problems:
        raise MessageInvalid(problems)


def split_into_batches(messages: Iterable[dict]) -> Iterator[list[dict]]:
    """Yield lists that each fit one ``/v1/batch`` request: at most 2,500 items and a body
    of at most 500,000 bytes (the envelope keys added at send time included).

    It does not validate: an item too large for any batch is yielded on its own, for
    ``validate_batch`` to report.
    """
    budget = MAX_BATCH_BYTES - BATCH_ENVELOPE_RESERVE - _BATCH_PREFIX - _BATCH_SUFFIX
    current: list[dict] = []
    used = 0
    for message in messages:
        size = message_size(message)
        extra = size if not current else size + 1  # the comma between items
        if current and (len(current) >= MAX_BATCH_ITEMS or used + extra > budget):
            yield current
            current, used, extra = [], 0, size
        current.append(message)
        used += extra
    if current:
        yield current
