"""An index of the entries that repeat another ("send again", "edit and send").

Almost every entry has no related_to, so SQLite's statistics (after ANALYZE) rate the
foreign key's own index useless and the entry page's "related entries" query read the whole
table (a second at a million rows). This partial index holds only the entries that have
one. Raw SQL, not a model index: the audit model is not this feature's to change, and the
index is a reading aid that changes nothing in the model's state.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_chain_head_and_append_only_triggers"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                "CREATE INDEX audit_related_to_set ON audit_auditentry (related_to_id, seq) "
                "WHERE related_to_id IS NOT NULL"
            ),
            reverse_sql="DROP INDEX audit_related_to_set",
        ),
    ]
