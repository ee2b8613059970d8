"""The one place that removes secrets from what segadmin stores, logs and shows.

Every copy of a request to Segment or of Segment's answer that leaves memory — the audit log,
its exports, the client's log lines, result panels, error messages — goes through these
functions, so there is one definition of what a secret looks like:

- a *known* secret value (the write key or token the request carried) in any form it can
  travel in: as is, percent-encoded, JSON-escaped, hex, and base64 (standard and URL-safe,
  padded or not) of the value and of Basic auth's ``value:`` (``encodings``, ``scrub_text``,
  ``scrub_bytes``);
- a header that carries credentials: ``Authorization`` keeps its scheme, any header named like
  a secret (``X-Api-Token``, ``Cookie``, ``Set-Cookie``, ...) is masked whole
  (``redact_headers``);
- in JSON, any value under a key named like a secret (``writeKey``, ``writeKeys``,
  ``accessToken``, ``client_secret``, ``password``, ``token``, ...) at any depth
  (``redact_json``). Request bodies mask only write keys by name, so the traits people send
  stay readable; known secret values are scrubbed everywhere regardless.

Answers are redacted by ``redact_answer``: the audit log stores its result and the screens
show the same result, never the live body.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from segadmin.lib import userjson

if TYPE_CHECKING:
    from segadmin.segment.client import SegmentRequest

MASK = "****"
_MASK_BYTES = MASK.encode()

# A name is "like a secret" when, lower-cased with everything but letters and digits removed
# and a plural "s" dropped, it ends with one of these: accessToken, refresh_token, X-Api-Token,
# client_secret, writeKeys, Set-Cookie. "key" alone is not one (Segment's labels are
# {"key", "value"} pairs), nor is "tokenType".
_SECRET_ENDINGS = (
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "writekey",
    "apikey",
    "accesskey",
    "privatekey",
    "secretkey",
    "signingkey",
    "authorization",
    "credential",
    "cookie",
    "sessionid",
)
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
# Answers are parsed only when a secret-looking name could be in them: the Tracking API's
# {"success": true} is stored byte for byte, with no parse.
_MAYBE_SECRET_NAME = re.compile(
    rb"(?i)token|secret|passw|passphrase|key|authori[sz]ation|credential|cookie|session"
)
_WRITE_KEY_IN_TEXT = re.compile(r'("write_?keys?"\s*:\s*)"[^"]*"', re.I)
_WRITE_KEY_IN_QUERY = re.compile(r"(?i)([?&]write_?keys?=)[^&#]*")


# --- names ----------------------------------------------------------------------------------


def _normalised(name: str) -> str:
    text = _NOT_ALNUM.sub("", str(name).lower())
    return text[:-1] if text.endswith("s") and len(text) > 1 else text


def is_secret_name(name: str) -> bool:
    """True for a JSON key or header name that holds a credential."""
    return _normalised(name).endswith(_SECRET_ENDINGS)


def is_write_key_name(name: str) -> bool:
    """True for ``writeKey``, ``writeKeys``, ``write_key`` and the like."""
    return _normalised(name) == "writekey"


# --- known secret values --------------------------------------------------------------------


def encodings(secret: str) -> frozenset[str]:
    """Every form in which ``secret`` can travel: as is, percent-encoded (both styles),
    JSON-escaped, hex (both cases), and base64 — standard and URL-safe, padded or not — of
    the secret and of Basic auth's ``secret:``.

    Remembered for the last few secrets, in this process's memory only (one send asks for the
    forms of its write key a dozen times: recording the request, its outcome, the panel)."""
    return _encodings(secret)


@lru_cache(maxsize=64)
def _encodings(secret: str) -> frozenset[str]:
    if not secret:
        return frozenset()
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for raw in (secret.encode(), f"{secret}:".encode()):
        hexed = binascii.hexlify(raw).decode()
        forms.update({hexed, hexed.upper()})
        for encoder in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encoder(raw).decode()
            forms.update({encoded, encoded.rstrip("=")})
    forms.discard("")
    return frozenset(forms)


def forms_of(secrets: Iterable[str]) -> list[str]:
    """The encodings of every secret, longest first, so that a longer form is masked whole
    (base64 of ``key:`` before base64 of ``key``)."""
    return list(_forms_of(tuple(secrets)))


@lru_cache(maxsize=64)
def _forms_of(secrets: tuple[str, ...]) -> tuple[str, ...]:
    forms: set[str] = set()
    for secret in secrets:
        forms |= _encodings(secret)
    return tuple(sorted(forms, key=len, reverse=True))


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every secret replaced by ``****``."""
    return _scrub(text, forms_of(secrets))


def scrub_bytes(data: bytes, secrets: Iterable[str]) -> bytes:
    """``scrub_text`` for bytes, without decoding them: a few C-level replaces, which is what
    keeps recording a 500 KB batch cheap."""
    for form in forms_of(secrets):
        raw = form.encode()
        if raw in data:
            data = data.replace(raw, _MASK_BYTES)
    return data


def _scrub(text: str, forms: list[str]) -> str:
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def request_secrets(request: SegmentRequest) -> list[str]:
    """Every secret ``request`` carries: the ones the client says it holds, the credential
    of its Authorization header (for Basic auth also the decoded user and password), and for
    a body the person typed (a raw call), every ``writeKey`` in it."""
    found: set[str] = {secret for secret in request.secrets if secret}
    for name, value in request.headers.items():
        if name.lower() not in ("authorization", "proxy-authorization"):
            continue
        scheme, _, credential = value.partition(" ")
        credential = credential.strip()
        if not credential:
            continue
        found.add(credential)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode()
            except ValueError:
                continue
            user, _, password = decoded.partition(":")
            found.update(part for part in (decoded, user, password) if part)
    if request.body and request.call_type == "raw":
        found.update(_write_keys(request.body_object()))
    # Fragments shorter than four characters would mask unrelated text and hide nothing.
    return _without_repeats(s for s in found if len(s) >= 4)


def _without_repeats(secrets: Iterable[str]) -> list[str]:
    """The secrets minus those another one already covers (Basic auth's ``key:`` and its
    base64 are forms of ``key``), longest first: fewer forms to look for in every body, which
    is what keeps recording a bulk batch cheap."""
    kept: list[str] = []
    covered: set[str] = set()
    for secret in sorted(set(secrets), key=len):
        if secret in covered or (secret.endswith(":") and secret[:-1] in kept):
            continue
        kept.append(secret)
        covered |= encodings(secret)
    return sorted(kept, key=len, reverse=True)


def _write_keys(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if is_write_key_name(str(key)) and isinstance(item, str):
                yield item
            elif is_write_key_name(str(key)) and isinstance(item, list):
                yield from (key for key in item if isinstance(key, str))
            else:
                yield from _write_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _write_keys(item)


# --- structures -----------------------------------------------------------------------------


def redact_json(
    value: Any, secrets: Iterable[str] = (), *, names: Callable[[str], bool] = is_secret_name
) -> Any:
    """A copy of a parsed JSON value with every value under a key for which ``names`` is
    true masked, at any depth, and every form of a known secret scrubbed from every string
    (keys included). ``names=is_write_key_name`` masks only write keys (request bodies)."""
    return _redact_value(value, forms_of(secrets), names)


def _redact_value(value: Any, forms: list[str], names: Callable[[str], bool]) -> Any:
    if isinstance(value, dict):
        return {
            _scrub(str(key), forms): (
                _masked(item) if names(str(key)) else _redact_value(item, forms, names)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(item, forms, names) for item in value]
    if isinstance(value, str):
        return _scrub(value, forms)
    return value


def _masked(value: Any) -> Any:
    """Everything under a secret's name: strings and numbers become ``****``; empty values,
    booleans and null stay (they hold no secret and say whether one is set)."""
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if value is None or value == "" or isinstance(value, bool):
        return value
    return MASK


def redact_headers(headers: Mapping[str, str], secrets: Iterable[str] = ()) -> dict[str, str]:
    """Headers safe to store and show: ``Authorization`` masked to its scheme
    (``Bearer ****``), any header named like a secret masked whole, and every form of a
    known secret scrubbed from the others."""
    return _redact_headers(headers, forms_of(secrets))


def _redact_headers(headers: Mapping[str, str], forms: list[str]) -> dict[str, str]:
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        text = str(value)
        if name.lower() in ("authorization", "proxy-authorization"):
            scheme = text.split(" ", 1)[0] if " " in text.strip() else ""
            redacted[name] = f"{scheme} {MASK}" if scheme else MASK
        elif is_secret_name(name):
            redacted[name] = MASK if text else text
        else:
            redacted[name] = _scrub(text, forms)
    return redacted


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    """A URL with any ``writeKey=`` parameter masked and every form of a known secret
    scrubbed."""
    return scrub_text(_WRITE_KEY_IN_QUERY.sub(rf"\1{MASK}", url), secrets)


def redact_body(
    body: bytes | None,
    secrets: Iterable[str] = (),
    *,
    gzipped: bool = False,
    names: Callable[[str], bool] = is_secret_name,
) -> Any:
    """A body to store or show: None without one; JSON as a redacted object (``redact_json``);
    anything else as text, scrubbed, with ``"writeKey": "..."`` masked."""
    if body is None:
        return None
    raw = body
    if gzipped:
        try:
            raw = gzip.decompress(body)
        except (OSError, EOFError):
            return f"<{len(body)} bytes of gzip data that could not be decoded>"
    forms = forms_of(secrets)
    try:
        parsed = userjson.body(raw)
    except (ValueError, UnicodeDecodeError):
        text = _WRITE_KEY_IN_TEXT.sub(rf'\1"{MASK}"', raw.decode("utf-8", errors="replace"))
        return _scrub(text, forms)
    return _redact_value(parsed, forms, names)


def redact_message(text: str | None, secrets: Iterable[str] = ()) -> str:
    """A sentence to show (an error reason, Segment's own words) with known secrets
    scrubbed."""
    return scrub_text(text or "", secrets)


# A secret typed into free text, named: "token: abc", "password=abc", "Bearer abc".
_NAMED_SECRET_IN_TEXT = re.compile(
    r"(?i)\b(?:(write[ _-]?keys?|access[ _-]?token|api[ _-]?key|token|password|passwd|secret)"
    r"(\s*[:=]\s*)|(bearer|basic)(\s+))([^\s,;]+)"
)


def redact_note(text: str | None, secrets: Iterable[str] = ()) -> str:
    """Free text a person typed to go on the record (a send's Reason): known secrets
    scrubbed in every form, and a value written after a secret's name ("token: ...",
    "password=...", "Bearer ...") masked, since nobody can tell which other secret it is."""
    scrubbed = scrub_text(text or "", secrets)
    return _NAMED_SECRET_IN_TEXT.sub(
        lambda m: f"{m.group(1) or m.group(3)}{m.group(2) or m.group(4)}{MASK}", scrubbed
    )


# --- answers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedactedAnswer:
    """Segment's answer as the audit log stores it and the screens show it."""

    headers: dict[str, str]
    body: bytes  # JSON re-encoded when something in it was masked; otherwise as received
    error: str

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any | None:
        return userjson.body_or_none(self.body)


TOO_DEEP_TO_CHECK = (
    b"(not stored: the response body was JSON nested too deeply to check for secrets)"
)


def redact_answer(
    headers: Mapping[str, str], body: bytes, error: str | None, secrets: Iterable[str]
) -> RedactedAnswer:
    """Segment's answer (headers, body, the reason there was none) with every secret
    removed: the one function the audit log and every screen showing an answer use.

    A value the answer lists under a secret's name (a source's write key) counts as a known
    secret for the rest of the answer too, so a copy elsewhere (a source named after its
    key) is scrubbed as well."""
    known = set(secrets)
    parsed: Any = None
    if body and _MAYBE_SECRET_NAME.search(body):
        try:
            parsed = userjson.body(body)
        except userjson.TooDeep:
            # JSON too deep to walk for secrets: better not kept than kept unchecked.
            return RedactedAnswer(
                headers=_redact_headers(headers, forms_of(known)),
                body=TOO_DEEP_TO_CHECK,
                error=_scrub(error or "", forms_of(known)),
            )
        except (ValueError, UnicodeDecodeError):
            parsed = None
        else:
            known.update(value for value in _named_secrets(parsed) if len(value) >= 4)
    forms = forms_of(known)
    if parsed is not None:
        redacted = _redact_value(parsed, forms, is_secret_name)
        if redacted != parsed:
            body = json.dumps(redacted, ensure_ascii=False).encode()
    for form in forms:
        raw = form.encode()
        if raw in body:
            body = body.replace(raw, _MASK_BYTES)
    return RedactedAnswer(
        headers=_redact_headers(headers, forms), body=body, error=_scrub(error or "", forms)
    )


def _named_secrets(value: Any, under_secret: bool = False) -> Iterable[str]:
    """The strings under secret-looking names, at any depth (not numbers: a count under
    "tokens" would mask every equal number in the answer)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _named_secrets(item, under_secret or is_secret_name(str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from _named_secrets(item, under_secret)
    elif under_secret and isinstance(value, str):
        yield value
