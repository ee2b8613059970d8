from datetime import timedelta

from django.apps import AppConfig
from django.conf import settings


class PrivacyConfig(AppConfig):
    name = "segadmin.privacy"
    label = "privacy"
    verbose_name = "Privacy requests"

    def ready(self) -> None:
        from segadmin import periodic
        from segadmin.approvals.registry import register
        from segadmin.privacy import flow

        register(flow.HANDLER)
        # Segment moves a regulation's status over hours or days: a worker asks about every
        # regulation not yet ended, and records each change.
        periodic.register(
            "privacy.sync",
            every=lambda: timedelta(minutes=settings.SEGADMIN_PRIVACY_SYNC_MINUTES),
            run=flow.sync_all,
        )
