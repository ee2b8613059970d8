"""Raw requests (Make an API call): any path of the Tracking or the Public API, with the
checks that keep them on the configured Segment API and their headers safe."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal
from urllib.parse import quote, unquote, urlencode, urlsplit

from segadmin.segment.client.request import (
    USER_AGENT,
    SegmentRequest,
    basic_auth,
    header_value,
    require_key,
)
from segadmin.segment.errors import UnsafeRequest
from segadmin.segment.hosts import public_base, tracking_base

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# Set by us or by the HTTP layer; letting a person set them could redirect or split requests.
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "te",
        "trailer",
        "upgrade",
        "keep-alive",
        "expect",
    }
)


def _control(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def _check_path(path: Any) -> str:
    if not isinstance(path, str) or not path.strip():
        raise UnsafeRequest("path", "Enter a path such as /v1/track.")
    if _control(path):
        raise UnsafeRequest("path", "The path contains control characters.")
    if _SCHEME.match(path) or path.startswith("//"):
        raise UnsafeRequest("path", "Enter a path relative to the API, not a full URL.")
    if not path.startswith("/"):
        raise UnsafeRequest("path", "The path must start with /.")
    if any(char.isspace() for char in path):
        raise UnsafeRequest("path", "The path contains spaces: encode them as %20.")
    if "?" in path or "#" in path:
        raise UnsafeRequest("path", "Put query parameters in Query String, not in the path.")
    decoded = path
    for _ in range(3):  # double-encoded tricks (%252e%252e) included
        decoded = unquote(decoded)
    if "\\" in decoded:
        raise UnsafeRequest("path", "The path cannot contain backslashes.")
    if "@" in decoded:
        raise UnsafeRequest("path", "The path cannot contain @.")
    if ".." in decoded:
        raise UnsafeRequest("path", "The path cannot contain '..'.")
    if decoded.startswith("//") or _control(decoded):
        raise UnsafeRequest("path", "The path cannot contain encoded slashes or controls.")
    return path


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise UnsafeRequest("headers", f"{str(name)[:40]!r} is not a valid header name.")
        if name.lower() in ("authorization", "proxy-authorization"):
            raise UnsafeRequest(
                "headers",
                "Authorization is set from the stored credential; remove it from Headers.",
            )
        if name.lower() in _RESERVED_HEADERS:
            raise UnsafeRequest("headers", f"The {name} header is set automatically; remove it.")
        text = "" if value is None else str(value)
        if any(char in text for char in "\r\n\x00") or _control(text.replace("\t", "")):
            raise UnsafeRequest("headers", f"The value of {name} contains a line break or control.")
        checked[name] = text
    return checked


def _query_string(query: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> str:
    if not query:
        return ""
    pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
    try:
        clean = [(str(key), "" if value is None else str(value)) for key, value in pairs]
    except (TypeError, ValueError):
        raise UnsafeRequest("query", "Query String must be name/value pairs.") from None
    return urlencode(clean, quote_via=quote)


def _raw_request(
    *,
    api: Literal["tracking", "public"],
    base: str,
    method: str,
    path: str,
    headers: Mapping[str, str] | None,
    query: Any,
    body: str | bytes | None,
    authorization: str,
    secret: str,
) -> SegmentRequest:
    verb = (method or "").strip().upper()
    if verb not in _METHODS:
        raise UnsafeRequest("method", f"Method must be one of {', '.join(_METHODS)}.")
    url = base + _check_path(path)
    query_string = _query_string(query)
    if query_string:
        url = f"{url}?{query_string}"
    target, expected = urlsplit(url), urlsplit(base)
    if (target.scheme, target.netloc) != (expected.scheme, expected.netloc) or not (
        target.path.startswith(expected.path)
    ):
        raise UnsafeRequest("path", "The request must go to the configured Segment API.")
    final_headers = {"User-Agent": USER_AGENT}
    final_headers.update(_check_headers(headers))
    payload = body.encode() if isinstance(body, str) else body
    if payload is not None and not header_value(final_headers, "Content-Type"):
        final_headers["Content-Type"] = "application/json"
    final_headers["Authorization"] = authorization
    return SegmentRequest(
        api=api,
        method=verb,
        url=url,
        headers=final_headers,
        body=payload,
        call_type="raw",
        secrets=(secret,),
    )


def raw_tracking_request(
    *,
    method: str,
    path: str,
    headers: dict[str, str],
    query: dict[str, str] | list[tuple[str, str]],
    body: str | bytes | None,
    write_key: str,
    region: str,
) -> SegmentRequest:
    """Any request to a path of the Tracking API, authorised by Basic ``writeKey:``.

    Raises ``UnsafeRequest(field, message)`` for anything that could leave the configured
    base (full URLs, ``//host``, ``..``, ``@``, backslashes, controls), header injection, or an
    ``Authorization`` header given by the caller."""
    require_key(write_key, "The write key")
    return _raw_request(
        api="tracking",
        base=tracking_base(region),
        method=method,
        path=path,
        headers=headers,
        query=query,
        body=body,
        authorization=basic_auth(write_key),
        secret=write_key,
    )


def raw_public_request(
    *,
    method: str,
    path: str,
    headers: dict[str, str],
    query: dict[str, str] | list[tuple[str, str]],
    body: str | bytes | None,
    token: str,
    region: str,
) -> SegmentRequest:
    """Any request to a path of the Public API with ``Authorization: Bearer <token>``; the
    same checks as ``raw_tracking_request``."""
    require_key(token, "The token")
    return _raw_request(
        api="public",
        base=public_base(region),
        method=method,
        path=path,
        headers=headers,
        query=query,
        body=body,
        authorization=f"Bearer {token}",
        secret=token,
    )
