"""The Reason field every sending form offers: why this is sent, kept on the audit entry
(optional on the call screens and bulk uploads, required by Fix traits)."""

from __future__ import annotations

from django import forms

MAX_LENGTH = 500


def reason_field(*, required: bool = False, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label="Reason",
        required=required,
        max_length=MAX_LENGTH,
        help_text=help_text
        or "Why you send this, e.g. a ticket reference. Kept in the audit log with the call.",
        error_messages={
            "required": "Add the reason, e.g. the ticket reference: it is kept in the audit log.",
            "max_length": f"Keep the reason under {MAX_LENGTH} characters.",
        },
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. SUP-1234"}),
    )
