"""Public API reads: the token's workspace and its sources, and how an answer that cannot
be used becomes an ``ApiError`` in words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from segadmin.segment import redaction
from segadmin.segment.client.request import (
    USER_AGENT,
    SegmentRequest,
    require_key,
)
from segadmin.segment.client.transport import SendResult, Transport
from segadmin.segment.hosts import public_base


@dataclass(frozen=True)
class ApiError:
    """A Public or Profile API call that did not give an answer we can use."""

    kind: str
    message: str
    status: int | None


@dataclass(frozen=True)
class Workspace:
    id: str
    slug: str
    name: str


@dataclass(frozen=True)
class Source:
    id: str
    slug: str
    name: str
    enabled: bool
    write_keys: tuple[str, ...] = field(default=(), repr=False)
    labels: dict[str, str] = field(default_factory=dict)
    workspace_id: str = ""
    source_type: str = ""  # the catalog name, e.g. "Javascript", "HTTP API"


WRITE_KEYS_HIDDEN = (
    "The token has no Source Admin permission, so write keys are hidden. Give the token the "
    "Source Admin role in Segment (Access Management > Tokens), or enter write keys by hand."
)
MAX_PAGES = 1000


def sources_hide_write_keys(sources: list[Source] | ApiError) -> bool:
    """True when sources came back but none with a write key: the token lacks Source Admin."""
    if isinstance(sources, ApiError) or not sources:
        return False
    return not any(source.write_keys for source in sources)


def public_request(
    path: str, query: list[tuple[str, str]], *, token: str, region: str, call_type: str
) -> SegmentRequest:
    """``GET {public}{path}?{query}`` with ``Authorization: Bearer <token>``: every Public
    API read (workspace, sources, tracking plans) is built here."""
    require_key(token, "The token")
    url = public_base(region) + path
    if query:
        url += "?" + urlencode(query, quote_via=quote)
    return SegmentRequest(
        api="public",
        method="GET",
        url=url,
        headers={
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {token}",
        },
        body=None,
        call_type=call_type,
        secrets=(token,),
    )


def error_detail(result: SendResult, secret: str) -> str:
    """Segment's own words from an error body (Public or Profile API shape), if any, read from
    the redacted answer: an error that quotes a credential shows it masked."""
    body = result.redacted([secret]).json()
    text = ""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            text = str(errors[0].get("message") or "")
        elif isinstance(body.get("error"), dict):
            text = str(body["error"].get("message") or "")
    return text[:300]


def api_error(result: SendResult, *, secret: str, what: str, credential: str) -> ApiError:
    """A failed Public or Profile API answer in words: what went wrong with the ``credential``
    or the ``what`` it reads, and Segment's own words when it gave some (secret masked)."""
    status = result.status
    detail = error_detail(result, secret)
    said = f" Segment said: {detail}" if detail else ""
    if status is None:
        reason = redaction.redact_message(result.error, [secret])
        return ApiError("network", f"Could not reach Segment: {reason}.", None)
    if status in (401, 403):
        return ApiError(
            "unauthorized",
            f"Segment refused the {credential}: check that it is right and still active, and "
            f"that it has access to this {what}.{said}",
            status,
        )
    if status == 404:
        return ApiError("not_found", f"Segment found no such {what}.{said}", status)
    if status == 429:
        wait = result.headers.get("Retry-After")
        when = f" in {wait} s" if wait and wait.isdigit() else " in a minute"
        return ApiError(
            "rate_limited", f"Segment is limiting the request rate: try again{when}.", status
        )
    if status >= 500 or status == 460:
        return ApiError(
            "server_error",
            f"Segment had a temporary problem (HTTP {status}): try again shortly.{said}",
            status,
        )
    if 300 <= status < 400:
        return ApiError(
            "invalid_response",
            f"Segment answered with a redirect (HTTP {status}); check the API URL setting.",
            status,
        )
    if 200 <= status < 300:
        return ApiError("invalid_response", "Segment's answer could not be read.", status)
    return ApiError("request_failed", f"Segment refused the request (HTTP {status}).{said}", status)


def invalid_answer(result: SendResult) -> ApiError:
    """A successful answer whose body is not what the API documents."""
    return ApiError("invalid_response", "Segment's answer could not be read.", result.status)


def answer_data(result: SendResult, key: str) -> Any:
    """``data[key]`` of a Public API answer, or None when the body has no such field."""
    body = result.json()
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        return body["data"].get(key)
    return None


def parse_source(item: Any, token: str) -> Source | None:
    """A source from the Public API. Only ``write_keys`` holds secrets; every text that is
    shown or stored (name, slug, labels, ...) is scrubbed of them and of the token."""
    if not isinstance(item, dict) or not item.get("id"):
        return None
    write_keys = tuple(str(key) for key in item.get("writeKeys") or () if key)
    secrets = (token, *write_keys)

    def shown(value: Any) -> str:
        return redaction.scrub_text(str(value), secrets)

    labels = {}
    for label in item.get("labels") or []:
        if isinstance(label, dict) and "key" in label:
            labels[shown(label["key"])] = shown(label.get("value", ""))
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    return Source(
        id=shown(item["id"]),
        slug=shown(item.get("slug") or ""),
        name=shown(item.get("name") or item.get("slug") or item["id"]),
        enabled=bool(item.get("enabled", True)),
        write_keys=write_keys,
        labels=labels,
        workspace_id=shown(item.get("workspaceId") or ""),
        source_type=shown(metadata.get("name") or ""),
    )


def get_workspace(*, token: str, region: str, transport: Transport) -> Workspace | ApiError:
    """The workspace the Public API token belongs to (``GET /``)."""
    request = public_request("/", [], token=token, region=region, call_type="public:get_workspace")
    result = transport(request)
    if not result.ok:
        return api_error(result, secret=token, what="workspace", credential="Public API token")
    workspace = answer_data(result, "workspace")
    if not isinstance(workspace, dict) or not workspace.get("id"):
        return invalid_answer(result)

    def shown(value: Any) -> str:  # what is shown and stored never holds the token
        return redaction.scrub_text(str(value), [token])

    return Workspace(
        id=shown(workspace["id"]),
        slug=shown(workspace.get("slug") or ""),
        name=shown(workspace.get("name") or workspace.get("slug") or workspace["id"]),
    )


def list_sources(
    *, token: str, region: str, transport: Transport, page_size: int = 200
) -> list[Source] | ApiError:
    """Every source of the token's workspace, following the cursor over all pages (one
    request per page through ``transport``). See ``sources_hide_write_keys``."""
    count = str(max(1, min(1000, int(page_size))))
    sources: list[Source] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        query = [("pagination.count", count)]
        if cursor:
            query.append(("pagination.cursor", cursor))
        request = public_request(
            "/sources", query, token=token, region=region, call_type="public:list_sources"
        )
        result = transport(request)
        if not result.ok:
            return api_error(result, secret=token, what="workspace", credential="Public API token")
        page = answer_data(result, "sources")
        if not isinstance(page, list):
            return invalid_answer(result)
        for item in page:
            source = parse_source(item, token)
            if source is None:
                return invalid_answer(result)
            sources.append(source)
        pagination = answer_data(result, "pagination")
        cursor = pagination.get("next") if isinstance(pagination, dict) else None
        if not cursor:
            return sources
        if cursor in seen:  # a server that hands back a cursor twice would loop forever
            return invalid_answer(result)
        seen.add(str(cursor))
        cursor = str(cursor)
    return ApiError("invalid_response", "Segment returned too many pages of sources.", None)


def get_source(
    *, token: str, region: str, source_id: str, transport: Transport
) -> Source | ApiError:
    """One source by id (``GET /sources/{id}``)."""
    if not source_id or not str(source_id).strip():
        return ApiError("invalid_request", "Enter a source ID.", None)
    request = public_request(
        f"/sources/{quote(str(source_id).strip(), safe='')}",
        [],
        token=token,
        region=region,
        call_type="public:get_source",
    )
    result = transport(request)
    if not result.ok:
        return api_error(result, secret=token, what="source", credential="Public API token")
    source = parse_source(answer_data(result, "source"), token)
    return source if source is not None else invalid_answer(result)
