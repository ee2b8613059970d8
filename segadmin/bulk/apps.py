from datetime import timedelta

from django.apps import AppConfig
from django.conf import settings


class BulkConfig(AppConfig):
    name = "segadmin.bulk"
    label = "bulk"
    verbose_name = "Bulk import"

    def ready(self) -> None:
        # Imported once the apps are loaded (the services use models), as Django's ready() wants.
        from segadmin import periodic
        from segadmin.approvals.registry import register
        from segadmin.bulk import forget, retention, services, worker
        from segadmin.bulk.approval import HANDLER
        from segadmin.lib.forget import register as register_forgetter

        register(HANDLER)
        # django-tasks-db does not re-run a task whose worker died: what bulk_resume does when
        # workers start, a worker also does every few minutes, so such an import goes on (or
        # ends, with the reason) without anyone pressing Resume.
        periodic.register(
            "bulk.resume",
            every=lambda: timedelta(minutes=settings.SEGADMIN_BULK_RESUME_MINUTES),
            run=services.resume_stalled,
        )
        # The message index of the batches of an import whose worker died before its end (the
        # end of every import catches up too; see worker.index_backlog).
        periodic.register(
            "bulk.index_backlog", every=timedelta(minutes=1), run=worker.index_backlog
        )
        # Uploaded files are purged SEGADMIN_BULK_RETENTION_DAYS after their import ended.
        periodic.register("bulk.retention", every=timedelta(hours=1), run=retention.purge_expired)
        # A privacy request may ask to purge the users it names from the files still kept.
        register_forgetter("bulk imports", forget.forget)
