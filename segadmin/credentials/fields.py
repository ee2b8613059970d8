"""The one way a form offers a source or a workspace: by "name (Region)".

Every screen that picks one (the call screens, Make an API call, bulk imports, user lookup, a
source's own form) uses these fields, so the same item reads the same everywhere and no choice
label ever carries a write key or a token, not even its mask.
"""

from __future__ import annotations

from typing import Any

from django import forms

from segadmin.accounts import limits
from segadmin.credentials import production
from segadmin.credentials.models import Source, Workspace
from segadmin.lib.ids import whole_number


class RegionalChoiceField(forms.ModelChoiceField[Source | Workspace]):
    """A source or a workspace, labelled by its name and region.

    ``limit_to(user)`` offers only what a person limited to chosen sources or workspaces may
    use (segadmin/accounts/limits.py); one outside the limits, posted by a forged form, is
    refused with a sentence saying so (code "not_allowed"), and kept in ``refused`` for the
    screen to record the refusal in the audit log.
    """

    limits: limits.Limits = limits.UNRESTRICTED
    refused: Source | Workspace | None = None

    def label_from_instance(self, obj: Source | Workspace) -> str:
        return f"{obj.name} ({obj.get_region_display()})"

    def limit_to(self, user: Any) -> None:
        self.limits = limits.limits_of(user)
        if self.limits.restricted and self.queryset is not None:
            self.queryset = self._narrow(self.queryset)

    # Subclasses say what their limits allow (here: everything, nothing narrowed).
    def allows(self, obj: Any) -> bool:
        return True

    def _narrow(self, queryset: Any) -> Any:
        return queryset

    def _refusal(self, obj: Any) -> str:
        return ""

    def _outside(self, value: Any) -> Any:
        """The object ``value`` names when it exists beyond the offered choices."""
        return None

    def to_python(self, value: Any) -> Any:
        self.refused = None
        try:
            obj = super().to_python(value)
        except forms.ValidationError:
            if not self.limits.restricted:
                raise
            obj = self._outside(value)
            if obj is None:
                raise
        if obj is not None and not self.allows(obj):
            self.refused = obj
            raise forms.ValidationError(self._refusal(obj), code="not_allowed")
        return obj


class SourceSelect(forms.Select):
    """A Source select whose Production options carry ``data-production``: the page's script
    (static/js/forms.js) says at once that sending to one asks for a confirmation."""

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(*args, **kwargs)
        instance = getattr(option.get("value"), "instance", None)
        if getattr(instance, "production", False):
            option["attrs"]["data-production"] = "true"
        return option


class SourceChoiceField(RegionalChoiceField):
    """Enabled sources only, by name: what a sender may choose to send to."""

    widget = SourceSelect

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

    def label_from_instance(self, obj: Source | Workspace) -> str:
        # A Production source says so in the list itself, in words (issue 16).
        label = super().label_from_instance(obj)
        return f"{label} — Production" if getattr(obj, "production", False) else label

    def to_python(self, value: Any) -> Any:
        known = self.known
        if known is not None and known.enabled and str(value) == str(known.pk):
            if not self.allows(known):
                self.refused = known
                raise forms.ValidationError(self._refusal(known), code="not_allowed")
            return known
        return super().to_python(value)

    def allows(self, obj: Any) -> bool:
        return self.limits.allows_source(obj)

    def _narrow(self, queryset: Any) -> Any:
        return queryset.filter(self.limits.source_q())

    def _refusal(self, obj: Any) -> str:
        return limits.source_refusal(obj)

    def _outside(self, value: Any) -> Any:
        pk = whole_number(str(value or ""))
        return Source.objects.filter(pk=pk, enabled=True).first() if pk is not None else None


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

    def allows(self, obj: Any) -> bool:
        return self.limits.allows_workspace(obj)

    def _narrow(self, queryset: Any) -> Any:
        return queryset.filter(pk__in=self.limits.workspace_ids)

    def _refusal(self, obj: Any) -> str:
        return limits.workspace_refusal(obj)

    def _outside(self, value: Any) -> Any:
        pk = whole_number(str(value or ""))
        return Workspace.objects.filter(pk=pk).first() if pk is not None else None


def production_confirmation() -> forms.CharField:
    """The confirmation a send form posts for a Production source (credentials.production):
    the ticked box's value (the source's id) or the name typed. Never required by the form
    itself: the send service decides, and the screen puts its refusal next to this field."""
    return forms.CharField(label="Production", required=False, max_length=500, strip=True)


def production_context(form: forms.BaseForm, *, sent: bool = False) -> dict[str, Any]:
    """What templates/credentials/production_confirm.html needs for ``form``'s chosen source:
    the source when it is a Production one (None otherwise), whether the box stays ticked (as
    posted, but never after a send: each send asks again) and the refusal, if any."""
    source = chosen_source(form)
    if source is None or not source.production:
        return {"production_source": None}
    field = form[production.FIELD] if production.FIELD in form.fields else None
    posted = form.data.get(production.FIELD) if form.is_bound else None
    return {
        "production_source": source,
        "production_checked": not sent and production.names(source, posted),
        "production_errors": list(field.errors) if field is not None else [],
    }


def chosen_source(form: forms.BaseForm, name: str = "source") -> Source | None:
    """The source ``form`` has chosen (cleaned, posted or initial), or None."""
    if name not in form.fields:
        return None
    cleaned = getattr(form, "cleaned_data", None) or {}
    source = cleaned.get(name)
    if isinstance(source, Source):
        return source
    value = form[name].value()
    if isinstance(value, Source):
        return value
    pk = whole_number(str(value or "").strip())
    offered = getattr(form.fields[name], "queryset", None)
    if pk is None or offered is None:
        return None
    found = offered.filter(pk=pk).first()  # what the field offers this person only
    return found if isinstance(found, Source) else None
