"""``manage.py start_periodic_jobs``: queue the periodic job runner unless it is queued already
(run it when workers start, with ``bulk_resume``; running it again changes nothing)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from segadmin.periodic import registered, scheduler


class Command(BaseCommand):
    help = "Queue the task that runs the periodic jobs (idempotent); db_worker runs it."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            when = scheduler.ensure_scheduled()
        except scheduler.CannotSchedule as exc:
            raise CommandError(str(exc)) from None
        if when is None:
            self.stdout.write("No periodic job is registered.")
            return
        for job in registered():
            self.stdout.write(f"{job.name}: every {job.every()}")
        self.stdout.write(f"The periodic job runner is queued for {when.isoformat()}.")
