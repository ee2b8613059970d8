"""On PostgreSQL the app should run under a role that does not own the audit table: the owner
may switch the append-only trigger off (tests/audit/conftest.py's ``tamper`` does), a role
with only the grants the app needs may not. README: "Running on PostgreSQL"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import DatabaseError, connection, transaction

from segadmin.audit.chain import _locked_head, verify_chain
from segadmin.audit.log import Actor, record_event
from segadmin.audit.models import AuditEntry
from tests.audit.conftest import postgres_only

pytestmark = [pytest.mark.django_db, pytest.mark.postgres, postgres_only]

APP_ROLE = "segadmin_app_role_test"
# What README.md grants the app role on the audit tables: no DELETE, no TRUNCATE, no ownership.
GRANTS = (
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON audit_auditentry TO {role}",
    "GRANT SELECT, UPDATE ON audit_chainhead TO {role}",
    "GRANT SELECT ON audit_chainseal TO {role}",
    "GRANT USAGE, SELECT ON SEQUENCE audit_auditentry_id_seq TO {role}",
)


@pytest.fixture
def as_app_role() -> Iterator[None]:
    """Inside the test's transaction (so the role disappears with it): make a role with the
    app's grants only, and act as it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        if not cursor.fetchone()[0]:
            pytest.skip(
                "needs a database role that may CREATE ROLE to make a role that does not own "
                "the table; run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/segadmin"
            )
        # The migration makes the chain head; a test flush removed it: make it as the owner.
        with transaction.atomic():
            _locked_head()
        cursor.execute(f"CREATE ROLE {APP_ROLE} NOLOGIN")
        # A CREATEROLE role (not a superuser) is not a member of the roles it makes: SET ROLE
        # needs the membership.
        cursor.execute(f"GRANT {APP_ROLE} TO CURRENT_USER")
        for grant in GRANTS:
            cursor.execute(grant.format(role=APP_ROLE))
        # Django's foreign keys are deferred; ALTER TABLE wants no pending checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"SET ROLE {APP_ROLE}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def refused(sql: str, params: list | None = None) -> str:
    """Run ``sql`` in a savepoint; return PostgreSQL's error, failing the test if it ran."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)
    return str(caught.value)


def test_a_role_that_does_not_own_the_audit_table_cannot_switch_its_trigger_off(
    as_app_role: None,
) -> None:
    entry = record_event(
        actor=Actor.system("tests"),
        action="role.changed",
        target_type="user",
        target_id=1,
        target_name="ada",
    )
    assert verify_chain().ok, "the app appends and verifies under its own role"
    assert "must be owner of table audit_auditentry" in refused(
        "ALTER TABLE audit_auditentry DISABLE TRIGGER USER"
    )
    assert "must be owner" in refused("ALTER TABLE audit_auditentry DISABLE TRIGGER ALL")
    assert "must be owner" in refused(
        "DROP TRIGGER audit_auditentry_no_update_delete ON audit_auditentry"
    )
    assert "append-only" in refused(
        "UPDATE audit_auditentry SET target_name = 'Evil' WHERE id = %s", [entry.pk]
    )
    assert "permission denied" in refused("DELETE FROM audit_auditentry")
    assert "permission denied" in refused("TRUNCATE audit_auditentry")
    assert "permission denied" in refused("UPDATE audit_chainseal SET mac = ''")
    assert AuditEntry.objects.get(pk=entry.pk).target_name == "ada"
