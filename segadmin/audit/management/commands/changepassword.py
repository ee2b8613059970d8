"""Django's ``changepassword``, on the record: a changed password is a
"user.password_changed" audit event (never the password or its hash)."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.management.commands import changepassword
from django.contrib.auth.models import User

from segadmin.audit import people
from segadmin.audit.log import Actor


class Command(changepassword.Command):
    def handle(self, *args: Any, **options: Any) -> str:
        # The same user Django's command picks; it reports a missing one itself.
        username = options["username"] or getpass.getuser()
        user = User.objects.db_manager(options["database"]).filter(username=username).first()
        before = user.password if user is not None else None
        message = super().handle(*args, **options)
        if user is not None:
            user.refresh_from_db(fields=["password"])
            if user.password != before:
                people.password_changed(actor=Actor.system("changepassword"), user=user)
        return message or ""
