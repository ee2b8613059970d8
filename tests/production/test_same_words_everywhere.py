"""One refusal, one sentence (tests/test_same_verdict_everywhere.py's rule, for issue 16): a send
to a Production source without its confirmation is refused in the same words next to the box on
every call screen, Make an API call, Send again and Fix traits, the words of
credentials.production.refusal; the send service raises the same sentence."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from segadmin import sending
from segadmin.audit.log import Actor
from segadmin.credentials import production
from segadmin.credentials.models import Source
from segadmin.segment.messages import build_message
from tests.audit.entries import WRITE_KEY, add_call, make_source
from tests.factories import login
from tests.lookup.test_fix_traits import FIX, open_page, posted
from tests.production.test_call_screens import SCREENS, _api_data, _data, _error_next_to_the_box

pytestmark = pytest.mark.django_db


def test_every_entrance_refuses_in_the_same_words(admin_user: Any, fake_segment: Any) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    live = make_source("Live site", production=True)
    expected = production.refusal(live)
    client = login(admin_user)
    found: dict[str, str] = {}
    for screen in SCREENS:
        response = client.post(reverse(f"calls:{screen}"), _data(screen, live, json_mode=False))
        found[screen] = _error_next_to_the_box(response.text)
    response = client.post(reverse("calls:api"), _api_data(live))
    found["Make an API call"] = _error_next_to_the_box(response.text)
    entry = add_call(
        user=admin_user, source=live, call_type="identify", user_id="alice", traits={"plan": "a"}
    )
    response = client.post(reverse("audit:send_again", args=[entry.pk]))
    found["Send again"] = _error_next_to_the_box(response.text)
    page = open_page(client)
    response = client.post(FIX, posted(page, plan="pro"))
    found["Fix traits"] = _error_next_to_the_box(response.text)
    assert found == dict.fromkeys(found, expected)
    with pytest.raises(sending.ProductionNotConfirmed) as refused:
        sending.send_message(
            actor=Actor.system("tests"),
            source=Source.objects.get(pk=live.pk),
            message=build_message("identify", user_id="alice"),
        )
    assert str(refused.value) == expected
