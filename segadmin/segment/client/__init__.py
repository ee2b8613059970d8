"""The only code that speaks HTTP to Segment: Tracking API, Public API and Profile API.

Requests are built by pure functions (``tracking_request``, ``batch_request``, the raw
builders, the Public and Profile API helpers) into a ``SegmentRequest``, which the caller can
record (``redacted()``) before ``send`` puts it on the wire. ``send`` never raises for HTTP or
network failures: it returns a ``SendResult`` with the status, the body, the number of attempts
and a readable reason. Retries follow Segment's policy (segment-api.md §5) through urllib3's
``Retry`` on a ``requests`` adapter, with an interactive and a background profile.

Nothing here logs a secret: ``repr()`` of a request hides its headers and body, and
``SegmentRequest.redacted()`` and ``SendResult.redacted()`` remove every secret through
``segadmin.segment.redaction``, the one module that knows what a secret looks like.

A package by concern: ``request`` (the request), ``transport`` (``send``, retries, the
result), ``tracking`` (Tracking API builders), ``raw`` (raw requests and their safety checks),
``public_api`` (workspace, sources, ``ApiError``), ``profile_api`` (traits) and
``tracking_plans`` (tracking-plan reads). This module re-exports their public names, so
``client.send`` and ``from segadmin.segment.client import SegmentRequest`` keep working.
"""

from __future__ import annotations

from segadmin.segment.client.profile_api import (
    IDENTIFIER_TYPES,
    PROFILE_PAGE_LIMIT,
    get_profile_traits,
    profile_traits_request,
)
from segadmin.segment.client.public_api import (
    MAX_PAGES,
    WRITE_KEYS_HIDDEN,
    ApiError,
    Source,
    Workspace,
    get_source,
    get_workspace,
    list_sources,
    sources_hide_write_keys,
)
from segadmin.segment.client.raw import raw_public_request, raw_tracking_request
from segadmin.segment.client.request import USER_AGENT, SegmentRequest
from segadmin.segment.client.tracking import batch_request, tracking_request
from segadmin.segment.client.transport import (
    BACKGROUND,
    INTERACTIVE,
    RETRY_STATUSES,
    RetryProfile,
    SegmentRetry,
    SendResult,
    Transport,
    send,
)

__all__ = [
    "BACKGROUND",
    "IDENTIFIER_TYPES",
    "INTERACTIVE",
    "MAX_PAGES",
    "PROFILE_PAGE_LIMIT",
    "RETRY_STATUSES",
    "USER_AGENT",
    "WRITE_KEYS_HIDDEN",
    "ApiError",
    "RetryProfile",
    "SegmentRequest",
    "SegmentRetry",
    "SendResult",
    "Source",
    "Transport",
    "Workspace",
    "batch_request",
    "get_profile_traits",
    "get_source",
    "get_workspace",
    "list_sources",
    "profile_traits_request",
    "raw_public_request",
    "raw_tracking_request",
    "send",
    "sources_hide_write_keys",
    "tracking_request",
]
