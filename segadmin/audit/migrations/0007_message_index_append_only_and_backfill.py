"""The message index: append-only on PostgreSQL, and filled in for the entries already there.

The trigger refuses UPDATE, DELETE and TRUNCATE on audit_auditmessage, whoever runs them (the
index is derived from the chained bodies, so nothing ever needs to change it).

The back-fill reads every Tracking API request entry's stored (already redacted) body, in
chunks of ``CHUNK`` entries by seq, each chunk committed on its own: memory stays bounded on
a log of any size, and a back-fill that was interrupted goes on after the last entry it indexed. For a bulk import's batch, each message's file row
is found again from its messageId, which the import made as uuid5(job, row).
"""

import itertools
import json
import uuid
import zlib

from django.db import migrations, models, transaction

from segadmin.audit.index import index_body, path_of

CHUNK = 500
# How far from the row before it a bulk message's row is looked for (invalid rows are skipped
# between sent ones; parallel workers interleave chunks of 5,000 rows).
ROW_WINDOW = 20_000

CREATE_SQL = """
CREATE OR REPLACE FUNCTION audit_auditmessage_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'The audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_auditmessage_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_auditmessage
    FOR EACH ROW EXECUTE FUNCTION audit_auditmessage_append_only();
CREATE TRIGGER audit_auditmessage_no_truncate
    BEFORE TRUNCATE ON audit_auditmessage
    FOR EACH STATEMENT EXECUTE FUNCTION audit_auditmessage_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS audit_auditmessage_no_truncate ON audit_auditmessage;
DROP TRIGGER IF EXISTS audit_auditmessage_no_update_delete ON audit_auditmessage;
DROP FUNCTION IF EXISTS audit_auditmessage_append_only();
"""


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SQL, params=None)


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


def _unpack(stored):
    # As segadmin.audit.models.unpack_body, frozen here with the format it reads.
    if not stored:
        return b""
    stored = bytes(stored)
    return zlib.decompress(stored[1:]) if stored[:1] == b"z" else stored[1:]


class _Rows:
    """Finds a bulk message's file row from its messageId, searching outwards from the row
    found just before it in the same import."""

    def __init__(self):
        self.last = {}

    def find(self, job_id, message_id):
        try:
            job = uuid.UUID(job_id)
        except (TypeError, ValueError):
            return None
        start = self.last.get(job_id, 0) + 1
        forward = range(start, start + ROW_WINDOW)
        backward = range(start - 1, max(0, start - ROW_WINDOW), -1)
        for row in itertools.chain(forward, backward):
            if str(uuid.uuid5(job, str(row))) == message_id:
                self.last[job_id] = row
                return row
        return None


def backfill(apps, schema_editor):
    entries = apps.get_model("audit", "AuditEntry").objects
    messages = apps.get_model("audit", "AuditMessage")
    rows = _Rows()
    # Resume after the last entry indexed (the back-fill goes in seq order, and runs before
    # the app records anything with the index).
    after = messages.objects.aggregate(last=models.Max("seq"))["last"] or 0
    while True:
        chunk = list(
            entries.filter(kind="request", api="tracking", seq__gt=after)
            .order_by("seq")
            .values_list("id", "seq", "call_type", "url", "request_body", "bulk_job_id")[:CHUNK]
        )
        if not chunk:
            return
        after = chunk[-1][1]
        new = []
        for pk, seq, call_type, url, stored, job_id in chunk:
            try:
                body = json.loads(_unpack(stored) or b"null")
            except (ValueError, zlib.error):
                continue  # a raw call whose body was not JSON: no messages in it
            for item in index_body(body, call_type=call_type, path=path_of(url)):
                new.append(
                    messages(
                        entry_id=pk,
                        seq=seq,
                        position=item.position,
                        call_type=item.call_type,
                        user_id=item.user_id or None,
                        anonymous_id=item.anonymous_id or None,
                        message_id=item.message_id or None,
                        event=item.event or None,
                        row=rows.find(job_id, item.message_id) if job_id else None,
                    )
                )
        with transaction.atomic():
            messages.objects.bulk_create(new, batch_size=1000)


class Migration(migrations.Migration):
    # Each chunk of the back-fill commits on its own (see the docstring).
    atomic = False

    dependencies = [("audit", "0006_message_index")]

    operations = [
        migrations.RunPython(install_triggers, remove_triggers),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
