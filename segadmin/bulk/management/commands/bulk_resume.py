"""``manage.py bulk_resume``: queue again every bulk import no worker has reported on for a
lease (run it when workers start, e.g. after a machine restart: django-tasks-db does not
re-run a task whose worker died). An import whose uploader may no longer send it is ended as
Failed instead, with the reason."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from segadmin.bulk import services


class Command(BaseCommand):
    help = "Resume bulk imports whose worker stopped (they carry on from the last chunk)."

    def handle(self, *args: Any, **options: Any) -> None:
        resumed, stopped = services.resume_stalled()
        for job in resumed:
            self.stdout.write(f"Resumed {job.pk} ({job.file_name}): {job.remaining:,} rows left")
        for job, why in stopped:
            self.stdout.write(f"Stopped {job.pk} ({job.file_name}): {why}")
        if not resumed and not stopped:
            self.stdout.write("No stalled bulk import.")
