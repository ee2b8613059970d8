"""The htmx answer of a Send that went through, drawn in Python: the hottest fragment of the
call screens (issue 17: the template engine took 0.4 ms of a send's own time of 5-6 ms).

It is byte for byte what ``templates/calls/call.html#panel-answer`` draws for the same context
(the result panel of ``templates/calls/panel.html``, then the generated message ID, the
warnings above Send and the Production box out of band): tests/calls/test_panel_html.py
renders both for every kind of result and compares them, so a change to the templates that is
not made here too fails there. Every value goes through ``conditional_escape``, as ``{{ }}``
does. Anything else (a preview, an error, a Production source, a plan's findings) is left to
the templates: ``answer`` returns None for it.
"""

from __future__ import annotations

from typing import Any

from django.template.defaultfilters import floatformat, stringformat
from django.utils.html import conditional_escape

_SENT_NOTE = (
    '<p class="small text-body-secondary">\u201cSent\u201d means Segment accepted the request. '
    "It does not prove that destinations received it: Segment drops some messages later, "
    "which is why segadmin checks them before sending.</p>"
)
_PRODUCTION_CONFIRM_OOB = (
    '<div id="production-confirm" data-production-confirm hx-swap-oob="true">\n'
    '<p class="alert alert-danger mb-3" data-production-hint data-testid="production-hint" '
    'hidden><span class="badge text-bg-danger">Production</span> <strong '
    "data-production-name></strong> is a Production source: Send asks you to confirm it by "
    "name.</p></div>\n"
)


def _e(value: Any) -> str:
    return str(conditional_escape(value))


def answer(context: dict[str, Any], path: str) -> str | None:
    """The panel answer for ``context`` (the view's: form, panel, generated_message_id and the
    Production context), or None when the templates draw it. ``path``: the request's path
    (Send another)."""
    panel = context.get("panel")
    if not panel or panel.get("kind") != "sent" or panel.get("plan"):
        return None
    source = panel.get("source")
    if context.get("production_source") or getattr(source, "production", False):
        return None
    form = context["form"]
    if form.warnings:  # drawn by calls/warnings.html
        return None
    return "".join(
        (
            "\n",
            _sent_panel(panel, path),
            "\n",
            '<input type="hidden" name="generated_message_id" id="generated-message-id" '
            f'value="{_e(context.get("generated_message_id", ""))}" hx-swap-oob="true">',
            '<div id="call-warnings" hx-swap-oob="true">\n\n</div>\n',
            _PRODUCTION_CONFIRM_OOB,
            "\n",
        )
    )


def _sent_panel(panel: dict[str, Any], path: str) -> str:
    tone = _e(panel["tone"])
    status = _e(panel["status"]) if panel["status"] else f"none ({_e(panel['error'])})"
    entry = _e(panel["entry_id"])
    audit = (
        f'<a href="{_e(panel["audit_url"])}">#{entry}</a>' if panel["audit_url"] else f"#{entry}"
    )
    duration = panel["duration_ms"]
    parts = [
        "\n\n",
        f'<div class="card shadow-sm border-{tone}" data-testid="result">\n',
        f'  <div class="card-header bg-{tone}-subtle d-flex align-items-center gap-2">\n',
        f'    <span class="fw-semibold" data-testid="result-verdict">{_e(panel["verdict"])}'
        "</span>\n",
        "  </div>\n",
        '  <div class="card-body">\n',
        "    \n\n",
        '    <dl class="row small mb-2">\n',
        '      <dt class="col-4">HTTP status</dt><dd class="col-8" data-testid="result-status">'
        f"{status}</dd>\n",
        '      <dt class="col-4">Attempts</dt><dd class="col-8" data-testid="result-attempts">'
        f"{_e(panel['attempts'])}</dd>\n",
        '      <dt class="col-4">Time</dt><dd class="col-8" data-testid="result-duration" '
        f'data-ms="{_e(stringformat(duration, ".1f"))}">{_e(floatformat(duration, 0))} ms</dd>\n',
        '      <dt class="col-4">Audit entry</dt><dd class="col-8" data-testid="result-audit">'
        f"{audit}</dd>\n",
        "    </dl>\n",
        f"    {_SENT_NOTE if panel['ok'] and panel['is_a_send'] else ''}\n",
        "    ",
    ]
    if panel["headers"]:
        rows = "".join(
            f'<tr><td class="text-body-secondary">{_e(name)}</td><td><code>{_e(value)}</code>'
            "</td></tr>"
            for name, value in panel["headers"]
        )
        parts += [
            "\n",
            '    <h3 class="h6">Response headers</h3>\n',
            '    <table class="table table-sm mb-3" data-testid="result-headers">\n',
            f"      <tbody>{rows}</tbody>\n",
            "    </table>\n",
            "    ",
        ]
    request = panel["request"]
    body = (
        f'<pre class="json" data-testid="result-body">{_e(panel["body"])}</pre>'
        if panel["body"]
        else '<p class="small text-body-secondary">Empty.</p>'
    )
    sent_body = f'<pre class="json mt-2">{_e(request["body"])}</pre>' if request["body"] else ""
    parts += [
        "\n",
        "    \n\n\n",  # calls/plan.html without a plan
        '    <h3 class="h6">Segment\'s answer</h3>\n',
        f"    {body}\n",
        '    <details class="mt-3">\n',
        '      <summary class="small">The request that was sent</summary>\n',
        '      <div class="mt-2"><span class="badge text-bg-primary method-badge">'
        f'{_e(request["method"])}</span> <code class="text-break">{_e(request["url"])}</code>'
        "</div>\n",
        f"      {sent_body}\n",
        "    </details>\n",
        "    ",
    ]
    source = panel.get("source")
    if source:
        parts += [
            "\n",
            '    <a class="btn btn-outline-primary btn-sm mt-3" '
            f'href="{_e(path)}?source={_e(source.pk)}" data-testid="send-another">'
            "Send another</a>\n",
            "    ",
        ]
    parts += ["\n", "  </div>\n", "</div>\n", "\n"]
    return "".join(parts)
