"""The audit list's “Sent with tracking-plan violations” filter (issue 13)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from segadmin import sending as services
from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Source
from segadmin.segment.messages import build_message
from tests.factories import make_source
from tests.tracking_plans import connect

pytestmark = pytest.mark.django_db
WRITE_KEY = "wk_FILTERtestAbCdEfGhIjKlMnOpQrSt"


@pytest.fixture
def warned_source(db: None, fake_segment: Any) -> Source:
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source("Shop site", WRITE_KEY)
    connect(source, enforcement="warn")
    return source


def send(source: Source, properties: dict[str, Any]) -> AuditEntry:
    message = build_message("track", user_id="u-1", event="Order Completed", properties=properties)
    return services.send_message(actor=Actor.system("test"), source=source, message=message).entry


def listed(client: Client, query: str) -> list[int]:
    response = client.get(f"/audit/?{query}")
    assert response.status_code == 200
    return [int(seq) for seq in re.findall(r'data-seq="(\d+)"', response.content.decode())]


def test_the_filter_lists_only_requests_sent_with_violations(
    client: Client, admin_user: Any, warned_source: Source
) -> None:
    client.force_login(admin_user)
    broken = send(warned_source, {"total": "12"})
    clean = send(warned_source, {"order_id": "o-1", "total": 12})
    assert (broken.plan_violations, clean.plan_violations) == (2, 0)

    assert listed(client, "violations=on") == [broken.seq]
    everything = listed(client, "")
    assert broken.seq in everything and clean.seq in everything
    # Combined with other filters, as any filter is.
    assert listed(client, "violations=on&event=Order+Completed") == [broken.seq]
    assert listed(client, "violations=on&outcome=rejected") == []


def test_the_violation_count_is_written_with_the_entry_and_the_chain_still_verifies(
    warned_source: Source,
) -> None:
    from segadmin.audit.chain import verify_chain

    entry = send(warned_source, {"total": "12"})
    stored = AuditEntry.objects.get(pk=entry.pk, kind=Kind.REQUEST)
    assert stored.plan_violations == 2
    assert '"tracking_plan"' in stored.details
    assert verify_chain().ok
