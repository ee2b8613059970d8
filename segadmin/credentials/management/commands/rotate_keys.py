"""Re-encrypt every stored secret under the first key of SEGADMIN_ENCRYPTION_KEYS.

Run it after putting a new key first; once it reports no errors, the old keys can be removed.
Each row is rotated in its own short transaction (with its audit entry, by
``credentials.services.rotate``), so the command can be
interrupted and run again at any time: a secret already under the first key is simply
re-encrypted. A secret no configured key can decrypt is reported by name, the others are
still rotated, and the command exits non-zero.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from segadmin.accounts import second_factor
from segadmin.accounts.actors import Actor
from segadmin.credentials import crypto, services
from segadmin.credentials.models import Source, Workspace


class Command(BaseCommand):
    help = (
        "Re-encrypt every workspace token, source write key and second-factor secret under "
        "the first key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("rotate_keys")
        rotated = 0
        failures: list[str] = []
        try:
            for model in (Workspace, Source):
                for pk in model.objects.order_by("pk").values_list("pk", flat=True):
                    count, errors = services.rotate(actor=actor, model=model, pk=pk)
                    rotated += count
                    failures.extend(errors)
            # The second factors' secrets (authenticator apps, recovery codes) too.
            count, errors = second_factor.reencrypt_all()
            rotated += count
            failures.extend(errors)
        except crypto.EncryptionNotConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Re-encrypted {rotated} secret{'s' if rotated != 1 else ''} under the first key."
        )
        if failures:
            for message in failures:
                self.stderr.write(message)
            raise CommandError(
                f"{len(failures)} secret{'s' if len(failures) != 1 else ''} could not be "
                "decrypted with any configured key (see above); they were left as they are."
            )
