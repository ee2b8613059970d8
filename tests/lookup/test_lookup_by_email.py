"""User lookup by email: the message index keeps each message's traits.email (also for the
messages recorded before, by the migration's back-fill), a lookup by email finds the user the
calls name, the Profile API is asked with its ``email:`` identifier, and the lookup page lists
the users one viewed last."""

from __future__ import annotations

import importlib
import uuid

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from segadmin.audit.index import email_of, index_batch
from segadmin.audit.log import record_request
from segadmin.audit.models import AuditEntry, AuditMessage
from segadmin.credentials.models import Workspace
from segadmin.lookup.models import KEEP, RecentLookup
from segadmin.segment import client
from segadmin.segment.messages import build_message
from tests.audit.entries import WRITE_KEY, actor_for, add_call, make_source
from tests.factories import login

pytestmark = pytest.mark.django_db
LOOKUP = reverse("lookup:index")
PROFILE_TOKEN = "pt_EMAILprofileToken0123456789"


@pytest.fixture
def nina(marketer):
    source = make_source()
    return source, [
        add_call(
            user=marketer,
            source=source,
            call_type="identify",
            user_id="nina-1",
            traits={"plan": "pro", "email": "  Nina@Example.COM "},
        ),
        add_call(user=marketer, source=source, user_id="nina-1", event="Signed Up"),
        add_call(
            user=marketer,
            source=source,
            call_type="identify",
            user_id="other",
            traits={"email": "someone@example.com"},
        ),
    ]


def test_the_index_keeps_the_email_of_identify_traits_and_context_traits() -> None:
    assert email_of({"traits": {"email": " A@B.io "}}, "identify") == "a@b.io"
    assert email_of({"context": {"traits": {"email": "c@d.io"}}}, "track") == "c@d.io"
    # A Group's traits are the group's; a value that is no email is left out.
    assert email_of({"traits": {"email": "team@acme.io"}}, "group") == ""
    assert email_of({"traits": {"email": "not an email"}}, "identify") == ""
    assert email_of({"traits": {"email": ["a@b.io"]}}, "identify") == ""
    batch = index_batch(
        [
            {"type": "identify", "userId": "u", "traits": {"email": "X@Y.io"}},
            {"type": "track", "userId": "u", "event": "E"},
        ]
    )
    assert [m.email for m in batch] == ["x@y.io", ""]


def test_recorded_messages_carry_the_email(nina) -> None:
    emails = dict(AuditMessage.objects.values_list("user_id", "email").filter(event=None))
    assert emails == {"nina-1": "nina@example.com", "other": "someone@example.com"}
    assert AuditMessage.objects.get(event="Signed Up").email is None


def test_support_finds_a_user_by_email(nina, support) -> None:
    query = {"identifier_type": "email", "identifier": "NINA@example.com"}
    response = login(support).get(LOOKUP, query)
    assert response.status_code == 200
    context = response.context
    assert (context["kind"], context["identifier"]) == ("user_id", "nina-1")
    found = context["found"]
    # Their whole history, the Track call without an email included.
    assert [e.seq for e in found.timeline] == sorted((e.seq for e in nina[1][:2]), reverse=True)
    assert found.traits == {"plan": "pro", "email": "  Nina@Example.COM "}
    html = response.content.decode()
    assert 'data-testid="by-email"' in html and "nina-1" in html
    assert "Fix traits" in html  # for the user found, by User ID


def test_an_email_several_people_carry_lists_them_to_choose(marketer, support) -> None:
    for user_id in ("p-1", "p-2"):
        add_call(
            user=marketer, call_type="identify", user_id=user_id, traits={"email": "x@shared.io"}
        )
    response = login(support).get(LOOKUP, {"identifier_type": "email", "identifier": "x@shared.io"})
    people = response.context["people"]
    assert [p["id"] for p in people] == ["p-2", "p-1"]
    assert response.context["kind"] == "email"
    assert 'data-testid="email-people"' in response.content.decode()
    assert "Fix traits" not in response.content.decode()


def test_an_unknown_email_says_so_and_a_bad_one_is_refused_next_to_the_field(support) -> None:
    client = login(support)
    response = client.get(LOOKUP, {"identifier_type": "email", "identifier": "who@nowhere.io"})
    assert "No call segadmin sent carries the email" in response.content.decode()
    response = client.get(LOOKUP, {"identifier_type": "email", "identifier": "nina"})
    assert response.context["form"].errors["identifier"] == [
        "Enter an email address, such as ada@example.com."
    ]
    assert "found" not in response.context


def test_a_marketer_may_not_look_up_by_email(marketer) -> None:
    response = login(marketer).get(LOOKUP, {"identifier_type": "email", "identifier": "a@b.io"})
    assert response.status_code == 403


def test_the_profile_api_is_asked_by_email(fake_segment, nina, support) -> None:
    source, _ = nina
    workspace = Workspace(name="Acme", region="us", profiles_space_id="spa_mail")
    workspace.set_public_api_token("sgp_EMAILpublicToken0123456789")
    workspace.set_profiles_token(PROFILE_TOKEN)
    workspace.save()
    source.workspace = workspace
    source.save()
    fake_segment.add_profile(
        space_id="spa_mail",
        token=PROFILE_TOKEN,
        user_id="nina-1",
        email="nina@example.com",
        traits={"plan": "enterprise", "email": "nina@example.com"},
    )
    response = login(support).post(
        LOOKUP, {"identifier_type": "email", "identifier": "Nina@example.com"}
    )
    assert response.context["profile"] == {"plan": "enterprise", "email": "nina@example.com"}
    states = {row.key: row.state for row in response.context["comparison"]}
    assert states == {"plan": "different", "email": "different"}
    asked = AuditEntry.objects.filter(call_type="profiles:traits").get()
    assert "/profiles/email:nina%40example.com/traits" in asked.url


def test_fix_traits_refuses_an_email_and_says_what_to_do(support) -> None:
    response = login(support).post(
        reverse("lookup:fix_traits"),
        {"identifier_type": "email", "identifier": "a@b.io"},
        follow=True,
    )
    assert "look them up by email, then fix the traits" in response.content.decode()


def test_recently_viewed_users_are_listed_newest_first(nina, support, marketer) -> None:
    client = login(support)
    client.get(LOOKUP, {"identifier_type": "user_id", "identifier": "other"})
    client.get(LOOKUP, {"identifier_type": "email", "identifier": "nina@example.com"})
    client.get(LOOKUP, {"identifier_type": "user_id", "identifier": "other"})  # again: first
    response = client.get(LOOKUP)
    recent = response.context["recent_lookups"]
    assert [(r["label"], r["identifier"]) for r in recent] == [
        ("User ID", "other"),
        ("Email", "nina@example.com"),
    ]
    html = response.content.decode()
    assert 'data-testid="recent-lookups"' in html
    assert recent[1]["url"] in html.replace("&amp;", "&")
    # Each person's list is their own, and only the last KEEP are kept.
    for n in range(KEEP + 3):
        client.get(LOOKUP, {"identifier_type": "user_id", "identifier": f"u-{n}"})
    assert RecentLookup.objects.filter(viewer=support).count() == KEEP
    assert not RecentLookup.objects.exclude(viewer=support).exists()


def _forget_emails() -> None:
    """The index as it was before the email column was filled (behind the app's back)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditmessage DISABLE TRIGGER USER")
        cursor.execute("UPDATE audit_auditmessage SET email = NULL")
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditmessage ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_the_back_fill_gives_the_messages_already_recorded_their_email(
    nina, marketer, monkeypatch
) -> None:
    migration = importlib.import_module("segadmin.audit.migrations.0010_message_index_email")
    monkeypatch.setattr(migration, "CHUNK", 2)  # several chunks
    messages = [
        build_message("identify", user_id=f"b-{n}", traits={"email": f"b{n}@example.com"})
        for n in range(3)
    ]
    record_request(
        actor=actor_for(None, "bulk worker"),
        request=client.batch_request(messages, write_key=WRITE_KEY, region="us"),
        bulk_job_id=str(uuid.uuid4()),
        index=index_batch(messages),
    )
    recorded = dict(AuditMessage.objects.values_list("pk", "email"))
    assert sum(1 for email in recorded.values() if email) == 5  # 2 single calls, 3 in the batch
    _forget_emails()
    assert not AuditMessage.objects.exclude(email=None).exists()
    migration.backfill(apps, None)
    assert dict(AuditMessage.objects.values_list("pk", "email")) == recorded
    if connection.vendor == "postgresql":  # the append-only trigger is back on
        from django.db import DatabaseError, transaction

        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("UPDATE audit_auditmessage SET email = NULL")


def test_the_back_fill_walks_the_index_by_primary_key_not_by_entry(
    nina, marketer, monkeypatch
) -> None:
    """The index has no entry_id index: a chunk looked up by entry would read every message."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    migration = importlib.import_module("segadmin.audit.migrations.0010_message_index_email")
    _forget_emails()
    with CaptureQueriesContext(db) as queries:
        migration.backfill(apps, None)
    on_the_index = [q["sql"] for q in queries if 'FROM "audit_auditmessage"' in q["sql"]]
    assert on_the_index
    assert all('"entry_id" IN' not in sql for sql in on_the_index)
