from datetime import timedelta

from django.apps import AppConfig
from django.conf import settings


class AuditConfig(AppConfig):
    name = "segadmin.audit"
    label = "audit"

    def ready(self) -> None:
        from segadmin import periodic

        # keys registers audit.W001; second_factor connects its signal receivers.
        from segadmin.audit import anchor, counts, keys, logins, second_factor  # noqa: F401
        from segadmin.audit.log import record_event
        from segadmin.credentials import services as credentials

        # Credentials sit below the audit log, so they get its event writer from here: each
        # credentials change then writes its event in its own transaction.
        credentials.use_recorder(record_event)
        # Single sign-on's log-ins, refusals and role changes (segadmin.accounts.signals).
        logins.connect()

        # A signed checkpoint of the chain head, to the log and the anchor, now and then.
        periodic.register(
            "audit.checkpoint",
            every=lambda: timedelta(minutes=settings.SEGADMIN_AUDIT_CHECKPOINT_MINUTES),
            run=anchor.checkpoint_head,
        )
        # The home page's quarter-hour counts, once older than anything a page reads.
        periodic.register("audit.prune_request_counts", every=timedelta(days=1), run=counts.prune)
