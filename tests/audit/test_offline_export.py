"""The full JSON Lines export carries the whole chain and verify_audit --file checks it offline:
without the database, given the key. A changed field, a removed or reordered line, or a cut
export is refused."""

from __future__ import annotations

import base64
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse

from segadmin.audit import export
from segadmin.audit.chain import BAD_CHECKPOINT, CHANGED, MISSING, UNKNOWN_KEY
from segadmin.audit.log import record_event
from segadmin.audit.models import AuditEntry, unpack_body
from tests.audit.entries import WRITE_KEY, actor_for, add_call, make_source
from tests.factories import login

EXPORT = reverse("audit:export")


@pytest.fixture
def exported(db, admin_user, marketer, tmp_path) -> Path:
    """A log of calls (sent, rejected, failed) and an event, exported in full by an Admin."""
    source = make_source()
    add_call(user=marketer, source=source, user_id="alice", event="Signed Up")
    add_call(user=marketer, source=source, user_id="bob", status=400, response=b'{"e":"bad"}')
    add_call(user=admin_user, source=source, call_type="identify", status=None, error="timeout")
    add_call(user=marketer, source=source, answered=False)
    record_event(
        actor=actor_for(admin_user),
        action="credential.changed",
        target_type="source",
        target_id=source.pk,
        target_name="Web",
        details={"changed": ["write key"], "write_key": "wk_should_be_masked"},
    )
    client = login(admin_user)
    response = client.get(EXPORT, {"format": "jsonl", "full": "1"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl"
    assert 'filename="segadmin-audit-full-' in response["Content-Disposition"]
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(response.streaming_content))
    return path


def verify_file(path: Path, django_db_blocker) -> tuple[str, str, int]:
    """verify_audit --file with every database access refused: it must not need one."""
    out = StringIO()
    with django_db_blocker.block():
        try:
            call_command("verify_audit", "--file", str(path), stdout=out)
        except CommandError as exc:
            return out.getvalue(), str(exc), exc.returncode
    return out.getvalue(), "", 0


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines))


def test_a_full_export_holds_every_row_with_bodies_outcome_rows_and_a_closing_checkpoint(
    exported,
) -> None:
    lines = [json.loads(line) for line in lines_of(exported)]
    header, rows, closing = lines[0], lines[1:-1], lines[-1]
    assert header["format"] == export.FULL_FORMAT
    assert [r["seq"] for r in rows] == list(
        AuditEntry.objects.order_by("seq").values_list("seq", flat=True)
    )
    assert {r["kind"] for r in rows} == {"request", "outcome", "event"}
    rejected = next(r for r in rows if r["kind"] == "outcome" and r["response_status"] == 400)
    assert unpack_body(base64.b64decode(rejected["response_body"])) == b'{"e":"bad"}'
    first = rows[0]
    assert json.loads(unpack_body(base64.b64decode(first["request_body"])))["userId"] == "alice"
    assert closing["checkpoint"]["seq"] == rows[-1]["seq"]
    assert closing["checkpoint"]["hash"] == rows[-1]["hash"]


def test_a_full_export_verifies_offline_without_the_database(exported, django_db_blocker) -> None:
    out, _, code = verify_file(exported, django_db_blocker)
    assert code == 0
    assert out.startswith(f"export.jsonl: OK: {AuditEntry.objects.count()} entries")


def test_a_full_export_never_holds_a_secret(exported) -> None:
    text = exported.read_text()
    bodies = b"".join(
        unpack_body(base64.b64decode(record[name]))
        for record in map(json.loads, text.splitlines()[1:-1])
        for name in ("request_body", "response_body")
    )
    for secret in (WRITE_KEY, "wk_should_be_masked"):
        assert secret not in text
        assert secret.encode() not in bodies
        assert base64.b64encode(secret.encode()).decode() not in text


def change_field(line: str, name: str, value) -> str:
    record = json.loads(line)
    record[name] = value
    return json.dumps(record) + "\n"


@pytest.mark.parametrize(
    "name, value",
    [
        ("user_id", "mallory"),
        ("created_at", "2020-01-01T00:00:00+00:00"),
        ("request_body", base64.b64encode(b'r{"userId":"mallory"}').decode()),
    ],
)
def test_an_export_with_a_changed_field_is_refused(
    exported, django_db_blocker, name, value
) -> None:
    lines = lines_of(exported)
    lines[1] = change_field(lines[1], name, value)
    rewrite(exported, lines)
    _, message, code = verify_file(exported, django_db_blocker)
    assert code != 0
    assert CHANGED in message and "HMAC mismatch" in message
    assert "seq 1" in message and "line 2" in message


def test_an_export_with_a_changed_outcome_copy_is_refused(exported, django_db_blocker) -> None:
    lines = lines_of(exported)
    at = next(i for i, line in enumerate(lines) if '"response_status":400' in line)
    request_line = next(
        i for i in range(at, 0, -1) if json.loads(lines[i]).get("kind") == "request"
    )
    lines[request_line] = change_field(lines[request_line], "outcome", "sent")
    rewrite(exported, lines)
    _, message, code = verify_file(exported, django_db_blocker)
    assert code != 0
    assert "outcome copy mismatch" in message


def test_an_export_with_a_removed_line_is_refused(exported, django_db_blocker) -> None:
    lines = lines_of(exported)
    del lines[3]
    rewrite(exported, lines)
    _, message, code = verify_file(exported, django_db_blocker)
    assert code != 0
    assert MISSING in message and "seq 3 is absent" in message


def test_an_export_with_reordered_lines_is_refused(exported, django_db_blocker) -> None:
    lines = lines_of(exported)
    lines[2], lines[3] = lines[3], lines[2]
    rewrite(exported, lines)
    _, message, code = verify_file(exported, django_db_blocker)
    assert code != 0
    assert MISSING in message or "outside the chain" in message


def test_an_export_with_its_last_entries_removed_is_refused(exported, django_db_blocker) -> None:
    lines = lines_of(exported)
    del lines[-3:-1]
    rewrite(exported, lines)
    _, message, code = verify_file(exported, django_db_blocker)
    assert code != 0
    assert "entries were removed" in message


def test_an_export_cut_short_is_refused(exported, django_db_blocker) -> None:
    rewrite(exported, lines_of(exported)[:-2])
    _, message, code = verify_file(exported, django_db_blocker)
    assert code != 0
    assert "no closing checkpoint" in message


def test_an_export_with_a_forged_closing_checkpoint_is_refused(exported, django_db_blocker) -> None:
    lines = lines_of(exported)
    closing = json.loads(lines[-1])
    closing["checkpoint"]["time"] = "2030-01-01T00:00:00+00:00"
    lines[-1] = json.dumps(closing) + "\n"
    rewrite(exported, lines)
    _, message, code = verify_file(exported, django_db_blocker)
    assert code != 0
    assert BAD_CHECKPOINT in message and "HMAC mismatch" in message


def test_an_export_checked_with_another_key_is_refused(exported, django_db_blocker) -> None:
    with override_settings(SEGADMIN_AUDIT_KEYS=["someone-elses-audit-key-0123456789abcdef"]):
        _, message, code = verify_file(exported, django_db_blocker)
    assert code != 0
    assert UNKNOWN_KEY in message and "which is not configured" in message


@pytest.mark.parametrize(
    "content, says",
    [
        ("", "not the header of a full audit export"),
        ('{"id": 1, "seq": 1}\n', "not the header of a full audit export"),
    ],
)
def test_a_file_that_is_no_full_export_gets_a_clear_message(
    tmp_path, django_db_blocker, content, says
) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(content)
    _, message, code = verify_file(path, django_db_blocker)
    assert code != 0 and says in message


def test_a_line_that_is_not_an_entry_is_refused(exported, django_db_blocker) -> None:
    lines = lines_of(exported)
    lines[2] = '{"seq": 2}\n'
    rewrite(exported, lines)
    _, message, code = verify_file(exported, django_db_blocker)
    assert code != 0
    assert "line 3 is not an audit entry" in message


def test_a_missing_file_gets_a_clear_message(tmp_path, django_db_blocker) -> None:
    _, message, code = verify_file(tmp_path / "nothing.jsonl", django_db_blocker)
    assert code != 0 and "Cannot read" in message


@pytest.mark.django_db
def test_the_full_export_refuses_filters_and_other_formats(admin_user) -> None:
    client = login(admin_user)
    filtered = client.get(EXPORT, {"format": "jsonl", "full": "1", "outcome": "failed"})
    assert filtered.status_code == 400
    assert b"without filters" in filtered.content and b"Remove: outcome" in filtered.content
    as_csv = client.get(EXPORT, {"format": "csv", "full": "1"})
    assert as_csv.status_code == 400


@pytest.mark.django_db
def test_only_those_who_may_export_get_the_full_export(marketer, support) -> None:
    for user in (marketer, support):
        client = login(user)
        assert client.get(EXPORT, {"format": "jsonl", "full": "1"}).status_code == 403


@pytest.mark.django_db
def test_an_empty_log_exports_and_verifies(admin_user, tmp_path, django_db_blocker) -> None:
    client = login(admin_user)
    path = tmp_path / "export.jsonl"
    response = client.get(EXPORT, {"format": "jsonl", "full": "1"})
    path.write_bytes(b"".join(response.streaming_content))
    out, _, code = verify_file(path, django_db_blocker)
    assert code == 0 and "OK: 0 entries" in out
