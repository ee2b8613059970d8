"""A one-time password must be changed at the first log-in.

When a person logs in, whether their password is one to change is noted in their session
(one query at log-in, none per request); while it is, every page but the one that changes it
(and logging out) sends them there. Setting a password ends every other session (Django's
session hash covers the password), so the note cannot outlive the password it is about.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from segadmin.accounts.models import PasswordToChange

SESSION_KEY = "segadmin_password_to_change"
# The page that changes it (in the Users screens) and what it needs on the way.
CHANGE_URL_NAME = "users:own_password"
ALLOWED_URL_NAMES = (CHANGE_URL_NAME, "accounts:logout")


@receiver(user_logged_in)
def note_password_to_change(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    if PasswordToChange.objects.filter(user_id=user.pk).exists():
        request.session[SESSION_KEY] = True
    else:
        request.session.pop(SESSION_KEY, None)


def password_changed(request: HttpRequest) -> None:
    """The person chose their own password: the note goes."""
    request.session.pop(SESSION_KEY, None)


class PasswordToChangeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            getattr(request, "session", None) is not None
            and request.session.get(SESSION_KEY)
            and request.user.is_authenticated
        ):
            allowed = {reverse(name) for name in ALLOWED_URL_NAMES}
            if request.path not in allowed and not request.path.startswith("/static/"):
                return HttpResponseRedirect(reverse(CHANGE_URL_NAME))
        return self.get_response(request)
