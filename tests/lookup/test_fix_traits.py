"""Fix traits (issue 14): its own page naming the user, a before -> after table (Segment's value,
ours, the new one), only the changed traits sent, a required Reason kept on the audit entry and
shown in the lookup timeline; the same rules verdict and words as the Identify screen."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.audit.chain import verify_chain
from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Workspace
from tests.audit.entries import WRITE_KEY, add_call, make_source
from tests.calls.conftest import form_data
from tests.factories import login

pytestmark = pytest.mark.django_db
FIX = reverse("lookup:fix_traits")
PROFILE_TOKEN = "pt_FIXprofileToken0123456789abcd"


@pytest.fixture
def alice(marketer, fake_segment):
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source()
    add_call(
        user=marketer,
        source=source,
        call_type="identify",
        user_id="alice",
        traits={"plan": "free", "email": "a@example.com", "age": 30},
    )
    return source


@pytest.fixture
def with_profile(alice, fake_segment):
    workspace = Workspace(name="Acme", region="us", profiles_space_id="spa_fix")
    workspace.set_public_api_token("sgp_FIXpublicToken0123456789abcd")
    workspace.set_profiles_token(PROFILE_TOKEN)
    workspace.save()
    alice.workspace = workspace
    alice.save()
    fake_segment.state.add_space("spa_fix", PROFILE_TOKEN)
    fake_segment.add_profile(
        space_id="spa_fix",
        token=PROFILE_TOKEN,
        user_id="alice",
        traits={"plan": "pro", "email": "a@example.com", "age": 31, "city": "Oslo"},
    )
    return workspace


def open_page(client: Client, start_from: str = "ours") -> Any:
    response = client.post(
        FIX, {"identifier_type": "user_id", "identifier": "alice", "start_from": start_from}
    )
    assert response.status_code == 200, response.content.decode()[-2000:]
    return response


def posted(page: Any, action: str = "send", **changes: Any) -> dict[str, Any]:
    """The Fix traits form as opened, with ``changes`` (value_N by trait name, or raw fields)."""
    context = page.context
    data: dict[str, Any] = {
        "token": context["token"],
        "source": str(context["form"].initial.get("source") or ""),
        "action": action,
        "reason": "SUP-1234",
    }
    index = {row.key: i for i, row in enumerate(context["rows"])}
    for i, row in enumerate(context["rows"]):
        data[f"value_{i}"] = row.text
        data[f"type_{i}"] = row.type
    for name, value in changes.items():
        if name in index:
            data[f"value_{index[name]}"] = value
        else:
            data[name] = value
    return data


def sent_identifies(fake_segment) -> list[dict[str, Any]]:
    return [m for m in fake_segment.messages() if m.get("type") == "identify"]


def test_the_page_names_the_user_and_shows_before_and_after(with_profile, support) -> None:
    page = open_page(login(support), "segment")
    html = page.content.decode()
    assert 'data-testid="fix-banner"' in html
    assert 'data-testid="fix-user">alice<' in html
    assert "fills each new value with what Segment holds now" in html  # the starting points
    rows = {row.key: row for row in page.context["rows"]}
    assert (rows["age"].segment_shown, rows["age"].ours_shown, rows["age"].text) == (
        "31",
        "30",
        "31",
    )
    assert (rows["city"].segment_shown, rows["city"].ours_shown) == ('"Oslo"', None)
    assert rows["plan"].type == "text" and rows["age"].type == "number"


def test_only_the_changed_traits_are_sent_and_the_reason_is_recorded(
    with_profile, support, fake_segment
) -> None:
    client = login(support)
    page = open_page(client, "segment")
    response = client.post(FIX, posted(page, plan="enterprise"))
    assert response.status_code == 200, response.context["errors"]
    (message,) = sent_identifies(fake_segment)
    assert message["userId"] == "alice"
    assert message["traits"] == {"plan": "enterprise"}  # not age, email or city
    entry = response.context["panel"]["entry"]
    assert entry.reason == "SUP-1234"
    assert entry.outcome == "sent"
    html = response.content.decode()
    assert f'data-testid="fix-entry">audit entry #{entry.seq}<' in html
    # The reason is shown in the lookup timeline and on the entry's page.
    lookup = client.get(
        reverse("lookup:index"), {"identifier_type": "user_id", "identifier": "alice"}
    )
    assert 'data-testid="timeline-reason">Reason: SUP-1234<' in lookup.content.decode()
    assert (
        'data-testid="entry-reason">SUP-1234<' in client.get(f"/audit/{entry.pk}/").content.decode()
    )
    assert verify_chain().ok


def test_the_reason_is_required_and_nothing_is_sent_without_it(
    alice, support, fake_segment
) -> None:
    client = login(support)
    page = open_page(client)
    response = client.post(FIX, posted(page, plan="team", reason=""))
    assert response.status_code == 422
    assert response.context["form"].errors["reason"] == [
        "Add the reason, e.g. the ticket reference: it is kept in the audit log."
    ]
    assert sent_identifies(fake_segment) == []
    assert not AuditEntry.objects.filter(kind=Kind.REQUEST, reason__gt="").exists()


def test_nothing_changed_sends_nothing(alice, support, fake_segment) -> None:
    client = login(support)
    page = open_page(client)
    response = client.post(FIX, posted(page))
    assert response.status_code == 422
    assert "no trait changed" in response.context["errors"][0]
    assert sent_identifies(fake_segment) == []


def test_send_every_trait_when_asked_unset_one_and_add_one(alice, support, fake_segment) -> None:
    client = login(support)
    page = open_page(client)
    index = {row.key: i for i, row in enumerate(page.context["rows"])}
    data = posted(page, every="on", new_key="vip", new_value="true", new_type="boolean")
    data[f"unset_{index['email']}"] = "on"
    response = client.post(FIX, data)
    assert response.status_code == 200, response.context["errors"]
    (message,) = sent_identifies(fake_segment)
    assert message["traits"] == {"plan": "free", "age": 30, "email": None, "vip": True}


def test_preview_shows_the_identify_and_sends_nothing(alice, support, fake_segment) -> None:
    client = login(support)
    page = open_page(client)
    response = client.post(FIX, posted(page, action="preview", age="31"))
    assert response.status_code == 200
    assert response.context["panel"]["traits"] == {"age": 31}
    assert "&quot;age&quot;: 31" in response.content.decode()
    assert sent_identifies(fake_segment) == []
    assert not AuditEntry.objects.filter(
        kind=Kind.REQUEST, call_type="identify", reason="SUP-1234"
    ).exists()


def test_a_refused_value_gets_the_identify_screens_verdict_and_words(
    alice, support, fake_segment
) -> None:
    client = login(support)
    page = open_page(client)
    index = {row.key: i for i, row in enumerate(page.context["rows"])}
    data = posted(page, age="thirty")
    data[f"type_{index['age']}"] = "text"  # sent as text: Segment's age must be a number
    response = client.post(FIX, data)
    assert response.status_code == 422
    (row,) = [r for r in response.context["rows"] if r.key == "age"]
    # The Identify screen, given the same trait, says the same sentence next to its row.
    screen = client.post(
        "/calls/identify/",
        form_data(alice, user_id="alice", traits={"age": "thirty"}, action="send"),
    )
    assert screen.status_code == 422
    assert row.error and row.error in screen.content.decode()
    assert sent_identifies(fake_segment) == []


def test_a_value_that_does_not_fit_its_type_is_refused_next_to_its_row(alice, support) -> None:
    client = login(support)
    page = open_page(client)
    response = client.post(FIX, posted(page, age="many"))
    (row,) = [r for r in response.context["rows"] if r.key == "age"]
    assert row.error == "“many” is not a number, like 42 or 19.99."
    assert response.status_code == 422


def test_a_marketer_may_not_fix_traits(alice, marketer) -> None:
    response = login(marketer).post(
        FIX, {"identifier_type": "user_id", "identifier": "alice", "start_from": "ours"}
    )
    assert response.status_code == 403


def test_an_expired_page_sends_nothing_and_says_so(alice, support, fake_segment) -> None:
    response = login(support).post(
        FIX, {"token": "gone", "action": "send", "reason": "x"}, follow=True
    )
    assert "expired" in response.content.decode()
    assert sent_identifies(fake_segment) == []
