"""Tracking API request builders (pure, no I/O): one message, or a batch."""

from __future__ import annotations

import gzip as gzip_module
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from segadmin.segment.client.request import (
    USER_AGENT,
    SegmentRequest,
    basic_auth,
    require_key,
    utc_now,
)
from segadmin.segment.hosts import tracking_base
from segadmin.segment.messages import CALL_TYPES, batch_items, encode


def _sent_at(sent_at: datetime | None) -> str:
    value = sent_at or utc_now()
    if value.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    return value.isoformat()


def _tracking_headers(write_key: str, *, gzip: bool = False) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Authorization": basic_auth(write_key),
    }
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return headers


def tracking_request(
    message: dict[str, Any], *, write_key: str, region: str, sent_at: datetime | None = None
) -> SegmentRequest:
    """``POST {tracking}/v1/{type}`` with the message, ``sentAt`` (now, unless given) and
    ``writeKey`` in the body, and Basic auth ``writeKey:``."""
    require_key(write_key, "The write key")
    call_type = message.get("type")
    if call_type not in CALL_TYPES:
        raise ValueError(f"Unknown call type {call_type!r}")
    body = {**message, "sentAt": _sent_at(sent_at), "writeKey": write_key}
    return SegmentRequest(
        api="tracking",
        method="POST",
        url=f"{tracking_base(region)}/v1/{call_type}",
        headers=_tracking_headers(write_key),
        body=encode(body),
        call_type=call_type,
        secrets=(write_key,),
    )


def batch_request(
    messages: list[dict[str, Any]],
    *,
    write_key: str,
    region: str,
    gzip: bool = False,
    sent_at: datetime | None = None,
    encoded: Sequence[bytes] | None = None,
) -> SegmentRequest:
    """``POST {tracking}/v1/batch`` with ``{"batch", "sentAt", "writeKey"}``, gzipped on
    request. Validate and split first (``validate_batch``, ``split_into_batches``).
    ``encoded``: each message's ``encode(message)`` when the caller has it (the bulk worker):
    the body is joined from them, the same bytes as encoding ``messages`` again."""
    require_key(write_key, "The write key")
    # {"batch":[...],"sentAt":...,"writeKey":...}: what encode() makes of that dict.
    body = b"".join(
        (
            b'{"batch":',
            batch_items(messages, encoded),
            b',"sentAt":',
            encode(_sent_at(sent_at)),
            b',"writeKey":',
            encode(write_key),
            b"}",
        )
    )
    if gzip:
        body = gzip_module.compress(body, compresslevel=6, mtime=0)
    return SegmentRequest(
        api="tracking",
        method="POST",
        url=f"{tracking_base(region)}/v1/batch",
        headers=_tracking_headers(write_key, gzip=gzip),
        body=body,
        call_type="batch",
        secrets=(write_key,),
    )
