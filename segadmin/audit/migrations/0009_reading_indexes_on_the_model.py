"""The two partial reading indexes (0003 audit_related_to_set, 0004 audit_no_answer) as model
indexes, and made again where they went missing.

They were raw SQL, outside the model's state. To change a column SQLite rebuilds the table
(0005 did, for key_id; 0008 for plan_violations) and creates again only the indexes the model declares: on SQLite both
were gone, and at a million entries the entry page read the whole table (0.5 to 2 s) and "No
answer recorded" walked the seq index. Declared on the model now, so every later rebuild keeps
them; IF NOT EXISTS, because on PostgreSQL (ALTER TABLE keeps indexes) they are still there.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0008_sent_with_plan_violations"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=(
                        "CREATE INDEX IF NOT EXISTS audit_related_to_set ON audit_auditentry "
                        "(related_to_id, seq) WHERE related_to_id IS NOT NULL"
                    ),
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    sql=(
                        "CREATE INDEX IF NOT EXISTS audit_no_answer ON audit_auditentry (seq) "
                        "WHERE kind = 'request' AND outcome IS NULL"
                    ),
                    reverse_sql=migrations.RunSQL.noop,
                ),
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="auditentry",
                    index=models.Index(
                        condition=models.Q(("related_to__isnull", False)),
                        fields=["related_to", "seq"],
                        name="audit_related_to_set",
                    ),
                ),
                migrations.AddIndex(
                    model_name="auditentry",
                    index=models.Index(
                        condition=models.Q(("kind", "request"), ("outcome__isnull", True)),
                        fields=["seq"],
                        name="audit_no_answer",
                    ),
                ),
            ],
        ),
    ]
