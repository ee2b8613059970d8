"""The request: ``SegmentRequest``, one HTTP request to Segment exactly as it will be sent,
and the small pieces every request builder shares."""

from __future__ import annotations

import base64
import gzip as gzip_module
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import segadmin
from segadmin.lib import userjson
from segadmin.segment import redaction

USER_AGENT = f"segadmin/{segadmin.__version__}"


def utc_now() -> datetime:
    # Aware, independent of Django's USE_TZ: the client also runs in benchmarks and the fake.
    return datetime.now(tz=UTC)


@dataclass(frozen=True, repr=False)
class SegmentRequest:
    """One HTTP request to Segment, exactly as it will be sent.

    ``secrets`` holds the credentials inside it so that ``redacted()`` can remove every copy;
    it is never part of ``repr()``.
    """

    api: Literal["tracking", "public", "profiles"]
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    call_type: str
    secrets: tuple[str, ...] = field(default=(), compare=False)

    def __repr__(self) -> str:
        return (
            f"SegmentRequest(api={self.api!r}, method={self.method!r}, "
            f"call_type={self.call_type!r}, url={redaction.scrub_text(self.url, self.secrets)!r})"
        )

    def decoded_body(self) -> bytes | None:
        """The body without its gzip encoding (None when there is no body or it is unreadable)."""
        if self.body is None:
            return None
        if header_value(self.headers, "Content-Encoding").lower() == "gzip":
            try:
                return gzip_module.decompress(self.body)
            except (OSError, EOFError):
                return None
        return self.body

    def body_object(self) -> Any | None:
        """The body parsed as JSON, or None when it is not JSON."""
        raw = self.decoded_body()
        if not raw:
            return None
        try:
            return userjson.body(raw)  # typed by a person in Make an API call: any depth
        except (ValueError, UnicodeDecodeError):
            return None

    def known_secrets(self) -> list[str]:
        """Every secret this request carries (see ``redaction.request_secrets``). Worked out
        once per request (a send asks twice: its audit entry, then its answer's redaction);
        a new list each time, so a caller may change its own. The headers are the one field
        that could change in place: the answer is kept with the headers it was worked out from."""
        headers = tuple(self.headers.items())
        cached = self.__dict__.get("_known_secrets")
        if cached is None or cached[0] != headers:
            cached = (headers, tuple(redaction.request_secrets(self)))
            object.__setattr__(self, "_known_secrets", cached)  # frozen: only this cache
        return list(cached[1])

    def redacted(self) -> dict[str, Any]:
        """``{"method", "url", "headers", "body"}`` safe to store and show: Authorization
        masked to its scheme, every write key in the body and every copy of a secret replaced
        by ``****``; the body decoded (JSON to an object, anything else to text)."""
        secrets = self.known_secrets()
        return {
            "method": self.method,
            "url": redaction.redact_url(self.url, secrets),
            "headers": redaction.redact_headers(self.headers, secrets),
            "body": redaction.redact_body(
                self.body,
                secrets,
                gzipped=header_value(self.headers, "Content-Encoding").lower() == "gzip",
                names=redaction.is_write_key_name,
            ),
        }

    def summary(self) -> dict[str, Any]:
        """The searchable IDs of the message sent (for a batch, of its first message)."""
        ids: dict[str, str | None] = dict.fromkeys(
            ("user_id", "anonymous_id", "event", "message_id")
        )
        body = self.body_object() if self.api == "tracking" else None
        message = body
        if isinstance(body, dict) and isinstance(body.get("batch"), list):
            message = body["batch"][0] if body["batch"] else None
        if not isinstance(message, dict):
            return ids
        for key, name in (
            ("user_id", "userId"),
            ("anonymous_id", "anonymousId"),
            ("event", "event"),
            ("message_id", "messageId"),
        ):
            value = message.get(name)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                ids[key] = redaction.scrub_text(str(value), self.secrets)
        return ids


def header_value(headers: Mapping[str, str], name: str) -> str:
    """The value of header ``name`` in any letter case, or "" when it is absent."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def basic_auth(secret: str) -> str:
    """``Authorization`` for Basic ``secret:`` (write keys, Profile API tokens)."""
    return "Basic " + base64.b64encode(f"{secret}:".encode()).decode()


def require_key(value: str, what: str) -> None:
    """Refuse to build a request without its credential (a bug in the caller, not input)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is empty")
