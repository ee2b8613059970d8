"""Reads are no longer counted as calls (Test connection, imports, Profile API lookups, GETs):
the days counted before counted them. DailyCount is a cache of the audit log, so the old
counts go and each day is counted again, without reads, at the next visit of the home page."""

from django.db import migrations


def forget_counts(apps, schema_editor):
    apps.get_model("home", "DailyCount").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("home", "0001_daily_counts")]

    operations = [migrations.RunPython(forget_counts, migrations.RunPython.noop)]
