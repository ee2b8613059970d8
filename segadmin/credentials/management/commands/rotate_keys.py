"""Re-encrypt every stored secret under the first key of SEGADMIN_ENCRYPTION_KEYS.

Run it after putting a new key first; once it reports no errors, the old keys can be removed.
Each row is rotated in its own short transaction (with its audit entry), so the command can be
interrupted and run again at any time: a secret already under the first key is simply
re-encrypted. A secret no configured key can decrypt is reported by name, the others are
still rotated, and the command exits non-zero.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from segadmin.audit.log import Actor, record_event
from segadmin.credentials import crypto
from segadmin.credentials.models import Source, Workspace

LABELS = {
    "token_encrypted": "Public API token",
    "profiles_token_encrypted": "Profile API token",
    "write_key_encrypted": "Write key",
}


class Command(BaseCommand):
    help = "Re-encrypt every workspace token and source write key under the first key."

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("rotate_keys")
        rotated = 0
        failures: list[str] = []
        try:
            for model in (Workspace, Source):
                for pk in model.objects.order_by("pk").values_list("pk", flat=True):
                    count, errors = self._rotate_row(model, pk, actor)
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

    def _rotate_row(
        self, model: type[Workspace] | type[Source], pk: int, actor: Actor
    ) -> tuple[int, list[str]]:
        """Rotate one row's secrets and record it, in one short transaction."""
        with transaction.atomic():
            obj = model.objects.select_for_update().filter(pk=pk).first()
            if obj is None:  # deleted since the listing
                return 0, []
            updates: dict[str, str] = {}
            errors: list[str] = []
            for field in obj.SECRET_FIELDS:
                token = getattr(obj, field)
                if not token:
                    continue
                try:
                    updates[field] = crypto.reencrypt(token, what=obj.describe_secret(field))
                except crypto.SecretUnreadable as exc:
                    errors.append(str(exc))
            if updates:
                # A plain UPDATE: rotation changes no value anyone sees, so updated_at stays.
                model.objects.filter(pk=pk).update(**updates)
                record_event(
                    actor=actor,
                    action="credential.rotated",
                    target_type=model.__name__.lower(),
                    target_id=obj.pk,
                    target_name=obj.name,
                    details={"rotated": [LABELS[field] for field in updates]},
                )
        return len(updates), errors
