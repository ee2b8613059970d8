"""The htmx answer of a Send that went through is drawn in Python (calls/panel_html.py, the hot
path of issue 17): byte for byte what the templates draw for the same context, for every kind
of result it takes; the rest is left to the templates."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from segadmin.calls import panel_html

TEMPLATE = "calls/call.html#panel-answer"
PATH = "/calls/identify/"


def _panel(**changes: Any) -> dict[str, Any]:
    panel = {
        "kind": "sent",
        "ok": True,
        "is_a_send": True,
        "verdict": "Sent: Segment accepted the request.",
        "tone": "success",
        "status": 200,
        "error": "",
        "attempts": 1,
        "duration_ms": 2.1,
        "body": '{\n  "success": true\n}',
        "body_is_json": True,
        "headers": [],
        "request": {
            "method": "POST",
            "url": "https://api.segment.io/v1/identify",
            "body": '{\n  "userId": "u-1",\n  "writeKey": "****"\n}',
        },
        "entry_id": 42,
        "audit_url": "/audit/42/",
        "source": SimpleNamespace(pk=7, name="Web", production=False),
        "plan": None,
    }
    panel.update(changes)
    return panel


def _context(panel: dict[str, Any], **changes: Any) -> dict[str, Any]:
    context = {
        "form": SimpleNamespace(warnings=[]),
        "panel": panel,
        "generated_message_id": "",
        "production_source": None,
    }
    context.update(changes)
    return context


def _template(context: dict[str, Any]) -> str:
    request = RequestFactory().post(PATH)
    return render_to_string(TEMPLATE, {**context, "request": request})


CASES = {
    "sent": _context(_panel()),
    "a generated id": _context(_panel(), generated_message_id="0b6e0f4e-8a3c-4f6e"),
    "rejected": _context(
        _panel(ok=False, verdict="Rejected by Segment (400).", tone="danger", status=400)
    ),
    "no answer, an error to escape": _context(
        _panel(ok=False, status=None, error='timed out <b>"x"</b> & more', tone="danger")
    ),
    "several attempts, a long time": _context(_panel(attempts=3, duration_ms=1234.5)),
    "time that rounds": _context(_panel(duration_ms=2.5)),
    "time under a millisecond": _context(_panel(duration_ms=0.04)),
    "no audit page": _context(_panel(audit_url="")),
    "response headers": _context(
        _panel(headers=[("Content-Type", "application/json"), ("X-Odd", "<&>")])
    ),
    "empty answer": _context(_panel(body="")),
    "no request body": _context(
        _panel(request={"method": "GET", "url": "/x?a=1&b=<2>", "body": ""})
    ),
    "not a send": _context(_panel(is_a_send=False)),
    "no source": _context(_panel(source=None)),
    "values to escape": _context(
        _panel(
            verdict="<script>alert(1)</script>",
            body='{"a": "<b>&amp;</b>"}',
            request={"method": "POST", "url": 'https://x/"y"', "body": "'quoted' & <tag>"},
        )
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_it_draws_the_same_bytes_as_the_templates(case: str) -> None:
    context = CASES[case]
    drawn = panel_html.answer(context, PATH)
    assert drawn is not None
    assert drawn == _template(context)


@pytest.mark.parametrize(
    "context",
    [
        _context(_panel(kind="preview")),
        _context(_panel(kind="error")),
        _context(_panel(plan={"name": "Plan", "enforcement": "warn", "violations": []})),
        _context(_panel(source=SimpleNamespace(pk=7, name="Live", production=True))),
        _context(_panel(), production_source=SimpleNamespace(pk=7, name="Live")),
        _context(_panel(), form=SimpleNamespace(warnings=["a warning"])),
        _context(None),
    ],
    ids=["preview", "error", "a plan", "production source", "production box", "warnings", "none"],
)
def test_anything_else_is_left_to_the_templates(context: dict[str, Any]) -> None:
    assert panel_html.answer(context, PATH) is None
