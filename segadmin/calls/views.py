"""The call screens: Identify, Track, Page, Screen, Group, Alias and Make an API call.

Views only orchestrate: the form validates and builds the message, `present` describes a
request or a result for the page, and `sending` sends (and records) it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any, cast

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import reswap, retarget

from segadmin import sending
from segadmin.accounts import limits
from segadmin.accounts.reauth import recent_authentication_required
from segadmin.audit import drafts
from segadmin.audit import limits as limit_events
from segadmin.audit.log import Actor
from segadmin.calls import approved as approved_calls
from segadmin.calls import editors, panel_html, planned, present
from segadmin.calls.fields import timezone_options
from segadmin.calls.forms import GROUP_EXAMPLE, PUBLIC, SCREENS, ApiCallForm, CallForm, Screen
from segadmin.credentials.crypto import EncryptionNotConfigured, SecretUnreadable
from segadmin.credentials.fields import SourceChoiceField, production_context
from segadmin.credentials.production import FIELD as CONFIRM_PRODUCTION
from segadmin.lib.forms import refused_status
from segadmin.lib.htmx import HtmxHttpRequest
from segadmin.lib.ids import whole_number
from segadmin.segment import client, rules
from segadmin.segment.errors import MessageInvalid, Problem, UnsafeRequest
from segadmin.segment.messages import MAX_MESSAGE_BYTES, message_size
from segadmin.segment.rules import PlanCheck

CALL_PERMISSIONS = ("accounts.send_identify", "accounts.send_events", "accounts.make_api_call")
_EDITOR_NAME = re.compile(r"[a-z][a-z_]{0,39}")
_PANEL_ANSWER = "calls/call.html#panel-answer"

# What the send service refuses before anything leaves (the answer is the result panel's error):
# a secret that cannot be read, a source disabled meanwhile, a source outside the person's limits.
_NOT_SENT = (
    SecretUnreadable,
    EncryptionNotConfigured,
    sending.SourceDisabled,
    sending.NotAllowed,
)


# --- Identify, Track, Page, Screen, Group, Alias ----------------------------------------------


def _source_initial(request: HttpRequest) -> dict[str, Any]:
    source = request.GET.get("source", "")
    return {"source": source} if whole_number(source) is not None else {}


def _call_screen(request: HtmxHttpRequest, screen: Screen) -> HttpResponse:
    status = 200
    panel: dict[str, Any] | None = None
    # A draft: the screen opened from an audit entry ("Edit and send") or the user lookup
    # ("Fix traits"), filled in; its token rides along so the send is linked to the entry.
    draft_token, draft_initial = drafts.initial_for(request, screen.call_type)
    if request.method != "POST":
        form: CallForm = screen.form_class(
            initial={**_source_initial(request), **draft_initial}, user=request.user
        )
        generated = ""
    else:
        form = screen.form_class(
            request.POST,
            generated_message_id=request.POST.get("generated_message_id", ""),
            user=request.user,
        )
        generated = form.generated_message_id
        if not form.is_valid():
            status = refused_status(request)
            limit_events.refused_in_form(
                actor=Actor.from_request(request), form=form, entrance=screen.title
            )
        elif request.POST.get("action") == "send":
            panel = _send_message(request, form)
            if panel is None:  # a Production source not confirmed: said next to the box
                status = refused_status(request)
            else:
                generated = ""  # a new send gets a new messageId unless one was typed
        else:
            panel = _preview_message(form)
            if form.message is not None and not form.cleaned_data.get("message_id"):
                generated = form.message["messageId"]
    # After a send, the Production box is drawn unticked again: each send asks.
    production = production_context(form, sent=_was_sent(panel))
    if panel is not None and _panel_is_enough(request):
        context = {"form": form, "panel": panel, "generated_message_id": generated, **production}
        return _panel_answer(request, _PANEL_ANSWER, context)
    context = {
        "screen": screen,
        "form": form,
        "panel": panel,
        **production,
        "generated_message_id": generated,
        "timezone_options": timezone_options(_selected_zone(form)),
        # No zone chosen yet (a new form): the page presets the browser's own.
        "zone_preset": not form.is_bound and not form["timestamp"].value(),
        "draft_token": draft_token or drafts.token_for(request, screen.call_type),
    }
    template = "calls/call.html#call" if request.htmx else "calls/call.html"
    return render(request, template, context, status=status)


def _was_sent(panel: dict[str, Any] | None) -> bool:
    return panel is not None and panel.get("kind") == "sent"


def _panel_is_enough(request: HtmxHttpRequest) -> bool:
    """Whether a Preview or Send of a valid form may answer with the panel alone: for htmx,
    when the form on the page shows no errors (else it is drawn again, without them)."""
    return bool(request.htmx) and not request.POST.get("shown_errors")


def _panel_answer(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """The result panel, swapped into #call-panel, with what a send changes in the form
    (the generated message ID, the warnings above Send) as out-of-band swaps: the form the
    person typed in stays as it is, and nothing of it is rendered again. Drawn without the
    context processors (the navigation, the messages): nothing of the page around it is. A
    Send that went through, the hot path, is drawn by ``panel_html`` (the same bytes)."""
    html = panel_html.answer(context, request.path) if template == _PANEL_ANSWER else None
    if html is None:
        html = render_to_string(template, {**context, "request": request})
    response = HttpResponse(html)
    return retarget(reswap(response, "innerHTML"), "#call-panel")


def _selected_zone(form: CallForm) -> str:
    value = form["timestamp"].value()
    if isinstance(value, list | tuple) and len(value) > 1 and isinstance(value[1], str):
        return value[1]
    return "UTC"


def _preview_message(form: CallForm) -> dict[str, Any]:
    message = form.message
    assert message is not None
    source = form.cleaned_data["source"]
    request = client.tracking_request(message, write_key=present.PLACEHOLDER, region=source.region)
    size = message_size(message)
    return {
        "kind": "preview",
        "request": present.describe_request(request),
        "size": size,
        "max_size": MAX_MESSAGE_BYTES,
        "size_percent": min(100, round(100 * size / MAX_MESSAGE_BYTES)),
        "size_text": f"{size:,}",
        "max_text": f"{MAX_MESSAGE_BYTES:,}",
        "size_low": MAX_MESSAGE_BYTES * 3 // 4,
        "size_high": MAX_MESSAGE_BYTES * 15 // 16,
        "source": source,
        "plan": _plan_panel(form.plan, form.segment_would, form.warnings),
    }


def _plan_panel(
    plan: PlanCheck | None, segment_would: str, problems: Iterable[Problem]
) -> dict[str, Any] | None:
    """The tracking-plan part of a preview or result: the plan, its violations that go along
    (under Warn) and what Segment's own Protocols settings would do."""
    if plan is None:
        return None
    return {
        "name": plan.plan.name,
        "enforcement": plan.enforcement,
        "segment_would": segment_would,
        "violations": rules.plan_violations(problems),
    }


def _send_message(request: HttpRequest, form: CallForm) -> dict[str, Any] | None:
    """The result panel of the send; None when the send service refused a Production source
    not confirmed (the refusal is then the form's, next to the confirmation box)."""
    source = form.cleaned_data["source"]
    assert form.message is not None  # a valid form has built its message
    try:
        sent = sending.send_message(
            actor=Actor.from_request(request),
            source=source,
            message=form.message,
            reason=form.cleaned_data.get("reason", ""),
            confirm_production=form.cleaned_data.get(CONFIRM_PRODUCTION),
            **drafts.link_for(request, form.call_type),
        )
    except sending.ProductionNotConfirmed as exc:
        form.add_error(CONFIRM_PRODUCTION, str(exc))
        return None
    # MessageInvalid: the plan changed (a new import, another enforcement) between the check
    # and the send.
    except (*_NOT_SENT, MessageInvalid) as exc:
        return {"kind": "error", "message": str(exc), "source": source}
    return {
        "kind": "sent",
        **present.describe_result(sent),
        "source": source,
        "plan": _plan_panel(form.plan, sent.segment_would, sent.plan_problems),
    }


@permission_required("accounts.send_identify", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def identify(request: HtmxHttpRequest) -> HttpResponse:
    return _call_screen(request, SCREENS["identify"])


@permission_required("accounts.send_events", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def track(request: HtmxHttpRequest) -> HttpResponse:
    return _call_screen(request, SCREENS["track"])


@permission_required("accounts.send_events", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def page(request: HtmxHttpRequest) -> HttpResponse:
    return _call_screen(request, SCREENS["page"])


@permission_required("accounts.send_events", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def screen(request: HtmxHttpRequest) -> HttpResponse:
    return _call_screen(request, SCREENS["screen"])


@permission_required("accounts.send_events", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def group(request: HtmxHttpRequest) -> HttpResponse:
    return _call_screen(request, SCREENS["group"])


@permission_required("accounts.send_events", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def alias(request: HtmxHttpRequest) -> HttpResponse:
    return _call_screen(request, SCREENS["alias"])


# --- Make an API call -----------------------------------------------------------------------

# UnsafeRequest.field -> the form field it concerns.
_RAW_FIELDS = {
    "path": "url",
    "url": "url",
    "method": "method",
    "headers": "headers",
    "header": "headers",
    "query": "query",
    "body": "body",
}


def _raw_request(form: ApiCallForm) -> client.SegmentRequest:
    data = form.cleaned_data
    arguments = {
        "method": data["method"],
        "path": data["url"],
        "headers": data["headers"],
        "query": data["query"],
        "body": data["body"] or None,
    }
    if data["api"] == PUBLIC:
        workspace = data["workspace"]
        return client.raw_public_request(
            **arguments, token=present.PLACEHOLDER, region=workspace.region
        )
    source = data["source"]
    return client.raw_tracking_request(
        **arguments, write_key=present.PLACEHOLDER, region=source.region
    )


def _send_raw(request: HttpRequest, form: ApiCallForm) -> dict[str, Any] | None:
    """As _send_message: None when a Production source was not confirmed."""
    data = form.cleaned_data
    public = data["api"] == PUBLIC
    try:
        sent = sending.send_raw(
            actor=Actor.from_request(request),
            api="public" if public else "tracking",
            source=None if public else data["source"],
            workspace=data["workspace"] if public else None,
            method=data["method"],
            path=data["url"],
            headers=data["headers"],
            query=data["query"],
            body=data["body"] or None,
            reason=data.get("reason", ""),
            confirm_production=data.get(CONFIRM_PRODUCTION),
        )
    except sending.ProductionNotConfirmed as exc:
        form.add_error(CONFIRM_PRODUCTION, str(exc))
        return None
    except _NOT_SENT as exc:
        return {"kind": "error", "message": str(exc)}
    except UnsafeRequest as exc:  # the form's preview check makes this unlikely
        return {"kind": "error", "message": exc.message}
    return {
        "kind": "sent",
        **present.describe_result(sent, show_headers=True),
        "source": None if public else data["source"],
    }


def _ask_approval(request: HttpRequest, form: ApiCallForm) -> dict[str, Any] | None:
    """A Public API call that changes the workspace: saved for a second Admin, not sent."""
    reason = str(form.cleaned_data.get("reason") or "").strip()
    if not reason:
        form.add_error(
            "reason",
            "A Public API call other than GET waits for a second Admin: give a reason.",
        )
        return None
    approval = approved_calls.ask(Actor.from_request(request), form.cleaned_data, reason)
    return {"kind": "waiting", "approval": approval}


def _first_source_id(request: HttpRequest) -> int | None:
    """The source the example is sent to unless one is chosen: the first the Source list offers."""
    offered = cast(SourceChoiceField, ApiCallForm.base_fields["source"]).queryset
    if offered is None:
        return None
    first: int | None = (
        limits.allowed_sources(request.user, offered).values_list("pk", flat=True).first()
    )
    return first


@permission_required("accounts.make_api_call", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
@recent_authentication_required()
def api_call(request: HtmxHttpRequest) -> HttpResponse:
    status = 200
    panel: dict[str, Any] | None = None
    if request.method != "POST":
        initial: dict[str, Any] = {}
        if request.GET.get("example") == "group":
            # Ready to send: the example goes to the chosen source, else the first one offered.
            initial = {**GROUP_EXAMPLE, "source": _first_source_id(request)}
        initial.update(_source_initial(request))
        form = ApiCallForm(initial=initial, user=request.user)
    else:
        form = ApiCallForm(request.POST, user=request.user)
        if not form.is_valid():
            limit_events.refused_in_form(
                actor=Actor.from_request(request), form=form, entrance="Make an API call"
            )
        else:
            try:
                raw = _raw_request(form)
            except UnsafeRequest as exc:
                form.add_error(_RAW_FIELDS.get(exc.field), exc.message)
            else:
                if request.POST.get("action") == "send" and approved_calls.needs_approval(form):
                    panel = _ask_approval(request, form)
                elif request.POST.get("action") == "send":
                    panel = _send_raw(request, form)
                else:
                    panel = {
                        "kind": "preview",
                        "request": present.describe_request(raw),
                        "source": form.cleaned_data["source"] if raw.api == "tracking" else None,
                    }
        if form.errors:
            status = refused_status(request)
    production: dict[str, Any] = {"production_source": None}
    if form["api"].value() != PUBLIC:  # only the Tracking API is sent to a source
        production = production_context(form, sent=_was_sent(panel))
    context = {"form": form, "panel": panel, **production}
    if panel is not None and _panel_is_enough(request):
        return _panel_answer(request, "calls/api.html#panel-answer", context)
    template = "calls/api.html#call" if request.htmx else "calls/api.html"
    return render(request, template, context, status=status)


# --- Editor fragments -----------------------------------------------------------------------


def _editor_spec(request: HttpRequest, kind: str) -> editors.EditorSpec:
    if not any(request.user.has_perm(p) for p in CALL_PERMISSIONS):
        raise PermissionDenied
    spec = editors.EDITORS.get(kind)
    if spec is None:
        raise Http404("No such editor.")
    return spec


@require_POST
def editor_switch(request: HttpRequest, kind: str) -> HttpResponse:
    """The editor redrawn in the other mode (rows <-> JSON), or in the same one with a reason."""
    spec = _editor_spec(request, kind)
    name = request.POST.get("editor", "")
    if not _EDITOR_NAME.fullmatch(name):
        return HttpResponseBadRequest("Unknown editor.")
    # A planned editor switches with its plan: the buttons send the form's Source and Event Name.
    call_type = _PLANNED_KINDS.get(kind, "")
    source = planned.source_of(request.POST.get("source")) if call_type else None
    plan = planned.planned_for(source, call_type, request.POST.get("event", ""))
    state = editors.with_planned(spec, editors.state_from_data(spec, request.POST, name), plan)
    to = request.POST.get("to", "")
    switched = state.mode != to
    state = editors.switch(spec, state, to)
    state = editors.with_planned(spec, state, plan)
    focus = switched and state.mode == editors.ROWS == to  # ready to type the next row
    return HttpResponse(editors.render_editor(spec, name, state, planned=plan, focus_blank=focus))


_PLANNED_KINDS = {
    "track_properties": "track",
    "identify_traits": "identify",
    "group_traits": "group",
}


@require_safe
def planned_editor(request: HttpRequest, call_type: str) -> HttpResponse:
    """The property or trait editor drawn again for the chosen source and event: the plan's
    rows first, what was typed kept. On a change of source, Track's Event Name comes along
    (an out-of-band swap), offering that source's planned events."""
    screen = SCREENS.get(call_type)
    name = planned.PLANNED_CALLS.get(call_type)
    if screen is None or name is None:
        raise Http404("No such call.")
    if not request.user.has_perm(screen.permission):
        raise PermissionDenied
    initial = {key: request.GET.get(key, "") for key in ("source", "event", "event_version")}
    form = screen.form_class(initial=initial, user=request.user)
    if form.planned is None and not request.GET.get(f"{name}__planned"):
        # Drawn without a plan and still without one: nothing to redraw (htmx swaps no 204).
        return HttpResponse(status=204)
    spec = form.fields[name].spec  # type: ignore[attr-defined]
    state = editors.with_planned(
        spec, editors.state_from_data(spec, request.GET, name), form.planned
    )
    state.bound = False  # a redraw, not a submission: no messages yet
    html = editors.render_editor(spec, name, state, planned=form.planned)
    changed = request.GET.get("changed")
    if call_type == "track" and changed == "source":
        fields = render_to_string(
            "calls/call.html#call-fields", {"form": form, "oob": True}, request=request
        )
        html = html + fields
    elif call_type == "track" and changed == "event":
        # The new event's versions (or none): Event version comes along.
        version = render_to_string(
            "calls/call.html#event-version", {"form": form, "oob_version": True}, request=request
        )
        html = html + version
    return HttpResponse(html)


@require_safe
def editor_row(request: HttpRequest, kind: str) -> HttpResponse:
    """One empty custom row, appended by htmx when someone clicks "Add"."""
    spec = _editor_spec(request, kind)
    name = request.GET.get("editor", "")
    if not _EDITOR_NAME.fullmatch(name):
        return HttpResponseBadRequest("Unknown editor.")
    row = editors.Row("c", "", spec.value_types[0])
    context = editors.row_context(spec, name, row, uuid.uuid4().hex[:8])
    context["autofocus"] = True
    return render(request, "calls/editor.html#row", context)
