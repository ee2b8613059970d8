"""Create the `admin` account on the first run, on the record, and print its password once.

The password is a one-time password, as when an Admin adds a person under Users: the first
log-in leads to choosing one's own before any other page (segadmin/accounts/first_login.py), so
a password that went through a terminal, its scroll-back or a CI log does not stay the way in.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand
from django.db import transaction

from segadmin.accounts.models import PasswordToChange
from segadmin.accounts.roles import ADMIN
from segadmin.audit import people
from segadmin.audit.log import Actor


class Command(BaseCommand):
    help = "Create an `admin` superuser with a random password if no user exists yet."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        # `make run` passes its HOST and PORT, so the banner names the address it serves.
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args: Any, username: str, host: str, port: str, **options: Any) -> None:
        if User.objects.exists():
            return
        # 16 characters from 12 random bytes; checked against the project's password rules
        # (at least 12 characters ...) so the first account never holds a weaker one.
        password = secrets.token_urlsafe(12)
        validate_password(password, User(username=username))
        with transaction.atomic():
            user = User.objects.create_superuser(username=username, email="", password=password)
            user.groups.add(Group.objects.get(name=ADMIN))
            PasswordToChange.objects.create(user=user)
            people.user_created(
                actor=Actor.system("ensure_admin"), user=user, how=people.ONE_TIME_PASSWORD
            )
        bar = "=" * 64
        self.stdout.write(
            f"\n{bar}\n  Created the first account. Log in at {login_url(host, port)}\n"
            f"  username: {username}\n  password: {password}\n"
            "  This password is shown only once. Your first log-in with it asks you\n"
            "  to choose your own password before anything else.\n"
            f"{bar}\n"
        )


def login_url(host: str, port: str | int) -> str:
    """Where a browser on this machine reaches the server: an address that listens on every
    interface (0.0.0.0, ::) is reached as 127.0.0.1; IPv6 addresses go in brackets."""
    host = host.strip() or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 - read, not bound
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"
