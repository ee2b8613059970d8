"""Public API reads for Protocols tracking plans (segment-api-more.md §1), on the client's
request building: every page is one request through ``transport``, which the caller must pass
(there is no default that would send unaudited). ``segadmin.sending.plans`` passes the audited
workspace transport, which records each one; outside segadmin/sending/ these functions are
banned like the client's own (pyproject.toml, TID251).

Rules are read 200 a page (``pagination.count`` 200, as Segment's own clients do); the rules
route allows 200 requests a minute, and a 429 is waited out by the transport's retry profile
through its Retry-After (pass a background profile for imports). Answers are returned as
Segment sent them (rules as ``RuleV1`` dicts for ``plans.Plan.from_api``), with the texts that
are shown scrubbed of the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from segadmin.segment import redaction
from segadmin.segment.client.public_api import (
    MAX_PAGES,
    ApiError,
    answer_data,
    api_error,
    error_detail,
    invalid_answer,
    parse_source,
    public_request,
)
from segadmin.segment.client.transport import SendResult, Transport

RULES_PAGE_SIZE = 200
PAGE_SIZE = 200

NO_PROTOCOLS = (
    "Segment refused to show tracking plans (HTTP 403): the workspace needs the Protocols "
    "feature, and the token needs the Tracking Plan Read-only permission."
)


@dataclass(frozen=True)
class TrackingPlanInfo:
    """A ``TrackingPlanV1``: a plan without its rules."""

    id: str
    name: str
    slug: str
    description: str
    type: str
    updated_at: str


def _error(result: SendResult, token: str, what: str) -> ApiError:
    if result.status == 403:
        detail = error_detail(result, token)
        said = f" Segment said: {detail}" if detail else ""
        return ApiError("forbidden", f"{NO_PROTOCOLS}{said}", 403)
    return api_error(result, secret=token, what=what, credential="Public API token")


def _all_pages(
    path: str,
    key: str,
    *,
    token: str,
    region: str,
    transport: Transport,
    call_type: str,
    what: str,
    page_size: int = PAGE_SIZE,
    query: list[tuple[str, str]] | None = None,
) -> list[Any] | ApiError:
    """Every item of a paged list, following ``pagination.next`` until it is absent."""
    items: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        params = [*(query or []), ("pagination.count", str(page_size))]
        if cursor:
            params.append(("pagination.cursor", cursor))
        request = public_request(path, params, token=token, region=region, call_type=call_type)
        result = transport(request)
        if not result.ok:
            return _error(result, token, what)
        page = answer_data(result, key)
        if not isinstance(page, list):
            return invalid_answer(result)
        items.extend(page)
        pagination = answer_data(result, "pagination")
        cursor = pagination.get("next") if isinstance(pagination, dict) else None
        if not cursor:
            return items
        if cursor in seen:  # a cursor handed back twice would loop forever
            return invalid_answer(result)
        cursor = str(cursor)
        seen.add(cursor)
    return ApiError("invalid_response", f"Segment returned too many pages of {key}.", None)


def _plan_path(plan_id: str, tail: str = "") -> str:
    return f"/tracking-plans/{quote(str(plan_id), safe='')}{tail}"


def _shown(value: Any, token: str) -> str:
    return redaction.scrub_text(str(value or ""), [token])


def list_tracking_plans(
    *, token: str, region: str, transport: Transport, plan_type: str | None = None
) -> list[TrackingPlanInfo] | ApiError:
    """Every tracking plan of the token's workspace (``GET /tracking-plans``)."""
    listed = _all_pages(
        "/tracking-plans",
        "trackingPlans",
        token=token,
        region=region,
        transport=transport,
        call_type="public:list_tracking_plans",
        what="workspace",
        query=[("type", plan_type)] if plan_type else None,
    )
    if isinstance(listed, ApiError):
        return listed
    plans = []
    for item in listed:
        if not isinstance(item, dict) or not item.get("id"):
            return ApiError("invalid_response", "Segment listed a plan without an id.", None)
        plans.append(
            TrackingPlanInfo(
                id=_shown(item["id"], token),
                name=_shown(item.get("name") or item.get("slug") or item["id"], token),
                slug=_shown(item.get("slug"), token),
                description=_shown(item.get("description"), token),
                type=_shown(item.get("type"), token),
                updated_at=str(item.get("updatedAt") or ""),
            )
        )
    return plans


def list_rules(
    *, token: str, region: str, plan_id: str, transport: Transport
) -> list[dict[str, Any]] | ApiError:
    """Every rule of a plan (``GET /tracking-plans/{id}/rules``), 200 a page."""
    rules = _all_pages(
        _plan_path(plan_id, "/rules"),
        "rules",
        token=token,
        region=region,
        transport=transport,
        call_type="public:list_tracking_plan_rules",
        what="tracking plan",
        page_size=RULES_PAGE_SIZE,
    )
    if isinstance(rules, list) and not all(isinstance(rule, dict) for rule in rules):
        return ApiError("invalid_response", "Segment listed a rule that is not an object.", None)
    return rules


def list_plan_source_ids(
    *, token: str, region: str, plan_id: str, transport: Transport
) -> list[str] | ApiError:
    """The Segment ids of the sources connected to a plan (``GET …/sources``)."""
    listed = _all_pages(
        _plan_path(plan_id, "/sources"),
        "sources",
        token=token,
        region=region,
        transport=transport,
        call_type="public:list_tracking_plan_sources",
        what="tracking plan",
    )
    if isinstance(listed, ApiError):
        return listed
    ids = []
    for item in listed:
        source = parse_source(item, token)
        if source is None:
            return ApiError("invalid_response", "Segment listed a source without an id.", None)
        ids.append(source.id)
    return ids


def get_source_settings(
    *, token: str, region: str, source_id: str, transport: Transport
) -> dict[str, Any] | ApiError:
    """A source's Protocols settings: the ``settings`` object of ``GET /sources/{id}/settings``."""
    request = public_request(
        f"/sources/{quote(str(source_id), safe='')}/settings",
        [],
        token=token,
        region=region,
        call_type="public:get_source_settings",
    )
    result = transport(request)
    if not result.ok:
        return _error(result, token, "source")
    settings = answer_data(result, "settings")
    if not isinstance(settings, dict):
        return invalid_answer(result)
    return settings
