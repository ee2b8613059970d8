"""An index of the requests with no answer recorded (a few in a million).

The audit list's "No answer recorded" filter asks for ``kind = 'request' AND outcome IS
NULL`` newest first; with only the general indexes both SQLite and PostgreSQL walked the seq
index backwards through some hundred thousand rows to find a page of them (about 100 ms at a
million rows). Raw SQL for the same reason as 0003: a reading aid, not model state.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_related_to_partial_index"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                "CREATE INDEX audit_no_answer ON audit_auditentry (seq) "
                "WHERE kind = 'request' AND outcome IS NULL"
            ),
            reverse_sql="DROP INDEX audit_no_answer",
        ),
    ]
