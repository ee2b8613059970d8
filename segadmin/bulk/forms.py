"""The upload form and the column mapping form of a bulk import."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings

from segadmin.accounts.permissions import may_send
from segadmin.bulk import parsing
from segadmin.bulk.models import BulkJob, CallType
from segadmin.bulk.plan import FIELD, SINGLE_TARGETS, check_mapping, field_name, target_choices
from segadmin.credentials.fields import SourceChoiceField
from segadmin.lib.forms import ErrorSummaryMixin


class CallTypeField(forms.ChoiceField):
    """The calls offered are those the person may send; a forged choice of another known call
    is refused with the reason rather than Django's "not one of the available choices"."""

    def validate(self, value: Any) -> None:
        # Django keeps a field's choices as a list of (value, label) pairs once they are set.
        offered = {str(k) for k, _ in cast("list[tuple[Any, str]]", self.choices)}
        if value in CallType.values and value not in offered:
            raise forms.ValidationError(
                f"Your role may not send {CallType(value).label} calls, so it cannot import them.",
                code="not_allowed",
            )
        super().validate(value)


class UploadForm(ErrorSummaryMixin, forms.Form):
    file = forms.FileField(
        label="File",
        help_text="CSV (with a header row) or JSON Lines (one JSON object per line), UTF-8.",
        error_messages={
            "required": "Choose a CSV or JSON Lines file to upload.",
            "empty": "The file is empty.",
        },
    )
    call_type = CallTypeField(
        label="Call",
        choices=CallType.choices,
        initial=CallType.IDENTIFY,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the call to send."},
    )
    source = SourceChoiceField()
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=500,
        help_text="Why you send this import, e.g. a ticket reference. Kept in the audit log "
        "with each of its batches.",
        error_messages={"max_length": "Keep the reason under 500 characters."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. MKT-42"}),
    )

    def __init__(self, *args: Any, user: Any, refused: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the sources the person may use (their source limits, if an Admin set any).
        self.fields["source"].limit_to(user)  # type: ignore[attr-defined]
        # Only the calls this person may send one by one (Support: Identify).
        cast(forms.ChoiceField, self.fields["call_type"]).choices = [
            (value, label) for value, label in CallType.choices if may_send(user, value)
        ]
        # Why the upload handler skipped the file (too large): said in place of "required".
        self.refused = refused
        if refused:
            self.fields["file"].required = False
        self.fields["file"].widget.attrs["accept"] = ".csv,.tsv,.txt,.jsonl,.ndjson,.json"
        rows = settings.SEGADMIN_BULK_MAX_ROWS
        self.fields[
            "file"
        ].help_text += (
            f" Up to {rows:,} rows and {parsing._size(settings.SEGADMIN_BULK_MAX_BYTES)}."
        )

    def clean_file(self) -> Any:
        if self.refused:
            raise forms.ValidationError(self.refused, code="too_large")
        return self.cleaned_data["file"]


class MappingForm(ErrorSummaryMixin, forms.Form):
    """One row of fields per column: ``target_<i>``, ``type_<i>``, ``null_<i>`` and
    ``property_<i>``, the trait or property name a field column fills (the column's own name
    when left empty; a planned name when the tracking plan's was proposed)."""

    def __init__(self, job: BulkJob, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job = job
        current = {m["column"]: m for m in job.mapping}
        targets = target_choices(job.call_type)
        for index, column in enumerate(job.columns):
            item = current.get(column, {})
            self.fields[f"target_{index}"] = forms.ChoiceField(
                label=f"Map “{column}” to", choices=targets, initial=item.get("target", FIELD)
            )
            self.fields[f"type_{index}"] = forms.ChoiceField(
                label=f"Type of “{column}”",
                choices=parsing.TYPE_CHOICES,
                initial=item.get("type", parsing.TEXT),
            )
            self.fields[f"null_{index}"] = forms.BooleanField(
                label="Empty means null", required=False, initial=item.get("empty_null", False)
            )
            self.fields[f"property_{index}"] = forms.CharField(
                label=f"Name “{column}” is sent as",
                required=False,
                max_length=255,
                initial=field_name(item) if item else column,
            )

    def rows(self) -> list[dict[str, Any]]:
        """What the template lays out as a table: one dict per column."""
        examples = self.job.examples
        planned = (self.job.planned or {}).get("fields") or {}
        return [
            {
                "column": column,
                "target": self[f"target_{index}"],
                "type": self[f"type_{index}"],
                "null": self[f"null_{index}"],
                "property": self[f"property_{index}"],
                "planned": planned.get(str(self[f"property_{index}"].value() or column)),
                "proposed": dict(parsing.TYPE_CHOICES).get(
                    self.job.proposals.get(column, parsing.TEXT), "text"
                ),
                "examples": [row[index] for row in examples[:3] if index < len(row)],
            }
            for index, column in enumerate(self.job.columns)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        mapping = []
        for index, column in enumerate(self.job.columns):
            target = data[f"target_{index}"]
            item = {
                "column": column,
                "target": target,
                # IDs, the event and the timestamp are sent as the text they are.
                "type": parsing.TEXT if target in SINGLE_TARGETS else data[f"type_{index}"],
                "empty_null": bool(data[f"null_{index}"]) and target == FIELD,
            }
            name = data[f"property_{index}"].strip()
            if target == FIELD and name and name != column:
                item["property"] = name
            mapping.append(item)
        for error in check_mapping(self.job.call_type, mapping):
            self.add_error(None, error)
        data["mapping"] = mapping
        return data
