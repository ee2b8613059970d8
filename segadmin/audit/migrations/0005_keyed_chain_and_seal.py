"""Key the audit chain: each entry records the id of the key whose HMAC its hash is.

Entries already written keep their plain SHA-256 hashes (rewriting them would destroy the
evidence the chain is for). Instead this migration seals them: one ``ChainSeal`` row names
the last of them (seq and hash) with an HMAC under the audit key, and verification accepts
unkeyed entries only up to that seal. Without any entry there is nothing to seal.
"""

from django.db import migrations, models
from django.db.migrations.exceptions import IrreversibleError
from django.utils import timezone


def seal_unkeyed_entries(apps, schema_editor):
    from segadmin.audit import anchor

    AuditEntry = apps.get_model("audit", "AuditEntry")
    ChainSeal = apps.get_model("audit", "ChainSeal")
    last = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    if last is None or ChainSeal.objects.filter(seq=last[0]).exists():
        return
    seal = anchor.Checkpoint.sign(last[0], last[1], purpose=anchor.SEAL, time="")
    ChainSeal.objects.create(
        seq=seal.seq, hash=seal.hash, sealed_at=timezone.now(), key_id=seal.key_id, mac=seal.mac
    )


def forget_seal(apps, schema_editor):
    # Going back drops key_id: keyed entries would then look unkeyed and fail verification.
    if apps.get_model("audit", "AuditEntry").objects.exclude(key_id="").exists():
        raise IrreversibleError(
            "The audit log has entries signed with SEGADMIN_AUDIT_KEY; unkeying the chain would "
            "make them fail verification. Restore a backup taken before this migration instead."
        )
    apps.get_model("audit", "ChainSeal").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_no_answer_partial_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChainSeal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seq", models.BigIntegerField(unique=True)),
                ("hash", models.CharField(max_length=64)),
                ("sealed_at", models.DateTimeField()),
                ("key_id", models.CharField(max_length=16)),
                ("mac", models.CharField(max_length=64)),
            ],
            options={
                "default_permissions": (),
            },
        ),
        migrations.AddField(
            model_name="auditentry",
            name="key_id",
            field=models.CharField(blank=True, default="", editable=False, max_length=16),
        ),
        migrations.RunPython(seal_unkeyed_entries, forget_seal),
    ]
