"""End User Privacy on the Public API (segment-api-more.md §2): regulations and suppressions.

``regulation_request`` builds one create request (``POST /regulations`` or
``/regulations/sources/{id}``) of at most 5,000 subject IDs; ``create_regulation``,
``get_regulation`` and ``list_suppressions`` put requests through the ``transport`` the caller
passes (there is no default that would send unaudited): ``segadmin.sending.privacy`` passes
the audited workspace transport. Outside segadmin/sending/ these three are banned like the
client's own sending functions (pyproject.toml, TID251).

A create is never retried by the transport (the caller passes a profile without retries):
Segment has no idempotency key for regulations, and each chunk must leave at most once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote

from segadmin.lib.ids import whole_number
from segadmin.segment import redaction
from segadmin.segment.client.public_api import (
    MAX_PAGES,
    ApiError,
    answer_data,
    api_error,
    error_detail,
    invalid_answer,
    public_request,
)
from segadmin.segment.client.request import USER_AGENT, SegmentRequest, require_key
from segadmin.segment.client.transport import SendResult, Transport

__all__ = [
    "MAX_IDS_PER_CALL",
    "CreateFailed",
    "Created",
    "Quota",
    "RegulationStatus",
    "SegmentRequest",
    "SendResult",
    "Suppressed",
    "create_regulation",
    "get_regulation",
    "list_suppressions",
    "regulation_request",
]
from segadmin.segment.hosts import public_base

MAX_IDS_PER_CALL = 5000
WORKSPACE_TYPES = (
    "SUPPRESS_ONLY",
    "SUPPRESS_WITH_DELETE",
    "SUPPRESS_WITH_DELETE_INTERNAL",
    "DELETE_ONLY",
    "DELETE_INTERNAL",
    "UNSUPPRESS",
)
SOURCE_TYPES = (*WORKSPACE_TYPES, "DELETE_ARCHIVE_ONLY")
# Subject types segadmin offers: a workspace takes USER_ID (OBJECT_ID is for cloud sources),
# a source USER_ID (ANONYMOUS_ID only with DELETE_ARCHIVE_ONLY on limited workspaces).
SUBJECT_TYPES = ("USER_ID",)
STATUSES = (
    "INITIALIZED",
    "INVALID",
    "NOT_SUPPORTED",
    "RUNNING",
    "PARTIAL_SUCCESS",
    "FAILED",
    "FINISHED",
)
ENDED_STATUSES = frozenset({"INVALID", "NOT_SUPPORTED", "PARTIAL_SUCCESS", "FAILED", "FINISHED"})

NO_PRIVACY_SCOPE = (
    "Segment refused the request (HTTP 403): the workspace's Public API token needs the "
    "privacy scope (a Workspace Owner token, or one with the Privacy role)."
)


@dataclass(frozen=True)
class Quota:
    """What Segment's quota headers said on a create answer (both may be absent)."""

    remaining: int | None = None
    reset: str = ""


@dataclass(frozen=True)
class Created:
    regulate_id: str
    quota: Quota


@dataclass(frozen=True)
class CreateFailed:
    """A create that did not give a regulation: the error, and the quota headers if any."""

    error: ApiError
    quota: Quota


@dataclass(frozen=True)
class RegulationStatus:
    id: str
    status: str
    created_at: str = ""
    finished_at: str = ""
    destinations: tuple[dict[str, str], ...] = field(default=())


@dataclass(frozen=True)
class Suppressed:
    subject_type: str
    subject_ids: tuple[str, ...]


def quota_of(result: SendResult) -> Quota:
    headers = {name.lower(): value for name, value in result.headers.items()}
    remaining_text = headers.get("x-ratelimit-remaining", "").strip()
    remaining = whole_number(remaining_text)
    return Quota(remaining=remaining, reset=headers.get("x-ratelimit-reset", "")[:64])


def regulation_request(
    *,
    token: str,
    region: str,
    source_id: str | None,
    regulation_type: str,
    subject_type: str,
    subject_ids: list[str],
) -> SegmentRequest:
    """``POST /regulations`` (the whole workspace) or ``/regulations/sources/{source_id}``."""
    require_key(token, "The token")
    types = SOURCE_TYPES if source_id else WORKSPACE_TYPES
    if regulation_type not in types:
        raise ValueError(f"{regulation_type!r} is not a regulation type for this scope")
    if not subject_ids or len(subject_ids) > MAX_IDS_PER_CALL:
        raise ValueError(f"A regulation names 1 to {MAX_IDS_PER_CALL} subjects")
    path = "/regulations"
    if source_id:
        path += "/sources/" + quote(source_id, safe="")
    body = {
        "regulationType": regulation_type,
        "subjectType": subject_type,
        "subjectIds": list(subject_ids),
    }
    return SegmentRequest(
        api="public",
        method="POST",
        url=public_base(region) + path,
        headers={
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {token}",
        },
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        call_type="public:create_regulation",
        secrets=(token,),
    )


def _error(result: SendResult, token: str, what: str) -> ApiError:
    if result.status == 403:
        detail = error_detail(result, token)
        said = f" Segment said: {detail}" if detail else ""
        return ApiError("forbidden", f"{NO_PRIVACY_SCOPE}{said}", 403)
    if result.status == 422:
        detail = error_detail(result, token)
        said = f" Segment said: {detail}" if detail else ""
        return ApiError("invalid_request", f"Segment refused the request (HTTP 422).{said}", 422)
    if result.status == 429:
        quota = quota_of(result)
        detail = error_detail(result, token)
        said = f" Segment said: {detail}" if detail else ""
        left = f" {quota.remaining} left" if quota.remaining is not None else ""
        reset = f", resets {quota.reset}" if quota.reset else ""
        return ApiError(
            "rate_limited",
            f"Segment is limiting regulations (HTTP 429; quota{left}{reset}).{said}",
            429,
        )
    return api_error(result, secret=token, what=what, credential="Public API token")


def create_regulation(request: SegmentRequest, *, transport: Transport) -> Created | CreateFailed:
    """Send one create built by ``regulation_request``: Segment's regulation ID, or why not."""
    token = request.secrets[0] if request.secrets else ""
    result = transport(request)
    quota = quota_of(result)
    if not result.ok:
        return CreateFailed(_error(result, token, "workspace"), quota)
    regulate_id = answer_data(result, "regulateId")
    if not isinstance(regulate_id, str) or not regulate_id.strip():
        return CreateFailed(invalid_answer(result), quota)
    return Created(redaction.scrub_text(regulate_id, [token])[:64], quota)


def get_regulation(
    *, token: str, region: str, regulate_id: str, transport: Transport
) -> RegulationStatus | ApiError:
    """One regulation's overall status (``GET /regulations/{id}``)."""
    request = public_request(
        "/regulations/" + quote(regulate_id, safe=""),
        [],
        token=token,
        region=region,
        call_type="public:get_regulation",
    )
    result = transport(request)
    if not result.ok:
        return _error(result, token, "regulation")
    regulation = answer_data(result, "regulation")
    if not isinstance(regulation, dict):
        return invalid_answer(result)
    status = regulation.get("overallStatus")
    if status not in STATUSES:
        return invalid_answer(result)
    destinations: list[dict[str, str]] = []
    for stream in regulation.get("streamStatus") or []:
        if not isinstance(stream, dict):
            continue
        for item in stream.get("destinationStatus") or []:
            if isinstance(item, dict):
                destinations.append(
                    {
                        key: redaction.scrub_text(str(item.get(key) or ""), [token])[:300]
                        for key in ("name", "status", "errString", "finishedAt")
                    }
                )
    return RegulationStatus(
        id=regulate_id,
        status=str(status),
        created_at=str(regulation.get("createdAt") or "")[:40],
        finished_at=str(regulation.get("finishedAt") or "")[:40],
        destinations=tuple(destinations),
    )


def list_suppressions(
    *, token: str, region: str, transport: Transport, page_size: int = 200
) -> list[Suppressed] | ApiError:
    """Every current suppression (``GET /suppressions``), following the cursor."""
    found: dict[str, list[str]] = {}
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        query = [("pagination.count", str(page_size))]
        if cursor:
            query.append(("pagination.cursor", cursor))
        request = public_request(
            "/suppressions", query, token=token, region=region, call_type="public:suppressions"
        )
        result = transport(request)
        if not result.ok:
            return _error(result, token, "workspace")
        page = answer_data(result, "suppressed")
        if not isinstance(page, list):
            return invalid_answer(result)
        for group in page:
            if not isinstance(group, dict) or not isinstance(group.get("subjectIds"), list):
                return invalid_answer(result)
            kind = redaction.scrub_text(str(group.get("subjectType") or ""), [token])
            found.setdefault(kind, []).extend(
                redaction.scrub_text(str(item), [token]) for item in group["subjectIds"]
            )
        pagination = answer_data(result, "pagination")
        cursor = pagination.get("next") if isinstance(pagination, dict) else None
        if not cursor:
            return [Suppressed(kind, tuple(ids)) for kind, ids in found.items()]
        if cursor in seen:
            return invalid_answer(result)
        cursor = str(cursor)
        seen.add(cursor)
    return ApiError("invalid_response", "Segment returned too many pages of suppressions.", None)
