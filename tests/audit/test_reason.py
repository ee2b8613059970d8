"""A send's Reason: kept on the audit entry (secrets masked), covered by the hash chain when
given (entries without one keep their old hash), shown on the entry page and in the lookup
timeline, exported and verified offline."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from segadmin.audit import chain
from segadmin.audit.chain import CHANGED, verify_chain
from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Source
from tests.audit.conftest import tamper
from tests.calls.conftest import WRITE_KEY, form_data
from tests.factories import login, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(db: None, fake_segment: Any) -> Source:
    fake_segment.add_write_key(WRITE_KEY)
    return make_source("My site", WRITE_KEY)


def send_identify(client: Client, source: Source, reason: str, user_id: str = "u-1") -> AuditEntry:
    data = form_data(source, user_id=user_id, traits={"plan": "pro"}, action="send")
    data["reason"] = reason
    response = client.post("/calls/identify/", data)
    assert response.status_code == 200, response.content.decode()[-3000:]
    return AuditEntry.objects.get(pk=response.context["panel"]["entry_id"])


def test_a_reason_is_kept_on_the_entry_and_shown_on_its_page_and_in_the_lookup(
    support, source
) -> None:
    client = login(support)
    entry = send_identify(client, source, "  SUP-1234:   customer asked\nto change plan ")
    assert entry.reason == "SUP-1234: customer asked to change plan"  # one line
    page = client.get(f"/audit/{entry.pk}/").content.decode()
    assert 'data-testid="entry-reason">SUP-1234: customer asked to change plan<' in page
    lookup = client.get("/lookup/", {"identifier_type": "user_id", "identifier": "u-1"})
    html = lookup.content.decode()
    assert 'data-testid="timeline-reason">Reason: SUP-1234: customer asked to change plan<' in html
    assert verify_chain().ok


def test_the_reason_is_optional_on_a_call_screen(marketer, source) -> None:
    entry = send_identify(login(marketer), source, "")
    assert entry.reason == ""
    page = login(marketer).get(f"/audit/{entry.pk}/").content.decode()
    assert "entry-reason" not in page


def test_secrets_in_a_reason_are_masked(marketer, source) -> None:
    reason = f"pasted {WRITE_KEY} by mistake; token: abc123; password=hunter2"
    entry = send_identify(login(marketer), source, reason)
    assert WRITE_KEY not in entry.reason
    assert entry.reason == "pasted **** by mistake; token: ****; password=****"


def test_a_reason_over_500_characters_is_refused_next_to_the_field(marketer, source) -> None:
    data = form_data(source, user_id="u-1", action="send")
    data["reason"] = "x" * 501
    response = login(marketer).post("/calls/identify/", data)
    assert response.status_code == 422
    assert response.context["form"].errors["reason"] == ["Keep the reason under 500 characters."]
    assert not AuditEntry.objects.filter(kind=Kind.REQUEST).exists()


def test_a_changed_reason_breaks_the_chain(marketer, source) -> None:
    entry = send_identify(login(marketer), source, "SUP-1")
    assert verify_chain().ok
    tamper("UPDATE audit_auditentry SET reason = %s WHERE id = %s", ["SUP-2", entry.pk])
    report = verify_chain()
    assert report.broken is not None
    assert (report.broken.seq, report.broken.problem) == (entry.seq, CHANGED)


def test_a_reason_added_to_an_entry_without_one_breaks_the_chain(marketer, source) -> None:
    entry = send_identify(login(marketer), source, "")
    tamper("UPDATE audit_auditentry SET reason = %s WHERE id = %s", ["made up", entry.pk])
    assert verify_chain().broken.seq == entry.seq


def test_an_entry_without_a_reason_keeps_the_hash_it_had_before_reasons(marketer, source) -> None:
    entry = send_identify(login(marketer), source, "")
    values = chain._values(
        [getattr(entry, name) for name in chain.HASHED_FIELDS],
        [getattr(entry, name) for name in chain.OUTCOME_FIELDS],
    )  # as the chain hashed every row before the Reason existed
    key = chain.keyring().keys[entry.key_id]
    blobs = [getattr(entry, name) for name in chain.BLOB_FIELDS]
    assert chain._digest(entry.seq, entry.prev_hash, values, blobs, key) == entry.hash


def test_make_an_api_call_keeps_its_reason(admin_client: Client, source) -> None:
    data = {
        "api": "tracking",
        "source": str(source.pk),
        "method": "POST",
        "url": "/v1/identify",
        "body": json.dumps({"userId": "u-9"}),
        "headers__mode": "rows",
        "query__mode": "rows",
        "action": "send",
        "reason": "OPS-7 replay",
    }
    response = admin_client.post("/calls/api/", data)
    assert response.status_code == 200
    assert AuditEntry.objects.get(pk=response.context["panel"]["entry_id"]).reason == "OPS-7 replay"


def test_the_full_export_carries_the_reason_and_verifies_offline(
    admin_user, source, tmp_path, django_db_blocker
) -> None:
    client = login(admin_user)
    send_identify(client, source, "SUP-77")
    response = client.get("/audit/export/", {"format": "jsonl", "full": "1"})
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(response.streaming_content))
    rows = [json.loads(line) for line in path.read_text().splitlines()[1:-1]]
    assert [r["reason"] for r in rows if r["kind"] == "request"] == ["SUP-77"]

    def verify() -> int:
        with django_db_blocker.block():
            try:
                call_command("verify_audit", "--file", str(path), stdout=StringIO())
            except CommandError as exc:
                return exc.returncode
        return 0

    assert verify() == 0
    path.write_text(path.read_text().replace('"SUP-77"', '"SUP-78"'))
    assert verify() == 1


def test_the_csv_export_has_a_reason_column(admin_user, source) -> None:
    client = login(admin_user)
    send_identify(client, source, "SUP-5")
    response = client.get("/audit/export/", {"format": "csv"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    header = lines[0].split(",")
    assert "reason" in header
    assert "SUP-5" in lines[1]
