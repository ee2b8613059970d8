"""Profile API: a user's current traits, every page merged."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from segadmin.segment.client.public_api import MAX_PAGES, ApiError, api_error, invalid_answer
from segadmin.segment.client.request import (
    USER_AGENT,
    SegmentRequest,
    basic_auth,
    require_key,
)
from segadmin.segment.client.transport import Transport
from segadmin.segment.hosts import profiles_base

# Segment's external IDs a profile is looked up by (``email:`` when the space collects it).
IDENTIFIER_TYPES = ("user_id", "anonymous_id", "email")
PROFILE_PAGE_LIMIT = 200


def profile_traits_request(
    *,
    space_id: str,
    token: str,
    region: str,
    identifier_type: str,
    identifier: str,
    cursor: str | None = None,
) -> SegmentRequest:
    """``GET /v1/spaces/{space}/collections/users/profiles/{type}:{value}/traits``."""
    require_key(token, "The Profile API token")
    if identifier_type not in IDENTIFIER_TYPES:
        raise ValueError(f"identifier_type must be one of {IDENTIFIER_TYPES}")
    path = (
        f"/v1/spaces/{quote(space_id.strip(), safe='')}/collections/users/profiles/"
        f"{identifier_type}:{quote(identifier, safe='')}/traits"
    )
    query = [("limit", str(PROFILE_PAGE_LIMIT))]
    if cursor:
        query.append(("next", cursor))
    return SegmentRequest(
        api="profiles",
        method="GET",
        url=f"{profiles_base(region)}{path}?{urlencode(query, quote_via=quote)}",
        headers={
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": basic_auth(token),
        },
        body=None,
        call_type="profiles:traits",
        secrets=(token,),
    )


def get_profile_traits(
    *,
    space_id: str,
    token: str,
    region: str,
    identifier_type: str,
    identifier: str,
    transport: Transport,
) -> dict[str, Any] | ApiError:
    """The current traits of one user from the Profile API, all pages merged.

    A 404 becomes ``ApiError(kind="no_profile")``: Identify data takes a while to appear."""
    if not identifier or not identifier.strip():
        return ApiError("invalid_request", "Enter a User ID or an Anonymous ID to look up.", None)
    if not space_id or not space_id.strip():
        return ApiError("invalid_request", "The Profile API space ID is not set.", None)
    label = "user ID" if identifier_type == "user_id" else "anonymous ID"
    traits: dict[str, Any] = {}
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        request = profile_traits_request(
            space_id=space_id,
            token=token,
            region=region,
            identifier_type=identifier_type,
            identifier=identifier,
            cursor=cursor,
        )
        result = transport(request)
        if result.status == 404:
            return ApiError(
                "no_profile",
                f"No profile yet: Segment has no profile for the {label} {identifier!r}. "
                "Identify calls can take a few minutes to appear.",
                404,
            )
        if not result.ok:
            return api_error(
                result, secret=token, what="space", credential="Profile API access token"
            )
        body = result.json()
        if not isinstance(body, dict) or not isinstance(body.get("traits"), dict):
            return invalid_answer(result)
        traits.update(body["traits"])
        page = body.get("cursor")
        if not isinstance(page, dict):
            page = {}
        cursor = page.get("next") if page.get("has_more") else None
        if not cursor:
            return traits
        if cursor in seen:
            return invalid_answer(result)
        seen.add(str(cursor))
        cursor = str(cursor)
    return ApiError("invalid_response", "Segment returned too many pages of traits.", None)
