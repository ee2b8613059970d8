"""The audit list's filters: a GET form whose fields become the URL, so a view can be shared.

Every filter is an equality on a column with a ``(column, seq)`` index, or a date range on
``created_at``; the list then pages by ``seq`` (keyset), so any combination stays fast. The
user ID, anonymous ID, message ID, event name and email are looked for in the message index
(``AuditMessage``, one row per message, also inside batches), by the same kind of index.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db import connection
from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from segadmin.accounts import limits
from segadmin.accounts.roles import ROLES
from segadmin.audit.index import email_key
from segadmin.audit.log import search_key
from segadmin.audit.models import (
    READ_METHODS,
    AuditEntry,
    AuditEntryQuerySet,
    AuditMessage,
    AuditMessageQuerySet,
    Kind,
    Outcome,
)
from segadmin.credentials.models import Source, Workspace
from segadmin.segment.messages import CALL_TYPES

EVENTS = "events"
NO_ANSWER = "none"
PRIVACY = "privacy"
# Everything on the record of privacy requests (issue 15): the calls to Segment's regulations
# and suppressions, the requests' own events, and the decisions on them.
PRIVACY_CALL_TYPES = (
    "public:create_regulation",
    "public:get_regulation",
    "public:suppressions",
)
PRIVACY_ACTIONS = (
    "privacy.requested",
    "privacy.not_sent",
    "privacy.status_changed",
    "privacy.files_purged",
    "privacy.call_released",
)
APPROVAL_ACTIONS = ("approval.requested", "approval.approved", "approval.rejected")

CALL_TYPE_CHOICES = [
    ("", "Any"),
    *[(name, name.capitalize()) for name in CALL_TYPES],
    ("batch", "Batch (bulk import)"),
    ("raw", "Make an API call"),
    ("public:get_workspace", "Public API: workspace"),
    ("public:list_sources", "Public API: list sources"),
    ("public:get_source", "Public API: source"),
    ("profiles:traits", "Profile API: traits"),
    (PRIVACY, "Privacy request"),
    (EVENTS, "Credential, role and user changes"),
]
OUTCOME_CHOICES = [
    ("", "Any"),
    (Outcome.SENT, "Sent"),
    (Outcome.REJECTED, "Rejected by Segment"),
    (Outcome.FAILED, "Failed (no answer)"),
    (NO_ANSWER, "No answer recorded"),
]
ROLE_CHOICES = [("", "Any"), *[(role, role) for role in ROLES], ("system", "system")]
# Fields searched exactly, on the message index's column of the same name.
EXACT_FIELDS = ("user_id", "anonymous_id", "event", "message_id")
# Every filter answered from the message index: the exact ones and the email (compared as the
# index keeps it, trimmed and lower-cased: index.email_key, as User lookup does).
INDEXED_FIELDS = (*EXACT_FIELDS, "email")
# The words User lookup uses for the same mistake.
NOT_AN_EMAIL = "Enter an email address, such as ada@example.com."
# An event name with at least this many messages is "common" (see _message_filter).
COMMON_EVENT = 5000
# Filters only those who read every entry get (a Marketer's list is theirs alone).
ALL_ENTRIES_FIELDS = ("person", "role")


class _NamedChoiceField(forms.ModelChoiceField[Any]):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _text_input(placeholder: str = "") -> forms.TextInput:
    attrs = {"autocomplete": "off", "spellcheck": "false"}
    if placeholder:
        attrs["placeholder"] = placeholder
    return forms.TextInput(attrs=attrs)


class AuditFilterForm(forms.Form):
    """Bound to request.GET. ``apply`` narrows a queryset; ``query_string`` rebuilds the URL."""

    date_from = forms.DateField(label="From", required=False, widget=_date_input())
    date_to = forms.DateField(label="To", required=False, widget=_date_input())
    # Set by the home page's "last 24 hours" links: an exact start, shown as a note.
    since = forms.DateTimeField(required=False, widget=forms.HiddenInput)
    # Set by the home page's counts, which leave reads out (READ_METHODS): the same entries.
    sends = forms.BooleanField(required=False, widget=forms.HiddenInput)
    person = forms.CharField(
        label="Person", required=False, max_length=150, widget=_text_input("username")
    )
    role = forms.ChoiceField(label="Role", required=False, choices=ROLE_CHOICES)
    call_type = forms.ChoiceField(label="Call type", required=False, choices=CALL_TYPE_CHOICES)
    source = _NamedChoiceField(
        label="Source",
        required=False,
        queryset=Source.objects.order_by("name"),
        empty_label="Any",
        error_messages={"invalid_choice": "That source does not exist: choose another."},
    )
    workspace = _NamedChoiceField(
        label="Workspace",
        required=False,
        queryset=Workspace.objects.order_by("name"),
        empty_label="Any",
        error_messages={"invalid_choice": "That workspace does not exist: choose another."},
    )
    outcome = forms.ChoiceField(label="Outcome", required=False, choices=OUTCOME_CHOICES)
    status = forms.IntegerField(
        label="HTTP status",
        required=False,
        min_value=100,
        max_value=599,
        error_messages={
            "invalid": "Enter an HTTP status code such as 400.",
            "min_value": "HTTP status codes run from 100 to 599.",
            "max_value": "HTTP status codes run from 100 to 599.",
        },
        widget=forms.NumberInput(attrs={"placeholder": "e.g. 400"}),
    )
    user_id = forms.CharField(label="User ID", required=False, widget=_text_input("exact"))
    anonymous_id = forms.CharField(
        label="Anonymous ID", required=False, widget=_text_input("exact")
    )
    event = forms.CharField(label="Event Name", required=False, widget=_text_input("exact"))
    message_id = forms.CharField(label="Message ID", required=False, widget=_text_input("exact"))
    email = forms.CharField(
        label="Email",
        required=False,
        widget=_text_input("exact, any case"),
    )
    bulk_job = forms.UUIDField(
        label="Import",
        required=False,
        error_messages={"invalid": "An import is named by its ID, as in its page's address."},
        widget=_text_input("bulk import ID"),
    )
    violations = forms.BooleanField(
        label="Sent with tracking-plan violations",
        required=False,
        help_text="Requests that went out under Warn with violations of the source's plan.",
    )

    def __init__(self, *args: Any, see_all: bool = True, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.see_all = see_all
        # A person limited to chosen sources filters by theirs only.
        for name, narrow in (
            ("source", limits.allowed_sources),
            ("workspace", limits.allowed_workspaces),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            if field.queryset is not None:
                field.queryset = narrow(user, field.queryset)
        if not see_all:
            for name in ALL_ENTRIES_FIELDS:
                del self.fields[name]
            # Marketers never see privacy requests, not even as a filter's name.
            call_type = self.fields["call_type"]
            assert isinstance(call_type, forms.ChoiceField)
            call_type.choices = [c for c in CALL_TYPE_CHOICES if c[0] != PRIVACY]
        zone = timezone.get_current_timezone_name()
        self.fields["date_from"].help_text = f"Days start at midnight {zone}."
        self.fields["date_to"].help_text = "Included."

    def freeze_choices(self) -> None:
        """Read the source and workspace choices once, for a template that loops over them
        (a queryset's choices would be counted and fetched on each loop)."""
        for name in ("source", "workspace"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.choices = [choice for choice in field.iterator(field)]  # noqa: C416 - no len()

    def clean_email(self) -> str:
        value = self.cleaned_data.get("email") or ""
        if value and not email_key(value):
            raise forms.ValidationError(NOT_AN_EMAIL)
        return email_key(value) if value else ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    # --- reading the filters

    def active(self) -> dict[str, Any]:
        """The filters in use, by field name (empty values left out)."""
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}

    def apply(self, queryset: AuditEntryQuerySet) -> AuditEntryQuerySet:
        filters = self.active()
        zone = timezone.get_current_timezone()
        if "date_from" in filters:
            start = datetime.combine(filters["date_from"], time.min, tzinfo=zone)
            queryset = queryset.filter(created_at__gte=start)
        if "date_to" in filters:
            end = datetime.combine(filters["date_to"] + timedelta(days=1), time.min, tzinfo=zone)
            queryset = queryset.filter(created_at__lt=end)
        if "since" in filters:
            queryset = queryset.filter(created_at__gte=filters["since"])
        if filters.get("sends"):
            queryset = queryset.filter(kind=Kind.REQUEST).exclude(method__in=READ_METHODS)
        if "person" in filters:
            queryset = queryset.filter(username=filters["person"])
        if "role" in filters:
            queryset = queryset.filter(role=filters["role"])
        outcome = filters.get("outcome")
        # A failed or rejected outcome is rarer than any call type, source or workspace: with
        # it, those columns are compared as expressions the planner cannot take an index for,
        # so it walks the (outcome, seq) index instead of scanning, say, every Identify.
        rare_outcome = bool(outcome) and outcome != Outcome.SENT
        call_type = filters.get("call_type")
        if call_type == EVENTS:
            queryset = queryset.filter(kind=Kind.EVENT)
        elif call_type == PRIVACY:
            queryset = queryset.filter(
                Q(call_type__in=PRIVACY_CALL_TYPES)
                | Q(action__in=PRIVACY_ACTIONS)
                | Q(action__in=APPROVAL_ACTIONS, target_type="privacy")
            )
        elif call_type and rare_outcome:
            queryset = queryset.alias(
                call_type_text=Concat(F("call_type"), Value(""), output_field=CharField())
            ).filter(call_type_text=call_type)
        elif call_type:
            queryset = queryset.filter(call_type=call_type)
        for name in ("source", "workspace"):
            if name not in filters:
                continue
            if rare_outcome:
                alias = {f"{name}_number": F(f"{name}_id") + 0}
                queryset = queryset.alias(**alias).filter(**{f"{name}_number": filters[name].pk})
            else:
                queryset = queryset.filter(**{name: filters[name]})
        if outcome == NO_ANSWER:
            # Exactly the condition of the partial index audit_no_answer (migration 0004).
            queryset = queryset.filter(kind=Kind.REQUEST, outcome__isnull=True)
        elif outcome:
            queryset = queryset.filter(outcome=outcome)
        if "status" in filters:
            queryset = queryset.filter(response_status=filters["status"])
        if "bulk_job" in filters:
            queryset = queryset.filter(bulk_job_id=str(filters["bulk_job"]))
        if filters.get("violations"):
            # Exactly the condition of the partial index audit_plan_violations_seq.
            queryset = queryset.filter(plan_violations__gt=0)
        for name in INDEXED_FIELDS:
            if name in filters:
                queryset = queryset.filter(_message_filter(name, filters[name]))
        return queryset

    def query_string(self, **extra: Any) -> str:
        """The filters (as typed, also when invalid) plus ``extra``, for links."""
        pairs: list[tuple[str, str]] = []
        if self.is_bound:
            for name in self.fields:
                value = self.data.get(name, "")
                if value not in (None, ""):
                    pairs.append((name, str(value)))
        pairs.extend((k, str(v)) for k, v in extra.items() if v not in (None, ""))
        return urlencode(pairs)


def _within_limits(user: Any, prefix: str = "") -> Q | None:
    """For a person limited to chosen sources (segadmin/accounts/limits.py): the entries they
    may read besides their own, as a filter (``prefix``: the path to the entry). Entries of
    their sources; entries of no source on a workspace chosen for them (the Public API,
    the Profile API, privacy requests); nothing else of other people's (a change of a
    credential, a person or an approval names no source of theirs). None: no limits."""
    allowed = limits.limits_of(user)
    if not allowed.restricted:
        return None
    source_ids = list(
        Source.objects.filter(allowed.source_q()).order_by().values_list("pk", flat=True)
    )
    return (
        Q(**{f"{prefix}actor_user": user})
        | Q(**{f"{prefix}source_id__in": source_ids})
        | Q(
            **{
                f"{prefix}source_id__isnull": True,
                f"{prefix}workspace_id__in": sorted(allowed.workspace_ids),
            }
        )
    )


def visible_entries(user: Any) -> AuditEntryQuerySet:
    """What ``user`` may read: every entry with accounts.view_all_audit (narrowed to their
    sources' when an Admin limited them to chosen sources), else their own."""
    entries = AuditEntry.objects.listed()
    if user.has_perm("accounts.view_all_audit"):
        within = _within_limits(user)
        return entries if within is None else entries.filter(within)
    return entries.filter(actor_user=user)


def visible_messages(user: Any) -> AuditMessageQuerySet:
    """The indexed messages of the entries ``user`` may read (see ``visible_entries``)."""
    messages = AuditMessage.objects.all()
    if user.has_perm("accounts.view_all_audit"):
        within = _within_limits(user, "entry__")
        return messages if within is None else messages.filter(within)
    return messages.filter(entry__actor_user=user)


def may_read(user: Any, entry: AuditEntry) -> bool:
    """Whether ``user`` may open ``entry`` (an outcome row: as its request), as
    ``visible_entries`` would list it."""
    if entry.kind == Kind.OUTCOME and entry.request_entry_id is not None:
        request = AuditEntry.objects.filter(pk=entry.request_entry_id).first()
        return request is not None and may_read(user, request)
    if entry.actor_user_id is not None and entry.actor_user_id == user.pk:
        return True
    if not user.has_perm("accounts.view_all_audit"):
        return False
    allowed = limits.limits_of(user)
    if not allowed.restricted:
        return True
    if entry.source_id is not None:
        return allowed.allows_source(entry.source)
    return entry.workspace_id is not None and entry.workspace_id in allowed.workspace_ids


def messages_with(column: str, value: str) -> AuditMessageQuerySet:
    """The indexed messages whose ``column`` (user_id, anonymous_id, event, message_id) is
    exactly ``value``, or whose email is ``value`` as the index keeps it, wherever they are: a
    single call or any message of a batch."""
    if column == "email":
        # email_key("") is "", never NULL: an equality, so the partial index is used.
        return AuditMessage.objects.filter(email=email_key(value))
    if column not in EXACT_FIELDS:
        raise ValueError(f"The message index has no column {column!r}")
    return AuditMessage.objects.filter(**{column: search_key(value)})


def _message_filter(column: str, value: str) -> Q:
    """Entries holding a message whose ``column`` is ``value``.

    ``seq IN (the messages' seqs)``: PostgreSQL's planner picks between walking the list
    newest first and probing the index, or reading the matches. SQLite always reads every
    match first: quick for an ID (a handful of messages), but an event name that a bulk
    import sent on every row matches millions (10 ms at 1,000,000 messages, growing). For a
    common event name SQLite gets ``EXISTS`` instead: the list walked newest first, the
    index probed per entry, stopping at a page (2 ms). Which one: one count, capped.
    """
    messages = messages_with(column, value)
    if (
        column == "event"
        and connection.vendor == "sqlite"
        and messages.order_by().values("pk")[:COMMON_EVENT].count() == COMMON_EVENT
    ):
        return Q(Exists(messages.filter(seq=OuterRef("seq"))))
    return Q(seq__in=messages.values("seq"))


def identity_q(identifier_type: str, identifier: str) -> Q:
    """Messages sent for one Segment user, by user ID or anonymous ID; or the messages that
    carry an email in their traits (``"email"``, compared as the index keeps it)."""
    if identifier_type == "email":
        return Q(email=email_key(identifier) or None)
    column = "user_id" if identifier_type == "user_id" else "anonymous_id"
    return Q(**{column: search_key(identifier)})
