"""Forms for Workspaces and Sources. They only validate; the views save and audit.

Secret fields are write-only: a PasswordInput that never renders its value back, required
when creating, and left blank on edit to keep the stored secret.
"""

from __future__ import annotations

import re
from typing import Any, cast

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from segadmin.credentials.fields import RegionalChoiceField
from segadmin.credentials.models import Source, Workspace
from segadmin.lib.forms import ErrorSummaryMixin

# Segment's tokens and write keys are single words; whitespace or control characters inside
# one are a paste accident, and would break (or inject into) the Authorization header.
_BAD_SECRET_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f]")

KEEP_HELP = "Leave blank to keep the stored value (shown as {mask})."


def _secret_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        max_length=2000,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


def _check_secret(value: str, label: str) -> str:
    if value and _BAD_SECRET_CHARACTERS.search(value):
        raise forms.ValidationError(
            f"The {label} cannot contain spaces, line breaks or control characters; "
            "paste it again as one word."
        )
    return value


class _CredentialForm(ErrorSummaryMixin, forms.ModelForm[Any]):
    """Shared behaviour: a crispy helper and secret fields that never show their value."""

    summary_non_field = False  # crispy shows the form's own errors at its top

    # field name -> (label for the audit log, stored-mask attribute, required on create)
    secret_fields: dict[str, tuple[str, str, bool]] = {}

    def __init__(self, *args: Any, submit_label: str = "Save", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = True
        self.helper.add_input(Submit("save", submit_label))
        creating = self.instance.pk is None
        for name, (_audit, mask_attribute, required) in self.secret_fields.items():
            field = self.fields[name]
            mask = "" if creating else getattr(self.instance, mask_attribute)
            if mask:
                field.help_text = KEEP_HELP.format(mask=mask)
            elif required and creating:
                field.required = True

    def changed_labels(self) -> list[str]:
        """What this submission changes, in words for the audit log (never a value)."""
        labels = []
        for name in self.changed_data:
            if name in self.secret_fields:
                if self.cleaned_data.get(name):
                    labels.append(self.secret_fields[name][0])
            elif name in (self._meta.fields or ()):
                labels.append(str(self.fields[name].label))
        return labels


class WorkspaceForm(_CredentialForm):
    token = _secret_field(
        "Public API token", "From Segment: Settings → Access Management → Tokens."
    )
    profiles_token = _secret_field("Profile API access token")
    remove_profiles_token = forms.BooleanField(
        label="Remove the stored Profile API token", required=False
    )

    secret_fields = {
        "token": ("Public API token", "token_mask", True),
        "profiles_token": ("Profile API token", "profiles_token_mask", False),
    }

    class Meta:
        model = Workspace
        fields = ["name", "region", "profiles_space_id"]
        help_texts = {
            "region": "Where the workspace lives: the Public and Profile API hosts depend on it.",
            "profiles_space_id": "Optional: Unify → Unify settings → API access.",
        }

    field_order = ["name", "region", "token", "profiles_space_id", "profiles_token"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.profiles_token_encrypted:
            del self.fields["remove_profiles_token"]

    def clean_token(self) -> str:
        return _check_secret(self.cleaned_data["token"], "Public API token")

    def clean_profiles_token(self) -> str:
        return _check_secret(self.cleaned_data["profiles_token"], "Profile API token")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        space_id = cleaned.get("profiles_space_id")
        new_token = cleaned.get("profiles_token")
        removing = cleaned.get("remove_profiles_token")
        if new_token and removing:
            self.add_error(
                "remove_profiles_token",
                "Either enter a new Profile API token or remove the stored one, not both.",
            )
        has_token = bool(new_token) or (
            bool(self.instance.profiles_token_encrypted) and not removing
        )
        if new_token and not space_id:
            self.add_error(
                "profiles_space_id", "The Profile API token needs the space ID it belongs to."
            )
        if space_id and not has_token and "profiles_token" not in self.errors:
            self.add_error("profiles_token", "The Profile API needs an access token too.")
        region = cleaned.get("region")
        if self.instance.pk and region and region != self.instance.region:
            # Sources are sent to their own region's host: moving only the workspace would
            # leave them inconsistent.
            others = self.instance.sources.exclude(region=region).count()
            if others:
                self.add_error(
                    "region",
                    f"This workspace has {others} source{'s' if others != 1 else ''} in the "
                    f"{self.instance.get_region_display()} region, and a workspace shares its "
                    "region with its sources. Change or detach those sources first.",
                )
        return cleaned

    def changed_labels(self) -> list[str]:
        labels = super().changed_labels()
        if self.cleaned_data.get("remove_profiles_token"):
            labels.append("Profile API token removed")
        return labels

    def apply_secrets(self, workspace: Workspace) -> None:
        """Encrypt the secrets typed in onto ``workspace`` (blank keeps the stored ones)."""
        if self.cleaned_data.get("token"):
            workspace.set_public_api_token(self.cleaned_data["token"])
        if self.cleaned_data.get("profiles_token"):
            workspace.set_profiles_token(self.cleaned_data["profiles_token"])
        elif self.cleaned_data.get("remove_profiles_token"):
            workspace.set_profiles_token("")


class SourceForm(_CredentialForm):
    write_key = _secret_field("Write key", "From Segment: the source's Settings → API Keys.")

    secret_fields = {"write_key": ("Write key", "write_key_mask", True)}

    class Meta:
        model = Source
        fields = [
            "name",
            "region",
            "workspace",
            "enabled",
            "production",
            "segment_source_id",
            "slug",
            "tracking_plan",
            "plan_enforcement",
            "unplanned_events",
        ]
        # The workspace's region shows beside its name: a source must share it.
        field_classes = {"workspace": RegionalChoiceField}
        help_texts = {
            "region": "An EU write key must be sent to the EU endpoint, a US key to the US one.",
            "workspace": "Optional: the workspace this source belongs to.",
            "enabled": "Disabled sources are not offered on the send forms.",
            "production": (
                "A Production source is marked on every form, preview and result that sends "
                "to it, and every send to it (bulk imports and Send again included) asks for a "
                "confirmation naming it."
            ),
            "segment_source_id": "Optional: filled in when the source is imported.",
            "tracking_plan": "Optional: every message to this source is checked against it.",
            "plan_enforcement": (
                "Block: a message that breaks the plan is refused, with the reasons next to "
                "its fields. Warn: it is sent, and the violations are listed on the result and "
                "in the audit log."
            ),
            "unplanned_events": (
                "A Track event the plan does not name. Block: refused; Warn: sent with a "
                "warning; Allow: sent without a word."
            ),
        }

    field_order = ["name", "region", "write_key", "workspace", "enabled", "production"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Beside segadmin's enforcement: what Segment's own Protocols settings will do.
        settings = self.instance.protocols_settings if self.instance.pk else None
        self.fields["plan_enforcement"].help_text += " " + describe_protocols(settings)
        # Left out of a post (an older page, a script), they keep what the source has.
        for name in ("plan_enforcement", "unplanned_events"):
            self.fields[name].required = False

    def clean_plan_enforcement(self) -> str:
        return str(self.cleaned_data.get("plan_enforcement") or self.instance.plan_enforcement)

    def clean_unplanned_events(self) -> str:
        return str(self.cleaned_data.get("unplanned_events") or self.instance.unplanned_events)

    def changed_labels(self) -> list[str]:
        # A setting left out of the post kept its value: not a change for the audit entry.
        kept = {
            str(self.fields[name].label)
            for name in ("plan_enforcement", "unplanned_events")
            if self.cleaned_data.get(name) == self[name].initial
        }
        return [label for label in super().changed_labels() if label not in kept]

    def clean_write_key(self) -> str:
        return _check_secret(self.cleaned_data["write_key"], "write key")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        workspace = cleaned.get("workspace")
        region = cleaned.get("region")
        if workspace and region and workspace.region != region:
            self.add_error(
                "region",
                f"The workspace “{workspace.name}” is in the {workspace.get_region_display()} "
                "region; its sources must be too.",
            )
        plan = cleaned.get("tracking_plan")
        if plan is not None and (workspace is None or plan.workspace_id != workspace.pk):
            self.add_error(
                "tracking_plan",
                f"The tracking plan “{plan}” belongs to the workspace “{plan.workspace.name}”: "
                "choose that workspace, or a plan of this source's workspace.",
            )
        return cleaned

    def apply_secrets(self, source: Source) -> None:
        if self.cleaned_data.get("write_key"):
            source.set_write_key(self.cleaned_data["write_key"])


_PROTOCOLS_SWITCHES = (
    ("track", "allowUnplannedEvents", "unplanned Track events"),
    ("track", "allowEventOnViolations", "Track events with violations"),
    ("track", "allowUnplannedEventProperties", "unplanned properties"),
    ("identify", "allowUnplannedTraits", "unplanned Identify traits"),
)


def describe_protocols(settings: Any) -> str:
    """One sentence on what Segment's Protocols settings for the source (as imported) do."""
    if not isinstance(settings, dict) or not settings:
        return (
            "Segment's own Protocols settings for this source are not known here (import "
            "them with the source); by default Segment delivers everything."
        )
    blocked = []
    for call, key, words in _PROTOCOLS_SWITCHES:
        section = settings.get(call)
        if isinstance(section, dict) and section.get(key) is False:
            blocked.append(words)
    common = settings.get("track", {}) if isinstance(settings.get("track"), dict) else {}
    if str(common.get("commonEventOnViolations", "ALLOW")).upper() == "BLOCK":
        blocked.append("events that break the common schema")
    if not blocked:
        return "Segment's Protocols settings for this source deliver everything."
    return f"Segment's Protocols settings for this source drop {', '.join(blocked)}."


class ImportSourcesForm(forms.Form):
    """The Segment source ids chosen on the import list (write keys are fetched again)."""

    source_ids = forms.MultipleChoiceField(
        label="Sources to import",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one source to import."},
    )
    # Of those, the ones to mark Production (proposed from their names and labels).
    production_ids = forms.MultipleChoiceField(
        label="Production", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["source_ids"]).choices = choices
        cast(forms.ChoiceField, self.fields["production_ids"]).choices = choices
