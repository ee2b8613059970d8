from datetime import timedelta

from django.apps import AppConfig
from django.conf import settings


class AuditConfig(AppConfig):
    name = "segadmin.audit"
    label = "audit"

    def ready(self) -> None:
        from segadmin import periodic
        from segadmin.audit import anchor, keys  # noqa: F401 - keys registers audit.W001

        # A signed checkpoint of the chain head, to the log and the anchor, now and then.
        periodic.register(
            "audit.checkpoint",
            every=lambda: timedelta(minutes=settings.SEGADMIN_AUDIT_CHECKPOINT_MINUTES),
            run=anchor.checkpoint_head,
        )
