"""Send again's optional Reason: the same field as the call screens' (label, 500 characters,
one line, secrets masked), passed through the send service onto the new entry and shown on its
page; a reason too long is refused next to the field and nothing is sent. For each role, through
the form and through a forged POST."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from segadmin.audit.chain import verify_chain
from segadmin.audit.models import AuditEntry
from tests.audit.entries import WRITE_KEY, add_call, make_source
from tests.factories import login

pytestmark = pytest.mark.django_db

# Each role with a call it may send again (Support fixes traits: Identify only).
ROLES = [("marketer", "track"), ("support", "identify"), ("admin_user", "track")]


@pytest.fixture
def live_source(fake_segment):
    fake_segment.add_write_key(WRITE_KEY)
    return make_source()


def _original(user, source, call_type: str) -> AuditEntry:
    if call_type == "identify":
        return add_call(user=user, source=source, call_type="identify", traits={"plan": "pro"})
    return add_call(user=user, source=source, event="Order Completed")


@pytest.mark.parametrize(("persona_name", "call_type"), ROLES)
def test_the_entry_page_offers_an_optional_reason_labelled_reason(
    persona, persona_name, call_type, live_source
) -> None:
    user = persona(persona_name)
    original = _original(user, live_source, call_type)
    response = login(user).get(reverse("audit:entry", args=[original.pk]))
    html = response.content.decode()
    form = html[html.index('action="/audit/') : html.index("Send again</button>")]
    label = re.search(r'<label\s+for="id_reason"[^>]*>\s*(.*?)\s*</label>', form, re.S)
    assert label is not None and label.group(1) == "Reason"  # not "Reason*": optional
    field = re.search(r'<input [^>]*name="reason"[^>]*>', form)
    assert field is not None
    assert 'maxlength="500"' in field.group(0) and "required" not in field.group(0)


@pytest.mark.parametrize(("persona_name", "call_type"), ROLES)
def test_a_reason_is_kept_on_the_new_entry_one_line_and_shown_on_its_page(
    persona, persona_name, call_type, live_source, fake_segment
) -> None:
    user = persona(persona_name)
    original = _original(user, live_source, call_type)
    client = login(user)
    response = client.post(
        reverse("audit:send_again", args=[original.pk]),
        {"reason": "  SUP-9:  first one\ntimed out "},
        follow=True,
    )
    resend = AuditEntry.objects.get(related_to=original)
    assert resend.reason == "SUP-9: first one timed out"
    assert 'data-testid="entry-reason">SUP-9: first one timed out<' in response.content.decode()
    assert original.reason == AuditEntry.objects.get(pk=original.pk).reason == ""
    assert len(fake_segment.messages()) == 1
    assert verify_chain().ok


@pytest.mark.parametrize(("persona_name", "call_type"), ROLES)
def test_the_reason_is_optional(persona, persona_name, call_type, live_source) -> None:
    user = persona(persona_name)
    original = _original(user, live_source, call_type)
    response = login(user).post(reverse("audit:send_again", args=[original.pk]), follow=True)
    resend = AuditEntry.objects.get(related_to=original)
    assert resend.reason == ""
    assert "entry-reason" not in response.content.decode()


@pytest.mark.parametrize(("persona_name", "call_type"), ROLES)
def test_secrets_in_the_reason_are_masked(persona, persona_name, call_type, live_source) -> None:
    user = persona(persona_name)
    original = _original(user, live_source, call_type)
    reason = f"pasted {WRITE_KEY} by mistake; token: abc123; password=hunter2"
    response = login(user).post(
        reverse("audit:send_again", args=[original.pk]), {"reason": reason}, follow=True
    )
    resend = AuditEntry.objects.get(related_to=original)
    assert resend.reason == "pasted **** by mistake; token: ****; password=****"
    html = response.content.decode()
    assert WRITE_KEY not in html and "hunter2" not in html and "abc123" not in html


@pytest.mark.parametrize(("persona_name", "call_type"), ROLES)
def test_a_reason_over_500_characters_is_refused_next_to_the_field_and_nothing_is_sent(
    persona, persona_name, call_type, live_source, fake_segment
) -> None:
    user = persona(persona_name)
    original = _original(user, live_source, call_type)
    response = login(user).post(
        reverse("audit:send_again", args=[original.pk]), {"reason": "x" * 501}
    )
    assert response.status_code == 422
    html = response.content.decode()
    # The same words as on the call screens, under the field, the field marked invalid.
    assert response.context["send_again_form"].errors["reason"] == [
        "Keep the reason under 500 characters."
    ]
    field = re.search(r'<input [^>]*name="reason"[^>]*>', html)
    assert field is not None
    assert "is-invalid" in field.group(0) and "id_reason_error" in field.group(0)
    assert f'value="{"x" * 501}"' in field.group(0)  # what was typed is kept, to shorten
    error = re.search(r'<div id="id_reason_error"[^>]*>(.*?)</div>', html, re.S)
    assert error is not None
    assert "Keep the reason under 500 characters." in error.group(1)
    assert not AuditEntry.objects.filter(related_to=original).exists()
    assert fake_segment.messages() == []


def test_a_reason_of_exactly_500_characters_is_sent(marketer, live_source) -> None:
    original = _original(marketer, live_source, "track")
    login(marketer).post(reverse("audit:send_again", args=[original.pk]), {"reason": "y" * 500})
    assert AuditEntry.objects.get(related_to=original).reason == "y" * 500


def test_a_forged_post_with_a_reason_does_not_let_support_send_a_track_again(
    support, live_source, fake_segment
) -> None:
    original = add_call(user=support, source=live_source, event="Order Completed")
    response = login(support).post(
        reverse("audit:send_again", args=[original.pk]), {"reason": "SUP-1"}, follow=True
    )
    assert "Not sent again: Your role may not send Track calls." in response.content.decode()
    assert not AuditEntry.objects.filter(related_to=original).exists()
    assert fake_segment.messages() == []


def test_a_forged_post_by_a_marketer_for_someone_elses_entry_is_not_found(
    marketer, support, live_source, fake_segment
) -> None:
    original = add_call(user=support, source=live_source, call_type="identify")
    response = login(marketer).post(
        reverse("audit:send_again", args=[original.pk]), {"reason": "x" * 501}
    )
    assert response.status_code == 404
    assert fake_segment.messages() == []


def test_a_production_refusal_keeps_the_reason_typed(admin_user, fake_segment) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source(production=True)
    original = add_call(user=admin_user, source=source)
    response = login(admin_user).post(
        reverse("audit:send_again", args=[original.pk]), {"reason": "OPS-3 replay"}
    )
    assert response.status_code == 422
    assert 'value="OPS-3 replay"' in response.content.decode()
    assert fake_segment.messages() == []
