"""Django's ``createsuperuser``, on the record: the account it creates is a "user.created"
audit event, and a password given in ``DJANGO_SUPERUSER_PASSWORD`` must pass the password
rules (Django checks only the one typed at the prompt)."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from segadmin.audit import people
from segadmin.audit.log import Actor


class Command(createsuperuser.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not options["interactive"] and password:
            try:
                validate_password(password, User(username=options.get("username") or ""))
            except ValidationError as exc:
                raise CommandError("DJANGO_SUPERUSER_PASSWORD: " + " ".join(exc.messages)) from None
        # Django's command does not return the user; the new rows are the ones above this id.
        # No transaction around it: the interactive prompts would hold one open.
        last = User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        super().handle(*args, **options)
        for user in User.objects.filter(pk__gt=last).order_by("pk"):
            people.user_created(actor=Actor.system("createsuperuser"), user=user)
