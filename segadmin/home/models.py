from __future__ import annotations

from django.db import models


class DailyCount(models.Model):
    """Requests per day and outcome, for days that are over: a cache of the audit log.

    The log is append-only and stamps each row when it is written, so a day's counts stop
    changing once the day is over and its last requests have their outcome (a margin of a
    day is left for that, see ``segadmin.home.dashboard``). The dashboard then reads 28 small
    rows instead of counting a month of entries on every visit. Deleting rows is harmless:
    they are counted again on the next visit.
    """

    day = models.DateField()
    zone = models.CharField(max_length=64, help_text="the timezone the day is counted in")
    scope = models.CharField(max_length=32, help_text='"all", or "user:<id>" for own entries')
    outcome = models.CharField(max_length=16)
    count = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["zone", "scope", "day", "outcome"], name="home_daily_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.scope} {self.outcome}: {self.count}"


class SetupDone(models.Model):
    """One row, written the first time every step of the first-run checklist is done: from
    then on the home page reads this row instead of checking the four steps on every visit
    (on a large audit log, "was a connection ever tested?" is not free). The checklist does
    not come back if a workspace is later deleted: the install was set up once."""

    done_at = models.DateTimeField()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"set up on {self.done_at:%Y-%m-%d}"
