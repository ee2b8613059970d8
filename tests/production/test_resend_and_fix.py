"""Send again and Fix traits to a Production source (issue 16): refused without the confirmation
naming the source (the refusal next to the box, nothing sent), sent with it; a source that is
not Production needs nothing; the marker is on the page and on the result."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.urls import reverse

from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Source
from tests.audit.entries import WRITE_KEY, add_call, make_source
from tests.factories import login
from tests.lookup.test_fix_traits import FIX, open_page, posted, sent_identifies

pytestmark = pytest.mark.django_db

REFUSAL = "“Live site” is a Production source"


def _requests() -> int:
    return AuditEntry.objects.filter(kind=Kind.REQUEST).count()


def _error_next_to_the_box(text: str) -> str:
    part = text.split('data-testid="confirm-production-error">', 1)
    assert len(part) == 2, "no refusal next to the confirmation box"
    return html.unescape(part[1].split("</div>", 1)[0])


# --- Send again -----------------------------------------------------------------------------


@pytest.fixture
def sent_before(admin_user: Any, fake_segment: Any) -> AuditEntry:
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source("Live site", production=True)
    return add_call(user=admin_user, source=source, call_type="track", user_id="u1", event="Paid")


def test_the_entry_page_marks_the_source_and_offers_the_confirmation(
    admin_user: Any, sent_before: AuditEntry
) -> None:
    page = login(admin_user).get(reverse("audit:entry", args=[sent_before.pk]))
    assert 'data-testid="production-badge">Production</span>' in page.text
    assert 'data-testid="production-banner"' in page.text
    assert "Send again to Production source “Live site”" in html.unescape(page.text)


def test_send_again_to_production_without_the_confirmation_is_refused(
    admin_user: Any, sent_before: AuditEntry, fake_segment: Any
) -> None:
    before = _requests()
    response = login(admin_user).post(reverse("audit:send_again", args=[sent_before.pk]))
    assert response.status_code == 422
    assert _error_next_to_the_box(response.text).startswith(REFUSAL)
    assert _requests() == before
    assert fake_segment.requests == []


def test_send_again_with_a_forged_confirmation_is_refused(
    admin_user: Any, sent_before: AuditEntry, fake_segment: Any
) -> None:
    response = login(admin_user).post(
        reverse("audit:send_again", args=[sent_before.pk]), {"confirm_production": "on"}
    )
    assert response.status_code == 422
    assert fake_segment.requests == []


def test_send_again_to_production_with_the_confirmation_is_sent(
    admin_user: Any, sent_before: AuditEntry, fake_segment: Any
) -> None:
    source = Source.objects.get(name="Live site")
    response = login(admin_user).post(
        reverse("audit:send_again", args=[sent_before.pk]),
        {"confirm_production": str(source.pk)},
        follow=True,
    )
    assert "Sent again as entry" in response.text
    assert [m["event"] for m in fake_segment.messages()] == ["Paid"]


def test_send_again_to_a_source_that_is_not_production_needs_nothing(
    admin_user: Any, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    entry = add_call(user=admin_user, source=make_source("Staging"), user_id="u1", event="Paid")
    page = login(admin_user).get(reverse("audit:entry", args=[entry.pk]))
    assert "production-banner" not in page.text
    response = login(admin_user).post(reverse("audit:send_again", args=[entry.pk]), follow=True)
    assert "Sent again as entry" in response.text
    assert len(fake_segment.messages()) == 1


# --- Fix traits -----------------------------------------------------------------------------


@pytest.fixture
def alice_live(marketer: Any, fake_segment: Any) -> Source:
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source("Live site", production=True)
    add_call(
        user=marketer,
        source=source,
        call_type="identify",
        user_id="alice",
        traits={"plan": "free"},
    )
    return source


def test_fix_traits_marks_a_production_source_and_preview_needs_no_confirmation(
    alice_live: Source, support: Any, fake_segment: Any
) -> None:
    client = login(support)
    page = open_page(client)
    assert 'data-testid="production-banner"' in page.text
    preview = client.post(FIX, posted(page, action="preview", plan="pro"))
    assert preview.status_code == 200
    assert 'data-testid="panel-production"' in preview.text
    assert "confirm-production-error" not in preview.text
    assert sent_identifies(fake_segment) == []


def test_fix_traits_to_production_without_the_confirmation_is_refused(
    alice_live: Source, support: Any, fake_segment: Any
) -> None:
    client = login(support)
    page = open_page(client)
    before = _requests()
    for forged in ("", "on"):
        response = client.post(FIX, posted(page, plan="pro", confirm_production=forged))
        assert response.status_code == 422
        assert _error_next_to_the_box(response.text).startswith(REFUSAL)
        assert "is a Production source; confirm below." in html.unescape(response.text)
    assert _requests() == before
    assert sent_identifies(fake_segment) == []


def test_fix_traits_to_production_with_the_confirmation_is_sent(
    alice_live: Source, support: Any, fake_segment: Any
) -> None:
    client = login(support)
    page = open_page(client)
    response = client.post(FIX, posted(page, plan="pro", confirm_production=str(alice_live.pk)))
    assert response.status_code == 200, response.context["errors"]
    (message,) = sent_identifies(fake_segment)
    assert message["traits"] == {"plan": "pro"}
    assert 'data-testid="panel-production"' in response.text
    box = response.text.split('id="id_confirm_production"', 1)[1].split(">", 1)[0]
    assert "checked" not in box  # the next send asks again
