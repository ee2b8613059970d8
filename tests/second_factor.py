"""Helpers for tests of the second factor and re-authentication.

``totp`` computes an authenticator app's code the way RFC 6238 says (HMAC-SHA1 of the 30-second
step, dynamic truncation to 6 digits), independently of django-allauth's own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import time
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client

SECRET_FIELD = re.compile(
    r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"|value="([A-Z2-7]+)"[^>]*id="authenticator_secret"'
)


# allauth accepts a code in its own 30-second step only (MFA_TOTP_TOLERANCE 0): a code worked out
# near a step's end may reach the server in the next one on a busy machine.
MARGIN = 8.0  # seconds a code worked out for "now" stays valid at least


def totp(secret: str, at: float | None = None) -> str:
    """The 6-digit code of ``secret`` (base32) at time ``at``. By default now, once at least
    MARGIN seconds of its step are left (it waits for the next step otherwise), so that the
    code is still valid when the page or the test client hands it to the server."""
    if at is None:
        left = 30 - time.time() % 30
        if left < MARGIN:
            time.sleep(left + 0.05)
        at = time.time()
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int(at // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def secret_on_page(html: str) -> str:
    """The secret the authenticator app's set-up page shows (to type in instead of the QR)."""
    match = SECRET_FIELD.search(html)
    assert match, "no authenticator secret on the page"
    return match.group(1) or match.group(2)


def enrol(user: Any) -> tuple[str, list[str]]:
    """Give ``user`` an authenticator app and recovery codes directly: (secret, codes)."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).generate_codes()
    return secret, codes


def has_factor(user: Any) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def password_log_in(client: Client, username: str, password: str) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password})


def security_key_credential(rp_id: str = "localhost", name: str = "Key") -> dict[str, Any]:
    """A security key's registration, as the browser hands it over (WebAuthn JSON): a fresh
    P-256 key pair behind a "none" attestation. Enough for the pages that list and name keys."""
    import hashlib as _hashlib
    import os as _os

    from cryptography.hazmat.primitives.asymmetric import ec
    from fido2.cose import ES256
    from fido2.utils import websafe_encode
    from fido2.webauthn import (
        AttestationObject,
        AttestedCredentialData,
        AuthenticatorAttestationResponse,
        AuthenticatorData,
        CollectedClientData,
        RegistrationResponse,
    )

    credential_id = _os.urandom(16)
    public_key = ES256.from_cryptography_key(ec.generate_private_key(ec.SECP256R1()).public_key())
    auth_data = AuthenticatorData.create(
        _hashlib.sha256(rp_id.encode()).digest(),
        AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.AT,
        0,
        AttestedCredentialData.create(b"\0" * 16, credential_id, public_key),
    )
    response = RegistrationResponse(
        raw_id=credential_id,
        response=AuthenticatorAttestationResponse(
            client_data=CollectedClientData.create(
                type="webauthn.create", challenge=_os.urandom(16), origin=f"https://{rp_id}"
            ),
            attestation_object=AttestationObject.create("none", auth_data, {}),
        ),
    )
    data = json.loads(json.dumps(dict(response), default=websafe_encode))
    data["clientExtensionResults"] = {"credProps": {"rk": False}}
    return data
