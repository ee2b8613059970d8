"""The new privacy request form: every problem next to its field, nothing saved until all
is right (and nothing is ever sent from here: a saved request waits for approval)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from segadmin.credentials.fields import RegionalChoiceField, WorkspaceChoiceField
from segadmin.credentials.models import Source
from segadmin.lib.forms import ErrorSummaryMixin
from segadmin.privacy.models import (
    ACTION_HELP,
    SUBJECT_HELP,
    SUBJECT_TYPES,
    Action,
    scope_problems,
)
from segadmin.privacy.services import MAX_IDS

MAX_ID_LENGTH = 255
MAX_FILE_BYTES = 30 * 1024 * 1024


class ScopeField(RegionalChoiceField):
    """The whole workspace (empty) or one of its sources known to Segment by ID."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            queryset=Source.objects.exclude(segment_source_id="").order_by("name"),
            required=False,
            label="Scope",
            empty_label="The whole workspace",
            help_text="A source: the request reaches only what came through that source.",
            error_messages={"invalid_choice": "That source does not exist: choose another."},
            **kwargs,
        )


def read_ids(text: str) -> tuple[list[str], str]:
    """IDs one a line (blank lines and surrounding spaces dropped, repeats once): the list and
    the problem, if any."""
    seen: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        if not value:
            continue
        if len(value) > MAX_ID_LENGTH:
            return [], f"Line {number} is longer than {MAX_ID_LENGTH} characters."
        if not value.isprintable():
            return [], f"Line {number} contains control characters."
        seen[value] = None
        if len(seen) > MAX_IDS:
            return [], f"A request names at most {MAX_IDS:,} IDs; split the list."
    return list(seen), ""


class PrivacyRequestForm(ErrorSummaryMixin, forms.Form):
    workspace = WorkspaceChoiceField(label="Workspace")
    scope = ScopeField()
    action = forms.ChoiceField(
        label="Action",
        choices=Action.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what Segment should do."},
    )
    subject_type = forms.ChoiceField(
        label="Subject type",
        choices=SUBJECT_TYPES,
        initial="USER_ID",
        help_text=SUBJECT_HELP,
        error_messages={"invalid_choice": "Choose User ID, Anonymous ID or Object ID."},
    )
    ids = forms.CharField(
        label="IDs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=f"One a line, up to {MAX_IDS:,}; sent to Segment in calls of at most 5,000.",
    )
    ids_file = forms.FileField(
        label="Or a file of IDs",
        required=False,
        help_text="A text file, one ID a line.",
    )
    purge_kept_files = forms.BooleanField(
        label="Also remove these users' rows from the import files segadmin still keeps",
        required=False,
        help_text="On approval: rows of imports not started, the examples shown while mapping "
        "and the kept failed rows. The audit log keeps its entries.",
    )
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why, e.g. the support ticket: the approver and the audit log read it.",
        error_messages={"required": "Give a reason, e.g. the ticket reference."},
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A request reaches the whole workspace: a person an Admin limited to chosen
        # workspaces files only for those (segadmin/accounts/limits.py).
        cast(WorkspaceChoiceField, self.fields["workspace"]).limit_to(user)
        self.id_list: list[str] = []
        self.action_help = [(label, ACTION_HELP[Action(value)]) for value, label in Action.choices]

    def clean_reason(self) -> str:
        reason = str(self.cleaned_data["reason"]).strip()
        if not reason:
            raise forms.ValidationError("Give a reason, e.g. the ticket reference.")
        return reason

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        workspace, source = cleaned.get("workspace"), cleaned.get("scope")
        if workspace is not None and source is not None and source.workspace_id != workspace.pk:
            self.add_error("scope", f"“{source.name}” is not a source of “{workspace.name}”.")
        action, subject_type = cleaned.get("action"), cleaned.get("subject_type")
        if action and subject_type and "scope" not in self.errors:
            problems = scope_problems(
                source=source is not None, action=action, subject_type=subject_type
            )
            for name, problem in problems.items():
                self.add_error(name, problem)
        if subject_type == "OBJECT_ID" and cleaned.get("purge_kept_files"):
            self.add_error(
                "purge_kept_files",
                "Object IDs name no users: segadmin keeps nothing by them. Untick this box.",
            )
        text = str(cleaned.get("ids") or "")
        upload = cleaned.get("ids_file")
        if upload is not None:
            if upload.size > MAX_FILE_BYTES:
                self.add_error("ids_file", "The file is larger than 30 MB: split it.")
                return cleaned
            try:
                text += "\n" + upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("ids_file", "The file is not UTF-8 text.")
                return cleaned
        ids, problem = read_ids(text)
        if problem:
            from_file = upload is not None and not cleaned.get("ids")
            self.add_error("ids_file" if from_file else "ids", problem)
        elif not ids:
            self.add_error("ids", "Enter at least one ID, or choose a file.")
        self.id_list = ids
        return cleaned
