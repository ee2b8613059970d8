"""The second factor (django-allauth's MFA: an authenticator app, recovery codes, security keys).

- Secrets stay encrypted at rest: the authenticator app's secret and the recovery codes' seed
  are Fernet tokens under ``SEGADMIN_ENCRYPTION_KEYS``, like the Segment credentials
  (``rotate_keys`` re-encrypts them too).
- ``SEGADMIN_REQUIRE_MFA``: an Admin (the Admin role or a superuser) without an authenticator
  app or security key is sent to set one up before any other page; only logging out, the
  second-factor pages (with the confirmation of their password they ask for), changing a
  one-time password and static files stay reachable. Other people may set one up if they like.
  While it is required, an Admin cannot remove their last one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import get_script_prefix, get_urlconf, reverse

from segadmin.accounts.roles import ADMIN, request_role, role_of

# The kinds that are a second factor on their own (recovery codes only back them up).
FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)
SETUP_URL_NAME = "mfa_index"
SETUP_MESSAGE = "As an Admin you need a second factor: set one up to go on."
# Reachable while a second factor is missing: log out, change a one-time password (asked
# first, by segadmin.accounts.first_login) and confirm one's password for the set-up pages.
ALLOWED_URL_NAMES = ("accounts:logout", "users:own_password", "account_reauthenticate")


# --- Encryption at rest -----------------------------------------------------------------------


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _fernet() -> MultiFernet:
    keys = tuple(getattr(settings, "SEGADMIN_ENCRYPTION_KEYS", None) or ())
    if not keys:
        raise ImproperlyConfigured(
            "SEGADMIN_ENCRYPTION_KEYS is not set, so second-factor secrets cannot be stored "
            "or read. Set it to one or more comma-separated Fernet keys."
        )
    return _fernet_for(keys)


class MFAAdapter(DefaultMFAAdapter):  # type: ignore[misc]
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": (
            "Admins must keep a second factor: add another one before removing this one."
        ),
    }

    def encrypt(self, text: str) -> str:
        return _fernet().encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        try:
            return _fernet().decrypt(encrypted_text.encode()).decode()
        except InvalidToken:
            raise ImproperlyConfigured(
                "A second-factor secret cannot be decrypted with any key in "
                "SEGADMIN_ENCRYPTION_KEYS: put back the key it was encrypted with."
            ) from None

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        if authenticator.type not in FACTORS or not required_for(authenticator.user):
            return True
        others = Authenticator.objects.filter(user_id=authenticator.user_id, type__in=FACTORS)
        return bool(others.exclude(pk=authenticator.pk).exists())


def reencrypt_all() -> tuple[int, list[str]]:
    """Re-encrypt every stored second-factor secret under the first key (``rotate_keys``):
    how many were, and a message for each that no key decrypts (left as it is)."""
    fields = {Authenticator.Type.TOTP: "secret", Authenticator.Type.RECOVERY_CODES: "seed"}
    rotated, failures = 0, []
    for authenticator in Authenticator.objects.filter(type__in=fields).order_by("pk"):
        field = fields[Authenticator.Type(authenticator.type)]
        try:
            token = _fernet().rotate(authenticator.data[field].encode()).decode()
        except InvalidToken:
            failures.append(
                f"The {authenticator.get_type_display()} of user {authenticator.user_id} "
                "cannot be decrypted with any configured key."
            )
            continue
        authenticator.data[field] = token
        authenticator.save(update_fields=["data"])
        rotated += 1
    return rotated, failures


# --- Required for Admins ----------------------------------------------------------------------


def has_second_factor(user: Any) -> bool:
    return bool(Authenticator.objects.filter(user_id=user.pk, type__in=FACTORS).exists())


def required_for(user: Any) -> bool:
    """Whether ``user`` must have a second factor (SEGADMIN_REQUIRE_MFA and an Admin)."""
    return bool(settings.SEGADMIN_REQUIRE_MFA) and role_of(user) == ADMIN


def is_missing(user: Any, request: HttpRequest | None = None) -> bool:
    """Whether ``user`` must set a second factor up before anything else. ``request``: the
    request ``user`` is ``request.user`` of; its role is then read once for the whole request
    (the audit entry's actor asks it again)."""
    if not settings.SEGADMIN_REQUIRE_MFA or not user.is_authenticated:
        return False
    role = request_role(request) if request is not None else role_of(user)
    return role == ADMIN and not has_second_factor(user)


class RequireSecondFactorMiddleware:
    """Under SEGADMIN_REQUIRE_MFA, an Admin without a second factor reaches only the pages
    that set one up (a GET is sent there, any other method too: nothing else runs)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SEGADMIN_REQUIRE_MFA and not self._allowed(request.path):
            user = getattr(request, "user", None)
            if user is not None and is_missing(user, request):
                setup_url = reverse(SETUP_URL_NAME)
                if request.headers.get("HX-Request"):
                    # A fragment asked for by htmx: the whole page goes to the set-up.
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = setup_url
                    return response
                if request.method == "GET":
                    messages.warning(request, SETUP_MESSAGE)
                return HttpResponseRedirect(setup_url)
        return self.get_response(request)

    @staticmethod
    def _allowed(path: str) -> bool:
        setup, exact = _allowed_paths(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
        return path.startswith(("/static/", setup)) or path in exact


@lru_cache(maxsize=8)
def _allowed_paths(urlconf: Any, script_prefix: str) -> tuple[str, frozenset[str]]:
    """The set-up pages' prefix and the other allowed paths, reversed once per URLconf and
    script prefix (what ``reverse`` depends on) rather than four times a request."""
    setup = reverse(SETUP_URL_NAME, urlconf=urlconf)
    return setup, frozenset(reverse(name, urlconf=urlconf) for name in ALLOWED_URL_NAMES)
