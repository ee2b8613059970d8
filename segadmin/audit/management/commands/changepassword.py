"""Django's ``changepassword``, on the record: a changed password is a
"user.password_changed" audit event (never the password or its hash), and every open session
of the person ends. Refused (and recorded) for a person who signs in only with single
sign-on."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.management.commands import changepassword
from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.db import transaction

from segadmin.accounts import sso
from segadmin.accounts.sessions import end_sessions
from segadmin.audit import people
from segadmin.audit.log import Actor


class Command(changepassword.Command):
    def handle(self, *args: Any, **options: Any) -> str:
        # The same user Django's command picks; it reports a missing one itself.
        username = options["username"] or getpass.getuser()
        user = User.objects.db_manager(options["database"]).filter(username=username).first()
        if user is not None and sso.password_managed_by_provider(user):
            # As on the Users screen: a password would be a second way in around the provider.
            people.password_reset_refused(
                actor=Actor.system("changepassword"), user=user, provider=sso.provider_name()
            )
            raise CommandError(
                f"{username} signs in with single sign-on: their identity provider "
                f"({sso.provider_name()}) manages their sign-in, so no password is set here."
            )
        before = user.password if user is not None else None
        message = super().handle(*args, **options)
        if user is not None:
            user.refresh_from_db(fields=["password"])
            if user.password != before:
                # Every open session of theirs ends, as when an Admin resets a password.
                with transaction.atomic():
                    people.password_changed(
                        actor=Actor.system("changepassword"),
                        user=user,
                        sessions_ended=end_sessions(user),
                    )
        return message or ""
