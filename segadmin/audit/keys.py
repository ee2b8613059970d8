"""The audit chain's keys: HMAC-SHA256 under ``SEGADMIN_AUDIT_KEY``, kept outside the database.

The first configured key signs new entries and checkpoints; every configured key verifies
(rotation: put a new key first, keep the old ones after it). Each row and checkpoint stores
the *key id* of the key that signed it, a short fingerprint that says nothing about the key
(the first 8 hex digits of HMAC(key, "segadmin-audit-key-id")), so verification picks the
right key and can say which one is missing.

With ``DEBUG`` on and no key set (a first look without ``make run``'s ``.env``), a key derived
from ``SECRET_KEY`` is used, and the system check ``audit.W001`` says so. The keyring is built
on first use and cached per key tuple, never at import time, so ``override_settings`` works.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core import checks

KEY_SETTING = "SEGADMIN_AUDIT_KEY"
_KEY_ID_MESSAGE = b"segadmin-audit-key-id"
_DEVELOPMENT_KEY_MESSAGE = b"segadmin-audit-development-key"


def key_id(key: bytes) -> str:
    """The non-secret fingerprint stored beside what ``key`` signed."""
    return hmac.new(key, _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:8]


@dataclass(frozen=True)
class Keyring:
    signing_id: str
    signing_key: bytes
    keys: dict[str, bytes]  # key id -> key, every configured key

    def sign(self, message: bytes) -> tuple[str, str]:
        """(key id, hex HMAC-SHA256 of ``message``) under the signing key."""
        return self.signing_id, hmac.digest(self.signing_key, message, "sha256").hex()

    def verify(self, key_id: str, message: bytes, mac: str) -> bool | None:
        """True or False; None when no configured key has ``key_id``."""
        key = self.keys.get(key_id)
        if key is None:
            return None
        return hmac.compare_digest(hmac.digest(key, message, "sha256").hex(), mac)

    def describe(self) -> str:
        return ", ".join(self.keys) or "none"


@lru_cache(maxsize=4)
def _keyring_for(keys: tuple[str, ...]) -> Keyring:
    encoded = [key.encode() for key in keys]
    ring = {key_id(key): key for key in reversed(encoded)}  # the first key wins a clash
    return Keyring(signing_id=key_id(encoded[0]), signing_key=encoded[0], keys=ring)


def configured_keys() -> tuple[str, ...]:
    keys = tuple(getattr(settings, "SEGADMIN_AUDIT_KEYS", None) or ())
    if keys:
        return keys
    # Settings refuse to start without a key when DEBUG is off; this is the DEBUG fallback.
    derived = hmac.new(settings.SECRET_KEY.encode(), _DEVELOPMENT_KEY_MESSAGE, hashlib.sha256)
    return (derived.hexdigest(),)


def keyring() -> Keyring:
    """The configured keys; the first signs."""
    return _keyring_for(configured_keys())


@checks.register(checks.Tags.security)
def check_audit_key(**kwargs: object) -> list[checks.CheckMessage]:
    if getattr(settings, "SEGADMIN_AUDIT_KEYS", None):
        return []
    return [
        checks.Warning(
            f"{KEY_SETTING} is not set: the audit chain is keyed with a development key derived "
            "from SECRET_KEY.",
            hint=f"Set {KEY_SETTING}; make one with: python -c "
            '"import secrets; print(secrets.token_urlsafe(32))" (make run writes one into .env).',
            id="audit.W001",
        )
    ]
