"""The message index gets the person's email (Identify's traits.email, else
context.traits.email; trimmed, lower-cased), so User lookup finds a user by email; the
messages already indexed get theirs from their entries' stored (redacted) bodies.

The index is append-only (PostgreSQL refuses UPDATE on it by trigger, migration 0007): the
back-fill lifts the trigger inside each chunk's transaction and puts it back before that
transaction commits, so it is never off outside a chunk, and a chunk that fails rolls back
with the trigger on. Chunks of ``CHUNK`` indexed messages by primary key, each committed on its
own: memory stays bounded and each chunk costs the same on a log of any size (10,000,000
messages: minutes, not hours). Only the email column is written.
"""

import json
import zlib

from django.db import connection as default_connection
from django.db import migrations, models, transaction

from segadmin.audit.index import index_body, path_of

CHUNK = 2000
TRIGGER = "audit_auditmessage_no_update_delete"


def _unpack(stored):
    # As segadmin.audit.models.unpack_body, frozen here with the format it reads.
    if not stored:
        return b""
    stored = bytes(stored)
    return zlib.decompress(stored[1:]) if stored[:1] == b"z" else stored[1:]


def _emails(call_type, url, stored):
    """{position: email} of the messages of one stored request body."""
    try:
        body = json.loads(_unpack(stored) or b"null")
    except (ValueError, zlib.error):
        return {}  # a raw call whose body was not JSON: no messages in it
    return {
        item.position: item.email
        for item in index_body(body, call_type=call_type, path=path_of(url))
        if item.email
    }


def backfill(apps, schema_editor):
    entries = apps.get_model("audit", "AuditEntry").objects
    messages = apps.get_model("audit", "AuditMessage")
    connection = schema_editor.connection if schema_editor is not None else default_connection
    postgres = connection.vendor == "postgresql"
    after = 0
    while True:
        # Walk the index by its primary key (the messages have no index on entry_id: a lookup
        # by entry would read the whole table for every chunk of a ten-million-row index).
        rows = list(
            messages._base_manager.filter(id__gt=after)
            .order_by("id")
            .values_list("id", "entry_id", "position")[:CHUNK]
        )
        if not rows:
            return
        after = rows[-1][0]
        bodies = entries.filter(
            id__in={entry_id for _id, entry_id, _position in rows},
            kind="request",
            api="tracking",
        ).values_list("id", "call_type", "url", "request_body")
        found = {}
        for pk, call_type, url, stored in bodies.iterator():
            for position, email in _emails(call_type, url, stored).items():
                found[(pk, position)] = email
        changed = [
            messages(id=id_, email=found[(entry_id, position)])
            for id_, entry_id, position in rows
            if (entry_id, position) in found
        ]
        if not changed:
            continue
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if postgres:
                # ALTER TABLE needs no foreign-key checks pending (Django defers them).
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"ALTER TABLE audit_auditmessage DISABLE TRIGGER {TRIGGER}")
            # The base manager: a plain one (the app's refuses every change, by design).
            messages._base_manager.bulk_update(changed, ["email"], batch_size=500)
            if postgres:
                cursor.execute(f"ALTER TABLE audit_auditmessage ENABLE TRIGGER {TRIGGER}")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):
    # Each chunk of the back-fill commits on its own (see the docstring).
    atomic = False

    dependencies = [("audit", "0009_reading_indexes_on_the_model")]

    operations = [
        migrations.AddField(
            model_name="auditmessage",
            name="email",
            field=models.CharField(blank=True, max_length=255, null=True, verbose_name="email"),
        ),
        migrations.AddIndex(
            model_name="auditmessage",
            index=models.Index(
                condition=models.Q(("email__isnull", False)),
                fields=["email", "seq"],
                name="audit_msg_email_seq",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
