"""Plan-driven forms: what a source's tracking plan tells the call screens to offer.

For a source connected to a tracking plan, Track's Event Name offers the plan's events, and the
property (Track) or trait (Identify, Group) editor lists the names the matching rule plans
first: typed from the schema, required ones marked, descriptions as help, enums as choices.

This module only reads the stored plan (``credentials.TrackingPlan``) through the engine
(``segment.plans``); whether a message may be sent is the rules' and the plan validation's to
say. The one check made here is the editor's own: under Block enforcement, a planned row that
the plan requires and that was left empty gets "… is required by the tracking plan" under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from segadmin.calls.spec import VALUE_TYPES
from segadmin.credentials.models import Source
from segadmin.lib.ids import whole_number
from segadmin.segment import plans
from segadmin.segment.values import BOOLEAN, DATETIME, LIST, NULL, NUMBER, OBJECT, TEXT

# The calls whose editors a plan fills, and the editor field each one has.
PLANNED_CALLS = {"track": "properties", "identify": "traits", "group": "traits"}

# JSON Schema types -> editor row types.
_SCHEMA_TYPES = {
    "string": TEXT,
    "number": NUMBER,
    "integer": NUMBER,
    "boolean": BOOLEAN,
    "object": OBJECT,
    "array": LIST,
    "null": NULL,
}


@dataclass(frozen=True)
class PlannedField:
    """One property or trait a plan's rule names."""

    name: str
    types: tuple[str, ...]  # editor row types the schema allows; the first is the default
    required: bool
    description: str
    choices: tuple[Any, ...]  # the schema's enum, as JSON values ("" when it has none)
    plan_name: str
    enforce: bool  # Block enforcement: an empty required row stops the form

    @property
    def required_message(self) -> str:
        return f"{self.name} is required by the tracking plan “{self.plan_name}”"


@dataclass(frozen=True)
class Planned:
    """What a source's plan offers one call screen."""

    plan_name: str
    events: tuple[str, ...]  # Track: the plan's event names, sorted
    free_text: bool  # Track: may an event outside the plan be typed? (unplanned not blocked)
    event: str  # the event the fields are for ("" when none is chosen or it is unplanned)
    fields: tuple[PlannedField, ...]
    # When the plan is stale (not fetched for 24 hours): its last import, None if never. A
    # person filling the form should know the plan may no longer be Segment's.
    stale: bool = False
    imported_at: datetime | None = None
    # Track: the chosen event's versions in the plan, oldest first, when it has more than one
    # ((version, deprecated since or ""), ...), and the one chosen (None: not given, so
    # Segment checks the oldest, and the fields are the oldest's).
    versions: tuple[tuple[int, str], ...] = ()
    version: int | None = None

    def by_name(self) -> dict[str, PlannedField]:
        return {f.name: f for f in self.fields}


def source_of(value: object) -> Source | None:
    """The enabled source a form's ``source`` value names, or None."""
    if isinstance(value, Source):
        return value if value.enabled else None
    pk = whole_number(str(value or ""))
    return None if pk is None else Source.enabled_by_pk(pk)


def planned_for(
    source: Source | None, call_type: str, event: str = "", version: int | None = None
) -> Planned | None:
    """What ``source``'s plan offers the ``call_type`` screen (for Track, with ``event``
    chosen, and ``version`` of it when the plan has that version), or None when the source
    has no plan or the call has no planned editor."""
    fields_key = PLANNED_CALLS.get(call_type)
    if source is None or fields_key is None or source.tracking_plan_id is None:
        return None
    stored = source.tracking_plan
    assert stored is not None
    plan = stored.as_plan()
    events: tuple[str, ...] = ()
    message: dict[str, Any] = {}
    versions: tuple[tuple[int, str], ...] = ()
    if call_type == "track":
        events = tuple(
            sorted({r.key for r in plan.rules if r.type is plans.RuleType.TRACK and r.key})
        )
        event = event if event in events else ""
        message = {"event": event} if event else {}
        rules = plan.versions(plans.RuleType.TRACK, event) if event else []
        if len(rules) > 1:
            versions = tuple((r.version, (r.deprecated_at or "")[:10]) for r in rules)
        if version not in {number for number, _ in versions}:
            version = None
        if version is not None:
            message["context"] = {"protocols": {"event_version": version}}
    else:
        version = None
    rule = plans.find_rule(plan, call_type, message) if message or call_type != "track" else None
    enforce = source.plan_enforcement == "block"
    return Planned(
        plan_name=plan.name,
        events=events,
        free_text=source.unplanned_events != "block",
        event=event,
        fields=_fields(rule, fields_key, plan.name, enforce),
        stale=stored.is_stale,
        imported_at=stored.imported_at,
        versions=versions,
        version=version,
    )


def version_of(value: object) -> int | None:
    """The event version a form's ``event_version`` value names (a whole number), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value or "").strip()
    return whole_number(text, max_digits=9)


def _fields(
    rule: plans.Rule | None, fields_key: str, plan_name: str, enforce: bool
) -> tuple[PlannedField, ...]:
    schema = rule.json_schema if rule is not None else None
    inner = _dig(schema, "properties", fields_key)
    names = _dig(inner, "properties")
    if not isinstance(names, Mapping):
        return ()
    listed = _dig(inner, "required")
    required = {n for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()
    found = []
    for name, sub in names.items():
        sub = sub if isinstance(sub, Mapping) else {}
        choices = sub.get("enum")
        found.append(
            PlannedField(
                name=str(name),
                types=_types(sub),
                required=name in required,
                description=str(sub.get("description") or ""),
                choices=tuple(choices) if isinstance(choices, list) else (),
                plan_name=plan_name,
                enforce=enforce,
            )
        )
    # Required names first, then by name: PostgreSQL's jsonb keeps no key order, so the
    # plan's own order cannot be the same on every database.
    found.sort(key=lambda f: (not f.required, f.name.casefold(), f.name))
    return tuple(found)


def _types(schema: Mapping[str, Any]) -> tuple[str, ...]:
    """The row types a property's schema allows, null last; every type when it says none."""
    declared = schema.get("type")
    kinds = declared if isinstance(declared, list) else [declared] if declared else []
    found: list[str] = []
    for kind in kinds:
        row_type = _SCHEMA_TYPES.get(kind) if isinstance(kind, str) else None
        if row_type == TEXT and schema.get("format") == "date-time":
            row_type = DATETIME
        if row_type and row_type not in found:
            found.append(row_type)
    if not found:
        return VALUE_TYPES
    # A nullable field is typed by its other type first: null is what one picks on purpose.
    return tuple(sorted(found, key=lambda t: t == NULL))


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


# --- The form side --------------------------------------------------------------------------


class DatalistInput(forms.TextInput):
    """A text input offering ``options`` in a <datalist> (searchable, free text allowed)."""

    def __init__(self, options: tuple[str, ...], attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.options = options

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        html = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}"></option>', ((o,) for o in self.options))
        return format_html('{}<datalist id="{}">{}</datalist>', html, self.attrs["list"], options)


def attach(form: Any) -> None:
    """Give a call form what its source's plan offers: the planned rows of its editor and, on
    Track, the plan's events for Event Name. Changing Source (or Event Name) asks the server
    for the editor drawn again (``views.planned_editor``), keeping what was typed."""
    call_type = form.call_type
    editor = PLANNED_CALLS.get(call_type)
    form.planned = None
    if editor is None or editor not in form.fields:
        return
    data = form.data if form.is_bound else form.initial
    event = data.get("event") or ""
    event = event if isinstance(event, str) else ""
    version = version_of(data.get("event_version"))
    source = source_of(data.get("source"))
    if source is not None:
        form.fields["source"].known = source  # read once: cleaning the field reuses it
        if not form.fields["source"].allows(source):
            source = None  # outside the person's limits: refused when cleaned, no plan shown
    planned = planned_for(source, call_type, event, version)
    form.planned = planned
    # Reversed only if the form is drawn (once then): a Send answered by the result panel
    # alone never draws it, and reverse() took 0.1 ms of each send.
    redraw_url = SimpleLazyObject(lambda: reverse("calls:planned_editor", args=[call_type]))
    _offer_versions(form, planned, redraw_url=redraw_url)
    form.fields[editor].widget.planned = planned
    redraw = {
        "hx-get": redraw_url,
        "hx-trigger": "change",
        "hx-target": f"#id_{editor}",
        "hx-swap": "outerHTML",
        # What is typed while the redraw is on its way would be lost: the editor and Event
        # Name wait for it (htmx reads their values first, then disables them).
        "hx-disabled-elt": (
            f"#id_{editor} input, #id_{editor} select, #id_{editor} textarea, "
            f"#id_{editor} button, [name=event], .call-actions button"
        ),
    }
    form.fields["source"].widget.attrs.update(
        {**redraw, "hx-include": f"#id_{editor}, [name=event]", "hx-vals": '{"changed": "source"}'}
    )
    if call_type != "track":
        return
    field = form.fields["event"]
    attrs = {
        **redraw,
        "hx-include": f"#id_{editor}, [name=source]",
        "hx-vals": '{"changed": "event"}',
    }
    if planned is None:
        return  # no plan, nothing an event could change (a new source brings a new field)
    if not planned.events:
        field.widget.attrs.update(attrs)
        return
    if planned.free_text:
        field.widget = DatalistInput(planned.events, {**attrs, "list": "id_event_options"})
        field.help_text = (
            f"Choose an event of the tracking plan “{planned.plan_name}”, or type another."
        )
        return
    choices = [("", "Choose an event…"), *((name, name) for name in planned.events)]
    if event and event not in planned.events:
        # A value given some other way (Send again, a forged POST) stays visible; the plan's
        # validation says why it cannot be sent.
        choices.append((event, f"{event} (not in the plan)"))
    field.widget = forms.Select(choices=choices, attrs={**attrs, "data-searchable-select": "event"})
    field.help_text = (
        f"The events of the tracking plan “{planned.plan_name}”: "
        "this source accepts no other (type to search)."
    )


def _offer_versions(form: Any, planned: Planned | None, *, redraw_url: Any) -> None:
    """Track's Event version: offered when the chosen planned event has several versions in
    the plan (sent as ``context.protocols.event_version``, which selects the rule Segment
    checks, and the planned rows drawn); otherwise the field is not on the form and a value
    posted for it is ignored (a version typed into Context is still honoured)."""
    if "event_version" not in form.fields:
        return
    if planned is None or not planned.versions:
        del form.fields["event_version"]
        return
    field = form.fields["event_version"]
    oldest = planned.versions[0][0]
    field.choices = [
        ("", f"Not given: Segment checks version {oldest}, the oldest"),
        *(
            (str(number), f"Version {number}" + (f" (deprecated since {since})" if since else ""))
            for number, since in planned.versions
        ),
    ]
    field.help_text = (
        f"The version of “{planned.event}” in the tracking plan “{planned.plan_name}” to "
        "check against; sent as context.protocols.event_version."
    )
    editor = PLANNED_CALLS[form.call_type]
    field.widget.attrs.update(
        {
            "hx-get": redraw_url,
            "hx-trigger": "change",
            "hx-target": f"#id_{editor}",
            "hx-swap": "outerHTML",
            "hx-include": f"#id_{editor}, [name=source], [name=event]",
            "hx-vals": '{"changed": "version"}',
            "hx-disabled-elt": (
                f"#id_{editor} input, #id_{editor} select, #id_{editor} textarea, "
                f"#id_{editor} button, .call-actions button"
            ),
        }
    )
