"""How a request and its result are shown: redacted, pretty, with a curl equivalent.

Previews are built with a placeholder credential, so no secret is ever decrypted to draw one;
`SegmentRequest.redacted()` then masks even that. Results show Segment's answer as
`SendResult.redacted()` gives it, the same redacted answer the audit log stores.
"""

from __future__ import annotations

import json
import shlex
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import Resolver404, get_urlconf, resolve

if TYPE_CHECKING:
    from segadmin.segment.client import SegmentRequest, SendResult
    from segadmin.sending import Sent

# Stands in for the write key or token in previews; never a real credential.
PLACEHOLDER = "segadmin-preview-placeholder-0f3c9a"
WRITE_KEY_VARIABLE = "$SEGMENT_WRITE_KEY"
TOKEN_VARIABLE = "$SEGMENT_TOKEN"  # noqa: S105 - the name of a shell variable


def pretty(body: Any) -> str:
    """An object as indented JSON, text as it is, nothing as an empty string."""
    if body is None:
        return ""
    if isinstance(body, dict | list):
        return json.dumps(body, indent=2, ensure_ascii=False)
    return str(body)


def curl_command(request: SegmentRequest, redacted: dict[str, Any] | None = None) -> str:
    """An equivalent curl command whose credential is an environment variable to fill in.

    The Tracking API takes the write key from Basic auth, so the body's ``writeKey`` is left
    out rather than shown masked. ``redacted``: ``request.redacted()`` when the caller has it.
    """
    redacted = redacted if redacted is not None else request.redacted()
    lines = [f"curl -X {request.method} {shlex.quote(request.url)}"]
    for name, value in redacted["headers"].items():
        if name.lower() == "authorization":
            if request.api == "tracking":
                lines.append(f'-u "{WRITE_KEY_VARIABLE}:"')
            elif request.api == "profiles":
                lines.append('-u "$SEGMENT_PROFILES_TOKEN:"')
            else:
                lines.append(f'-H "Authorization: Bearer {TOKEN_VARIABLE}"')
            continue
        if name.lower() in ("content-length", "user-agent", "x-retry-count"):
            continue
        lines.append(f"-H {shlex.quote(f'{name}: {value}')}")
    body = redacted["body"]
    if isinstance(body, dict) and "writeKey" in body:
        body = {k: v for k, v in body.items() if k != "writeKey"}
    if body not in (None, ""):
        text = (
            json.dumps(body, separators=(",", ":"), ensure_ascii=False)
            if isinstance(body, dict | list)
            else str(body)
        )
        lines.append(f"--data-binary {shlex.quote(text)}")
    return " \\\n  ".join(lines)


def describe_request(request: SegmentRequest, *, curl: bool = True) -> dict[str, Any]:
    """The request as a preview shows it; without ``curl`` (a result panel, which shows the
    method, URL and body of what was sent) the curl command is left out."""
    redacted = request.redacted()
    return {
        "api": request.api,
        "method": redacted["method"],
        "url": redacted["url"],
        "headers": sorted(redacted["headers"].items()),
        "body": pretty(redacted["body"]),
        "body_is_json": isinstance(redacted["body"], dict | list),
        "curl": curl_command(request, redacted) if curl else "",
    }


def audit_url(entry_id: Any) -> str | None:
    """The audit entry's page when the audit app serves one, else None (the id is shown)."""
    if not str(entry_id).isdigit() or not _serves_entries(get_urlconf() or settings.ROOT_URLCONF):
        return None
    return f"/audit/{entry_id}/"


@lru_cache(maxsize=8)
def _serves_entries(urlconf: Any) -> bool:
    """Whether ``urlconf`` serves the audit entries' pages (``/audit/<int:pk>/``). Asked once
    per URLconf, not once per send: the pattern takes every entry id alike, and resolving a
    path walks the patterns before it (0.1 ms of each send, measured)."""
    try:
        resolve("/audit/1/", urlconf)
    except Resolver404:
        return False
    return True


def is_a_send(request: SegmentRequest) -> bool:
    """A message to the Tracking API (not a read, not the Public or Profile API)."""
    return request.api == "tracking" and request.method not in ("GET", "HEAD", "OPTIONS")


def _verdict(request: SegmentRequest, result: SendResult, error: str) -> tuple[str, str]:
    """What happened, in words. Only a message sent to the Tracking API is "Sent" (Segment
    accepted it, which does not mean destinations received it); anything else, such as a
    Public API GET, reports Segment's answer."""
    if is_a_send(request):
        if result.status is None:
            return f"Not sent: no answer from Segment ({error}).", "danger"
        if result.ok:
            return "Sent: Segment accepted the request.", "success"
        if result.status == 429:
            return "Not sent: Segment's rate limit was reached. Try again shortly.", "warning"
        if result.status >= 500 or result.status == 460:
            return "Not sent: Segment had a temporary problem. Try again.", "danger"
        return "Not sent: Segment refused the request.", "danger"
    if result.status is None:
        return f"No answer from Segment ({error}).", "danger"
    if result.ok:
        return f"Segment answered {result.status}.", "success"
    if result.status == 429:
        return "Segment answered 429: its rate limit was reached. Try again shortly.", "warning"
    if result.status >= 500 or result.status == 460:
        return f"Segment answered {result.status}: a temporary problem. Try again.", "danger"
    return f"Segment answered {result.status}: it refused the request.", "danger"


def describe_result(sent: Sent, *, show_headers: bool = False) -> dict[str, Any]:
    """The result panel, drawn from the redacted answer the audit log stores (never the
    live body: the Public API lists write keys)."""
    result = sent.result
    answer = sent.redacted_answer()
    parsed = answer.json()
    body = pretty(parsed) if parsed is not None else answer.text()
    verdict, tone = _verdict(sent.request, result, answer.error)
    return {
        "ok": result.ok,
        "is_a_send": is_a_send(sent.request),
        "verdict": verdict,
        "tone": tone,
        "status": result.status,
        "error": answer.error,
        "attempts": result.attempts,
        "duration_ms": round(result.duration_ms, 1),
        "body": body,
        "body_is_json": parsed is not None,
        "headers": sorted(answer.headers.items()) if show_headers else [],
        "request": describe_request(sent.request, curl=False),
        "entry_id": sent.entry.pk,
        "audit_url": audit_url(sent.entry.pk),
    }
