"""Start the chain, and on PostgreSQL make the audit table append-only for everyone.

The trigger refuses DELETE, TRUNCATE and every UPDATE except the two the app needs:
- filling the outcome copy of a request entry that has none yet (nothing else may change);
- emptying a user/source/workspace foreign key when that user, source or workspace is
  deleted (ON DELETE SET NULL; the name and id snapshots stay and are what the chain covers).
"""

from django.db import migrations

GENESIS_HASH = "0" * 64

CREATE_SQL = """
CREATE OR REPLACE FUNCTION audit_auditentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    free_columns text[] := ARRAY['actor_user_id', 'source_id', 'workspace_id', 'outcome',
                                 'error', 'response_status', 'attempts', 'duration_ms'];
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION 'The audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - free_columns) IS DISTINCT FROM (to_jsonb(OLD) - free_columns) THEN
        RAISE EXCEPTION 'The audit log is append-only: entry % cannot be changed', OLD.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.actor_user_id IS DISTINCT FROM OLD.actor_user_id AND NEW.actor_user_id IS NOT NULL)
       OR (NEW.source_id IS DISTINCT FROM OLD.source_id AND NEW.source_id IS NOT NULL)
       OR (NEW.workspace_id IS DISTINCT FROM OLD.workspace_id AND NEW.workspace_id IS NOT NULL)
    THEN
        RAISE EXCEPTION 'The audit log is append-only: entry % cannot be re-attributed', OLD.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.outcome, NEW.error, NEW.response_status, NEW.attempts, NEW.duration_ms)
       IS DISTINCT FROM (OLD.outcome, OLD.error, OLD.response_status, OLD.attempts,
                         OLD.duration_ms)
       AND (OLD.kind <> 'request' OR OLD.outcome IS NOT NULL OR NEW.outcome IS NULL)
    THEN
        RAISE EXCEPTION 'The audit log is append-only: the outcome of entry % is already recorded',
            OLD.seq USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_auditentry_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION audit_auditentry_append_only();
CREATE TRIGGER audit_auditentry_no_truncate
    BEFORE TRUNCATE ON audit_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_auditentry_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS audit_auditentry_no_truncate ON audit_auditentry;
DROP TRIGGER IF EXISTS audit_auditentry_no_update_delete ON audit_auditentry;
DROP FUNCTION IF EXISTS audit_auditentry_append_only();
"""


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SQL, params=None)


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


def create_head(apps, schema_editor):
    ChainHead = apps.get_model("audit", "ChainHead")
    ChainHead.objects.get_or_create(pk=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})


def remove_head(apps, schema_editor):
    apps.get_model("audit", "ChainHead").objects.filter(pk=1).delete()


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_audit_log")]

    operations = [
        migrations.RunPython(create_head, remove_head),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
