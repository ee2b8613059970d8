"""The send service's own guard (issue 16): a message or a raw Tracking API call to a Production
source without a confirmation naming it is refused before anything is recorded or sent, whatever
screen (or script) called it; a bulk job's batches are confirmed once, when the job is started."""

from __future__ import annotations

from typing import Any

import pytest

from segadmin import sending
from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Source
from segadmin.segment.messages import build_message
from tests.factories import make_source

pytestmark = [pytest.mark.django_db]

WRITE_KEY = "wk_PRODserviceAbCdEfGhIjKlMnOpQrS"


@pytest.fixture
def live(fake_segment: Any) -> Source:
    fake_segment.add_write_key(WRITE_KEY)
    return make_source("Live site", WRITE_KEY, production=True)


def _identify() -> dict[str, Any]:
    return build_message("identify", user_id="u-1", traits={"plan": "pro"})


def _requests() -> int:
    return AuditEntry.objects.filter(kind=Kind.REQUEST).count()


@pytest.mark.parametrize("confirmation", [None, "", "on", "Live", "0", ["on"]])
def test_a_message_without_a_confirmation_naming_the_source_is_refused(
    confirmation: Any, live: Source, fake_segment: Any
) -> None:
    with pytest.raises(sending.ProductionNotConfirmed) as refused:
        sending.send_message(
            actor=Actor.system("tests"),
            source=live,
            message=_identify(),
            confirm_production=confirmation,
        )
    assert str(refused.value).startswith("“Live site” is a Production source")
    assert str(refused.value).endswith("Nothing was sent.")
    assert _requests() == 0
    assert fake_segment.requests == []


@pytest.mark.parametrize("confirmation", ["pk", "Live site", ["x", "pk"]])
def test_a_message_confirmed_by_id_or_name_is_sent(
    confirmation: Any, live: Source, fake_segment: Any
) -> None:
    if confirmation == "pk":
        confirmation = live.pk
    elif isinstance(confirmation, list):
        confirmation = [str(live.pk) if c == "pk" else c for c in confirmation]
    sent = sending.send_message(
        actor=Actor.system("tests"),
        source=live,
        message=_identify(),
        confirm_production=confirmation,
    )
    assert sent.result.ok
    assert len(fake_segment.messages()) == 1
    # The audit entry says the send to a Production source was confirmed (hashed with it).
    assert sent.entry.details_data == {"production": "confirmed"}


def test_the_flag_is_read_from_the_database_not_the_callers_copy(
    fake_segment: Any,
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source("Staging", WRITE_KEY)
    Source.objects.filter(pk=source.pk).update(production=True)
    assert source.production is False  # the caller's stale copy
    with pytest.raises(sending.ProductionNotConfirmed):
        sending.send_message(actor=Actor.system("tests"), source=source, message=_identify())
    assert fake_segment.requests == []


def test_a_raw_tracking_call_to_production_needs_the_confirmation(
    live: Source, fake_segment: Any
) -> None:
    arguments: dict[str, Any] = {
        "actor": Actor.system("tests"),
        "api": "tracking",
        "source": live,
        "method": "POST",
        "path": "/v1/identify",
        "headers": {},
        "query": {},
        "body": '{"userId": "u-1"}',
    }
    with pytest.raises(sending.ProductionNotConfirmed):
        sending.send_raw(**arguments)
    assert _requests() == 0
    sent = sending.send_raw(**arguments, confirm_production=str(live.pk))
    assert sent.result.ok


def test_a_source_that_is_not_production_needs_nothing(fake_segment: Any) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source("Staging", WRITE_KEY)
    sent = sending.send_message(actor=Actor.system("tests"), source=source, message=_identify())
    assert sent.result.ok
    assert "production" not in (sent.entry.details_data or {})


def test_a_batch_is_not_asked_again(live: Source, fake_segment: Any) -> None:
    """The bulk worker's batches: the import was confirmed at Start (tests/production/test_bulk)."""
    sent = sending.send_batch(actor=Actor.system("tests"), source=live, messages=[_identify()])
    assert sent.result.ok
    assert sent.entry.details_data == {"production": "confirmed"}
