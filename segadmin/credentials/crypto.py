"""Encryption of stored secrets (Public API tokens, write keys, Profile API tokens).

Secrets are Fernet tokens under ``settings.SEGADMIN_ENCRYPTION_KEYS``: the first key encrypts,
every key decrypts, so a new key can be put first and the old ones rotated out with
``manage.py rotate_keys``. The MultiFernet is built on first use and cached per key tuple,
never at import time, so tests and ``override_settings`` see the keys in force.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

KEYS_SETTING = "SEGADMIN_ENCRYPTION_KEYS"
MASK = "••••"
# A hint is shown only for secrets long enough that four characters give nothing away.
HINT_MIN_LENGTH = 12


class EncryptionNotConfigured(Exception):
    """No encryption key is configured, so no secret can be stored or read."""

    def __init__(self) -> None:
        super().__init__(
            f"{KEYS_SETTING} is not set, so secrets cannot be encrypted or decrypted. "
            "Set it to one or more comma-separated Fernet keys; make one with: python -c "
            '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        )


class SecretUnreadable(Exception):
    """A stored secret that no configured key decrypts; the message names its owner."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(
            f"{what[:1].upper()}{what[1:]} cannot be decrypted with any key in {KEYS_SETTING}: "
            "the key it was encrypted with has been removed or changed. Put that key back in "
            f"{KEYS_SETTING} (after the first key), or enter the secret again."
        )


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _fernet() -> MultiFernet:
    keys = tuple(getattr(settings, KEYS_SETTING, None) or ())
    if not keys:
        raise EncryptionNotConfigured
    return _fernet_for(keys)


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` under the first configured key; returns the Fernet token as text."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, what: str) -> str:
    """Decrypt a stored token with any configured key.

    ``what`` names the secret for the error, e.g. ``'the write key of source "Web" (id 3)'``.
    Raises SecretUnreadable when no key decrypts it (never returns an empty value instead).
    """
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(what) from None


def reencrypt(token: str, *, what: str) -> str:
    """Re-encrypt a stored token under the first configured key (MultiFernet.rotate).

    Safe on a token already under the first key: it is simply encrypted again.
    """
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(what) from None


def hint_of(plaintext: str) -> str:
    """The last four characters kept in clear for the mask; nothing for a short secret."""
    return plaintext[-4:] if len(plaintext) >= HINT_MIN_LENGTH else ""


def mask(hint: str) -> str:
    """What the pages show for a stored secret: ``••••`` followed by its last four characters."""
    return MASK + hint[-4:]
