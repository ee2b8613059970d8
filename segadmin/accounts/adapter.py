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
            return None
        return user


class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        # People are created on their first log-in through the identity provider.
        return True
