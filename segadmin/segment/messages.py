"""Building and validating Tracking API messages (no Django models, no HTTP).

``build_message`` returns a message exactly as it will be sent; ``validate_message`` and
``validate_batch`` raise the errors of the rules module (``segment.rules``: what Segment would
otherwise answer 200 to and then drop silently, segment-api.md §4, and what breaks its reserved
fields), so a person gets an error before anything leaves.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

import segadmin
from segadmin.segment import datetimes
from segadmin.segment.errors import MessageInvalid, Problem

if TYPE_CHECKING:
    from segadmin.segment.rules import PlanCheck

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
# Bytes of messages (and the commas between them) one batch body holds.
BATCH_BUDGET = MAX_BATCH_BYTES - BATCH_ENVELOPE_RESERVE - _BATCH_PREFIX - _BATCH_SUFFIX


# --- Encoding -------------------------------------------------------------------------------


_DUMPS = {"separators": (",", ":"), "ensure_ascii": False, "allow_nan": False}
_encoders = threading.local()


def _c_encoder() -> tuple[Any, dict[int, Any]] | None:
    """This thread's C encoder with ``json.dumps(**_DUMPS)``'s arguments and its own cycle
    markers, made once (``json.dumps`` makes a new encoder object on every call, which was
    half the time of encoding a bulk row). None without the C accelerator."""
    made = getattr(_encoders, "made", None)
    if made is None:
        make = getattr(json.encoder, "c_make_encoder", None)
        if make is None:
            return None
        markers: dict[int, Any] = {}
        made = _encoders.made = (
            make(
                markers,  # the circular-reference check json.dumps makes
                json.JSONEncoder().default,  # its TypeError for what JSON cannot carry
                json.encoder.encode_basestring,  # ensure_ascii=False
                None,  # indent
                ":",
                ",",
                False,  # sort_keys
                False,  # skipkeys
                False,  # allow_nan
            ),
            markers,
        )
    return made


def encode(value: Any) -> bytes:
    """The JSON encoding used on the wire: compact, UTF-8, no NaN or Infinity. The same
    bytes and the same errors as ``json.dumps(value, **_DUMPS).encode()``."""
    return encode_text(value).encode()


def encode_text(value: Any) -> str:
    """``encode(value)`` before it is turned into UTF-8 bytes (``json.dumps(value,
    **_DUMPS)``): for a caller that joins several encoded parts into one text first."""
    made = _c_encoder()
    if made is None:
        return json.dumps(value, **_DUMPS)  # type: ignore[arg-type]
    encoder, markers = made
    try:
        return "".join(encoder(value, 0))
    except BaseException:
        markers.clear()  # an error leaves the markers of the containers it was inside
        raise


def encode_string(text: str) -> str:
    """``encode_text(text)`` for a str: its JSON string (quotes, escapes), at C speed."""
    return _encode_basestring(text)


_encode_basestring: Callable[[str], str] = json.encoder.encode_basestring


def message_size(message: dict[str, Any]) -> int:
    """Bytes of ``message`` in the JSON encoding used to send it."""
    return len(encode(message))


def batch_body_size(messages: list[dict[str, Any]], encoded: Sequence[bytes] | None = None) -> int:
    """Bytes of ``{"batch": [...]}`` for these messages, before sentAt and writeKey.
    ``encoded``: each message's ``encode(message)``, when the caller has it (the size is then
    added up, nothing encoded again)."""
    if encoded is None:
        return len(encode({"batch": messages}))
    return _BATCH_PREFIX + sum(map(len, encoded)) + max(0, len(encoded) - 1) + _BATCH_SUFFIX


def batch_items(messages: list[dict[str, Any]], encoded: Sequence[bytes] | None = None) -> bytes:
    """``encode(messages)`` (the JSON array of a batch body), from each message's own
    encoding when the caller has it: the same bytes, joined instead of encoded again."""
    if encoded is None:
        return encode(messages)
    return b"[" + b",".join(encoded) + b"]"


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
        return datetimes.format_instant(value)
    try:
        parsed = datetimes.parse_instant(value)
    except datetimes.DateTimeInvalid:
        return value
    return datetimes.format_instant(parsed)


def build_message(
    call_type: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    timestamp: datetime | str | None = None,
    context: dict[str, Any] | None = None,
    integrations: dict[str, Any] | None = None,
    message_id: str | None = None,
    traits: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    event: str | None = None,
    name: str | None = None,
    category: str | None = None,
    group_id: str | None = None,
    previous_id: str | None = None,
) -> dict[str, Any]:
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
# The rules themselves live in ``segment.rules`` (one list for every entrance); these two raise
# MessageInvalid with the rules' errors, for the send service and the bulk plan.


def validate_message(message: dict[str, Any], plan: PlanCheck | None = None) -> list[Problem]:
    """Raise ``MessageInvalid`` listing every error the rules find in one message (with
    ``plan``, the source's tracking plan's too); otherwise return the warnings (they do not
    block; a plan's violations under Warn are among them)."""
    from segadmin.segment import rules  # the rules read this module's limits

    found = rules.check_message(message, plan)
    problems = rules.errors(found)
    if problems:
        raise MessageInvalid(problems)
    return rules.warnings(found)


def validate_batch(
    messages: list[dict[str, Any]],
    plan: PlanCheck | None = None,
    *,
    each: bool = True,
    encoded: Sequence[bytes] | None = None,
) -> list[Problem]:
    """Validate each item (against ``plan`` too, when given), the item count and the body
    size of one ``/v1/batch`` request; return the items' warnings (``index`` set).

    ``each=False`` skips the rules per item, for a caller that has just asked the rules about
    every one of them (a bulk import's plan does, row by row, with the same module).
    ``encoded``: each message's ``encode(message)``, which the body size is added up from."""
    if not isinstance(messages, list):
        raise MessageInvalid([Problem("batch", "batch_not_list", "A batch must be a list.")])
    if not messages:
        raise MessageInvalid([Problem("batch", "empty_batch", "The batch has no messages.")])
    from segadmin.segment import rules  # the rules read this module's limits

    problems: list[Problem] = []
    warnings: list[Problem] = []
    for index, message in enumerate(messages if each else ()):
        found = list(rules.in_batch(rules.check_message(message, plan), index))
        problems.extend(rules.errors(found))
        warnings.extend(rules.warnings(found))
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
        size = batch_body_size(messages, encoded) + BATCH_ENVELOPE_RESERVE
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
    return warnings


def split_into_batches[T](
    items: Iterable[T], *, size: Callable[[T], int] | None = None
) -> Iterator[list[T]]:
    """Yield lists that each fit one ``/v1/batch`` request: at most 2,500 items and a body
    of at most 500,000 bytes (the envelope keys added at send time included).

    ``items`` are messages, measured here (each encoded once), or anything the caller carries
    along with a message whose encoded size it knows already, given by ``size(item)``: the
    bulk worker passes (message, size, row, cells), sized when the row was checked, so no
    message is encoded a second time to be batched. It does not validate: an item too large
    for any batch is yielded on its own, for ``validate_batch`` to report.
    """
    measure: Callable[[Any], int] = size if size is not None else message_size
    current: list[T] = []
    used = 0
    for item in items:
        measured = measure(item)
        extra = measured if not current else measured + 1  # the comma between items
        if current and (len(current) >= MAX_BATCH_ITEMS or used + extra > BATCH_BUDGET):
            yield current
            current, used, extra = [], 0, measured
        current.append(item)
        used += extra
    if current:
        yield current
