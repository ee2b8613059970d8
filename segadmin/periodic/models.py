"""When each registered periodic job runs next, and how its last run went."""

from __future__ import annotations

from django.db import models


class PeriodicJob(models.Model):
    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField()
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.name}, next at {self.next_run_at:%Y-%m-%d %H:%M:%S}"
