"""The call screens' forms. They only validate and build the message; views send it.

What may be sent is decided by the rules module (segment.rules) on the built message, as at
every other entrance; each error is put next to the field, or the editor row, its path names,
and warnings are kept on ``form.warnings`` for the page to show above Send.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms

from segadmin.calls import editors
from segadmin.calls import planned as plan_forms
from segadmin.calls.editors import EDITORS, EditorError, KeyValueField, parse_json, row_for
from segadmin.calls.fields import TimestampField
from segadmin.credentials.fields import (
    SourceChoiceField,
    WorkspaceChoiceField,
    production_confirmation,
)
from segadmin.lib.forms import SummaryItem, error_summary
from segadmin.lib.reason import reason_field
from segadmin.segment import messages as segment_messages
from segadmin.segment import rules
from segadmin.segment.errors import Problem

# Message keys (Problem.field) -> form fields.
PROBLEM_FIELDS = {
    "userId": "user_id",
    "anonymousId": "anonymous_id",
    "event": "event",
    "timestamp": "timestamp",
    "traits": "traits",
    "properties": "properties",
    "context": "context",
    "integrations": "integrations",
    "messageId": "message_id",
    "name": "name",
    "category": "category",
    "groupId": "group_id",
    "previousId": "previous_id",
}


def _editor_items(bound: forms.BoundField) -> list[SummaryItem] | None:
    """An editor's errors for the error summary: one per row that needs fixing (a link to
    that row's control), the JSON box's own in JSON mode, and any the rows do not hold."""
    field = bound.field
    if not isinstance(field, KeyValueField):
        return None
    widget = field.widget
    assert isinstance(widget, editors.KeyValueWidget)
    state = bound.value()
    if not isinstance(state, editors.EditorState):
        return None
    label = str(bound.label or field.spec.label)
    name = bound.html_name
    if state.mode == editors.JSON:
        return [SummaryItem(label, str(e), f"id_{name}__json") for e in bound.errors]
    # Drawn as the widget draws it (the plan's rows placed the same way), so the ids match.
    state = editors.with_planned(field.spec, state, widget.planned)
    rows = editors.row_errors(field.spec, name, state, widget.row_problems)
    items = [SummaryItem(f"{label}, {row}", error, target) for row, error, target in rows]
    for error in bound.errors:
        if rows and str(error).endswith(editors.ROWS_NEED_FIXING_END):
            continue  # the rows above say it, one by one
        target = rows[0][2] if rows else f"id_{name}"
        items.append(SummaryItem(label, str(error), target))
    return items


# Form fields -> build_message keyword arguments.
MESSAGE_ARGUMENTS = {
    "user_id": "user_id",
    "anonymous_id": "anonymous_id",
    "timestamp": "timestamp",
    "context": "context",
    "integrations": "integrations",
    "traits": "traits",
    "properties": "properties",
    "event": "event",
    "name": "name",
    "category": "category",
    "group_id": "group_id",
    "previous_id": "previous_id",
}


def _text(label: str, *, required: bool = False, **kwargs: Any) -> forms.CharField:
    if required:
        kwargs.setdefault("error_messages", {"required": f"Add the {label}."})
    return forms.CharField(label=label, required=required, **kwargs)


class CallForm(forms.Form):
    """Fields every call has. Subclasses add theirs and name the editor shown first."""

    call_type: ClassVar[str] = ""
    main_fields: ClassVar[tuple[str, ...]] = ()  # call-specific fields, after the IDs
    editor_field: ClassVar[str | None] = None  # "traits" or "properties"

    source = SourceChoiceField()
    user_id = _text("User ID", help_text="Your database's ID for the user.")
    anonymous_id = _text(
        "Anonymous ID", help_text="An ID for a user you do not know yet, e.g. a cookie's UUID."
    )
    timestamp = TimestampField(label="Timestamp")
    context = KeyValueField(spec=EDITORS["context"], label="Context")
    integrations = KeyValueField(spec=EDITORS["integrations"], label="Integrations")
    message_id = _text(
        "Message ID",
        max_length=100,
        help_text="Generated when empty. Segment drops a second message with the same ID.",
    )
    reason = reason_field()
    confirm_production = production_confirmation()

    def __init__(
        self, *args: Any, generated_message_id: str = "", user: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # Only the sources the person may use (segadmin/accounts/limits.py) are offered.
        self.fields["source"].limit_to(user)  # type: ignore[attr-defined]
        self.generated_message_id = _uuid_or_empty(generated_message_id)
        self.message: dict[str, Any] | None = None
        self.problems: list[Problem] = []  # the rules' findings on the built message
        self.warnings: list[Problem] = []
        self.plan: rules.PlanCheck | None = None  # the source's tracking plan, if it has one
        self.segment_would = ""  # what Segment's Protocols settings would do with the message
        self.planned: plan_forms.Planned | None = None  # set by attach, from the source's plan
        plan_forms.attach(self)  # the source's tracking plan: planned events and rows

    def id_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("user_id", "anonymous_id") if name in self.fields]

    def call_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.main_fields]

    def version_field(self) -> forms.BoundField | None:
        """Track's Event version, when the chosen planned event has several versions."""
        return self["event_version"] if "event_version" in self.fields else None

    def editor(self) -> forms.BoundField | None:
        return self[self.editor_field] if self.editor_field else None

    def error_summary(self) -> list[SummaryItem]:
        return error_summary(self, items_for=_editor_items)

    def advanced_has_errors(self) -> bool:
        return any(self.errors.get(n) for n in ("context", "integrations", "message_id"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        arguments = {
            argument: cleaned[field]
            for field, argument in MESSAGE_ARGUMENTS.items()
            if field in self.fields and field in cleaned
        }
        for key in (
            "user_id",
            "anonymous_id",
            "event",
            "name",
            "category",
            "group_id",
            "previous_id",
        ):
            if arguments.get(key) == "":
                arguments[key] = None  # an empty box means "not given"
        for key in ("context", "integrations"):
            if key in arguments and not arguments[key]:
                arguments[key] = None  # build_message fills in its defaults
        version = cleaned.get("event_version")
        if version is not None:
            arguments["context"] = self._with_event_version(arguments.get("context"), version)
        message_id = cleaned.get("message_id") or self.generated_message_id or str(uuid.uuid4())
        message = segment_messages.build_message(self.call_type, message_id=message_id, **arguments)
        # The source's tracking plan is checked here as the send service will check it, so its
        # violations under Block sit next to their fields like any other rule's.
        source = cleaned.get("source")
        self.plan = source.plan_check() if source is not None else None
        problems = rules.check(self.call_type, message, self.plan)
        self._attach(problems)
        if not self.errors:
            self.message = message
            if self.plan is not None:
                self.segment_would = self.plan.segment_would(self.call_type, message)
        return cleaned

    def _with_event_version(self, context: Any, version: int) -> Any:
        """Context with ``protocols.event_version`` set to the chosen version (the rule
        Segment checks). A different version typed into Context itself is refused next to
        Event version, rather than one of the two silently winning."""
        if context is not None and not isinstance(context, dict):
            return context  # the rules say what is wrong with it
        context = dict(context or {})
        protocols = context.get("protocols")
        if protocols is None:
            protocols = {}
        if not isinstance(protocols, dict):
            return context  # likewise
        typed = protocols.get("event_version", version)
        if typed != version:
            self.add_error(
                "event_version",
                f"Context sets protocols.event_version to {json.dumps(typed)}: choose the "
                "version here or there, not both.",
            )
            return context
        context["protocols"] = {**protocols, "event_version": version}
        return context

    def _attach(self, problems: list[Problem]) -> None:
        """Put each of the rules' errors next to the field its path names (inside an editor in
        rows mode: under the row; the editor then says how many rows need fixing)."""
        own_errors = set(self.errors)  # a field's own error already says what is wrong
        self.problems = problems
        self.warnings = rules.warnings(problems)
        rows: dict[str, dict[str, list[str]]] = {}
        for problem in rules.errors(problems):
            key, inner = rules.field_path(problem)
            field = PROBLEM_FIELDS.get(key)
            if field not in self.fields:
                field = None
            if field in own_errors:
                continue
            if field and inner and isinstance(self.fields[field], KeyValueField):
                state = self[field].value()
                row = row_for(getattr(state, "rows", []), inner)
                if row is not None:
                    rows.setdefault(field, {}).setdefault(row.key.strip(), []).append(
                        problem.message
                    )
                    continue
            if field and inner and not problem.message.startswith(f"{inner} "):
                # No row to sit under (JSON mode): name the key, as a bulk row's reason does,
                # unless the sentence starts with it (a plan's "total must be a number").
                self.add_error(field, f"{inner}: {problem.message}")
                continue
            self.add_error(field, problem.message)
        for field, by_row in rows.items():
            editor = self.fields[field]
            assert isinstance(editor, KeyValueField)
            spec_ = editor.spec
            editor.widget.row_problems = {
                key: " ".join(sentences) for key, sentences in by_row.items()
            }
            noun = "row needs" if len(by_row) == 1 else "rows need"
            self.add_error(
                field, f"{len(by_row)} {spec_.noun} {noun} {editors.ROWS_NEED_FIXING_END}"
            )


def _uuid_or_empty(value: str) -> str:
    try:
        return str(uuid.UUID(value)) if value else ""
    except (ValueError, AttributeError, TypeError):
        return ""


class IdentifyForm(CallForm):
    call_type = "identify"
    editor_field = "traits"
    traits = KeyValueField(spec=EDITORS["identify_traits"], label="Traits")


class TrackForm(CallForm):
    call_type = "track"
    main_fields = ("event",)
    editor_field = "properties"
    event = _text("Event Name", help_text='What the user did, e.g. "Order Completed".')
    # Offered (with its choices) only when the chosen planned event has several versions;
    # calls.planned.attach removes it otherwise.
    event_version = forms.TypedChoiceField(
        label="Event version",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[],
        error_messages={"invalid_choice": "Choose one of the event's versions offered here."},
    )
    properties = KeyValueField(spec=EDITORS["track_properties"], label="Properties")

    def clean_properties(self) -> dict[str, Any]:
        """Currency is USD when Revenue is given without one (Segment's default, written out
        so the preview shows it). Whether the values may be sent is the rules' to say."""
        properties = dict(self.cleaned_data.get("properties") or {})
        if "revenue" in properties and "currency" not in properties:
            ordered: dict[str, Any] = {}
            for key, value in properties.items():
                ordered[key] = value
                if key == "revenue":
                    ordered["currency"] = "USD"
            properties = ordered
        return properties


class PageForm(CallForm):
    call_type = "page"
    main_fields = ("name", "category")
    editor_field = "properties"
    name = _text("Name", help_text='The page\'s name, e.g. "Pricing".')
    category = _text("Category", help_text='The page\'s category, e.g. "Docs".')
    properties = KeyValueField(spec=EDITORS["page_properties"], label="Properties")


class ScreenForm(CallForm):
    call_type = "screen"
    main_fields = ("name", "category")
    editor_field = "properties"
    name = _text("Name", help_text='The screen\'s name, e.g. "Settings".')
    category = _text("Category", help_text='The screen\'s category, e.g. "Account".')
    properties = KeyValueField(spec=EDITORS["screen_properties"], label="Properties")


class GroupForm(CallForm):
    call_type = "group"
    main_fields = ("group_id",)
    editor_field = "traits"
    group_id = _text("Group ID", help_text="Your database's ID for the group, e.g. a company.")
    traits = KeyValueField(spec=EDITORS["group_traits"], label="Traits")


class AliasForm(CallForm):
    call_type = "alias"
    main_fields = ("previous_id",)
    previous_id = _text(
        "Previous ID", help_text="The ID the user had before: often their Anonymous ID."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["anonymous_id"]  # an alias joins previousId to userId, nothing else
        self.fields["user_id"].help_text = "The user's new ID, that the Previous ID joins."


@dataclass(frozen=True)
class Screen:
    call_type: str
    title: str
    form_class: type[CallForm]
    permission: str
    intro: str


SCREENS: dict[str, Screen] = {
    s.call_type: s
    for s in (
        Screen(
            "identify",
            "Identify",
            IdentifyForm,
            "accounts.send_identify",
            "Tie a user to their actions and record traits about them.",
        ),
        Screen(
            "track",
            "Track",
            TrackForm,
            "accounts.send_events",
            "Record an action a user performed, with its properties.",
        ),
        Screen(
            "page",
            "Page",
            PageForm,
            "accounts.send_events",
            "Record that a user saw a page of a website.",
        ),
        Screen(
            "screen",
            "Screen",
            ScreenForm,
            "accounts.send_events",
            "Record that a user saw a screen of a mobile app.",
        ),
        Screen(
            "group",
            "Group",
            GroupForm,
            "accounts.send_events",
            "Associate a user with a group (a company, an organisation, an account).",
        ),
        Screen(
            "alias",
            "Alias",
            AliasForm,
            "accounts.send_events",
            "Merge two user identities: the Previous ID into the User ID.",
        ),
    )
}


# --- Make an API call -----------------------------------------------------------------------

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
TRACKING, PUBLIC = "tracking", "public"

GROUP_EXAMPLE = {
    "api": TRACKING,
    "method": "POST",
    "url": "/v1/group",
    "body": json.dumps(
        {
            "userId": "019mr8mf4r",
            "groupId": "8e9df332ac",
            "traits": {"name": "Example Inc.", "industry": "Technology", "employees": "420"},
        },
        indent=2,
    ),
}


class ApiCallForm(forms.Form):
    """A raw request to the Tracking API (with a source) or the Public API (with a workspace)."""

    api = forms.ChoiceField(
        label="API",
        choices=[
            (TRACKING, "Tracking API, with a source's write key"),
            (PUBLIC, "Public API, with a workspace's token"),
        ],
        initial=TRACKING,
        widget=forms.RadioSelect,
    )
    source = SourceChoiceField(required=False)
    workspace = WorkspaceChoiceField(required=False)
    method = forms.ChoiceField(label="Method", choices=[(m, m) for m in METHODS], initial="POST")
    url = forms.CharField(
        label="URL",
        max_length=2000,
        error_messages={"required": "Add the URL: a path such as /v1/group."},
        help_text="A path relative to the API's base, e.g. /v1/group or /sources. "
        "The request can only go to the configured Segment host.",
    )
    headers = KeyValueField(spec=EDITORS["headers"], label="Headers")
    query = KeyValueField(spec=EDITORS["query"], label="Query String")
    body = forms.CharField(
        label="Body",
        required=False,
        strip=False,
        max_length=500_000,
        widget=forms.Textarea(attrs={"rows": 10, "class": "font-monospace", "spellcheck": "false"}),
        help_text="Sent as typed. Checked as JSON unless you set another Content-Type.",
    )
    reason = reason_field()
    reason.help_text += (
        " A Public API call other than GET waits for a second Admin's approval: say why."
    )
    confirm_production = production_confirmation()

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the sources and workspaces the person may use (segadmin/accounts/limits.py).
        self.fields["source"].limit_to(user)  # type: ignore[attr-defined]
        self.fields["workspace"].limit_to(user)  # type: ignore[attr-defined]
        # The rules' findings for a Tracking API body, the source's tracking plan's among
        # them, all shown as warnings: this screen sends what it is given (on purpose), but
        # says what the rules would refuse.
        self.warnings: list[Problem] = []

    def error_summary(self) -> list[SummaryItem]:
        return error_summary(self, items_for=_editor_items)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        api = cleaned.get("api")
        if api == TRACKING and not cleaned.get("source") and "source" not in self.errors:
            self.add_error("source", "Choose the source whose write key signs the request.")
        if api == PUBLIC and not cleaned.get("workspace") and "workspace" not in self.errors:
            self.add_error("workspace", "Choose the workspace whose token signs the request.")
        headers = cleaned.get("headers")
        if isinstance(headers, dict):
            if any(name.strip().lower() == "authorization" for name in headers):
                self.add_error(
                    "headers",
                    "Remove the Authorization header: segadmin adds it from the chosen "
                    "source or workspace, so the secret never has to be typed.",
                )
            body = cleaned.get("body") or ""
            content_type = next(
                (v for k, v in headers.items() if k.strip().lower() == "content-type"), ""
            )
            if body.strip() and (not content_type or "json" in content_type.lower()):
                try:
                    parsed = parse_json(body, what="The Body")
                except EditorError as exc:
                    self.add_error("body", str(exc))
                else:
                    source = cleaned.get("source")
                    if api == TRACKING and isinstance(cleaned.get("url"), str):
                        # The source's tracking plan too: what the call screens would refuse
                        # under Block is named here, and still sent.
                        plan = source.plan_check() if source is not None else None
                        self.warnings = rules.check_tracking_body(cleaned["url"], parsed, plan)
        return cleaned
