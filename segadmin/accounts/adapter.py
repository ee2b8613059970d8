"""django-allauth, fitted to segadmin: nobody signs themselves up, and its messages and errors
speak as the rest of the product does.

Accounts are made by an Admin (the Users screen, the Django admin, ``ensure_admin``) or, when
single sign-on is configured, on a person's first log-in through the identity provider: the
social adapter keeps that door open while the account adapter closes public sign-up.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import HttpRequest

from segadmin.accounts import signals

# Django's own wording, which the log-in page has always used.
REFUSED_LOG_IN = (
    "Please enter a correct username and password. Note that both fields may be case-sensitive."
)


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_password_mismatch": REFUSED_LOG_IN,
    }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def authenticate(self, request: HttpRequest, **credentials: Any) -> Any:
        # allauth hands back a deactivated person whose password matched, to show them an
        # "account inactive" page; that would tell anyone holding an old password that it is
        # right. A deactivated account is refused like a wrong password (Django's behaviour).
        user = super().authenticate(request, **credentials)
        if user is not None and not user.is_active:
            self._failed(request, credentials, reason="inactive", user=user)
            return None
        return user

    def reauthenticate(self, user: Any, password: str) -> bool:
        # A re-authentication (a recent password before a sensitive action) is no log-in: a
        # wrong password there is announced as a failed confirmation of ``user`` (the person
        # logged in), not as a failed log-in.
        self._reauthenticating = user
        try:
            return bool(super().reauthenticate(user, password))
        finally:
            self._reauthenticating = None

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        """A password log-in refused: a wrong password, an unknown username, or a lock-out by
        django-axes (``request.axes_locked_out``: this failure reached the limit, or the name
        and address were already locked out and the password was not even tried)."""
        super().authentication_failed(request, **credentials)
        if getattr(request, "axes_locked_out", False):
            self._failed(request, credentials, reason="locked_out", user=None)
        else:
            self._failed(request, credentials, reason="", user=None)

    def _failed(
        self, request: HttpRequest, credentials: dict[str, Any], *, reason: str, user: Any
    ) -> None:
        reauthenticating = getattr(self, "_reauthenticating", None)
        if reauthenticating is not None:
            signals.password_confirmation_failed.send(
                sender=type(self),
                request=request,
                provider="",
                user=reauthenticating,
                reason=reason or "wrong_password",
            )
            return
        from allauth.account.utils import filter_users_by_username

        from segadmin.accounts.sso import PASSWORD  # sso imports this module

        # The name typed, as single sign-on's failures name who tried; never the password.
        username = str(credentials.get("username") or "")[:150]
        if user is None and username:
            user = filter_users_by_username(username).first()
        if not reason:
            reason = "wrong_password" if user is not None else "unknown_username"
        signals.login_failed.send(
            sender=type(self),
            request=request,
            provider="",
            method=PASSWORD,
            reason=reason,
            username=username,
            user=user,
            details={},
        )


class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        # People are created on their first log-in through the identity provider.
        return True
