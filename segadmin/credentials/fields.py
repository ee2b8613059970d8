"""The one way a form offers a source or a workspace: by "name (Region)".

Every screen that picks one (the call screens, Make an API call, bulk imports, user lookup, a
source's own form) uses these fields, so the same item reads the same everywhere and no choice
label ever carries a write key or a token, not even its mask.
"""

from __future__ import annotations

from typing import Any

from django import forms

from segadmin.credentials.models import Source, Workspace


class RegionalChoiceField(forms.ModelChoiceField[Source | Workspace]):
    """A source or a workspace, labelled by its name and region."""

    def label_from_instance(self, obj: Source | Workspace) -> str:
        return f"{obj.name} ({obj.get_region_display()})"


class SourceChoiceField(RegionalChoiceField):
    """Enabled sources only, by name: what a sender may choose to send to."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Source")
        kwargs.setdefault("empty_label", "Choose a source…")
        kwargs.setdefault(
            "error_messages",
            {
                "required": "Choose the source to send to.",
                "invalid_choice": "That source does not exist or is disabled: choose another.",
            },
        )
        super().__init__(queryset=Source.objects.filter(enabled=True).order_by("name"), **kwargs)
        # The enabled source this request already read for the same value (the call screens
        # read it to draw the plan's rows): cleaning returns it instead of reading it again.
        self.known: Source | None = None

    def to_python(self, value: Any) -> Any:
        known = self.known
        if known is not None and known.enabled and str(value) == str(known.pk):
            return known
        return super().to_python(value)


class WorkspaceChoiceField(RegionalChoiceField):
    """Every workspace by name, unless a narrower ``queryset`` is given."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Workspace")
        kwargs.setdefault("queryset", Workspace.objects.order_by("name"))
        kwargs.setdefault("empty_label", "Choose a workspace…")
        kwargs.setdefault(
            "error_messages",
            {"invalid_choice": "That workspace does not exist: choose another."},
        )
        super().__init__(**kwargs)
