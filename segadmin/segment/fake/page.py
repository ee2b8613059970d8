"""The fake's inspection page at ``/_fake/``: what it received, newest first."""

from __future__ import annotations

from html import escape
from typing import Any

from segadmin.segment.fake.state import FakeState

SHOWN = 200


def _masked(key: str) -> str:
    return f"…{key[-4:]}" if len(key) > 4 else "…"


def _cell(value: Any) -> str:
    return f"<td>{escape('' if value is None else str(value))}</td>"


def render(state: FakeState, *, status: str | None = None) -> str:
    summary = state.summary()
    entries = state.received(status=status, last=SHOWN)[::-1]
    with state.lock:
        workspaces = list(state.workspaces.values())
        sources = list(state.sources.values())
    rows = []
    for entry in entries:
        message = entry["message"]
        rows.append(
            "<tr>"
            + _cell(entry["seq"])
            + _cell(message.get("receivedAt"))
            + _cell(entry["path"])
            + _cell(entry["status"])
            + _cell(message.get("type"))
            + _cell(message.get("userId"))
            + _cell(message.get("anonymousId"))
            + _cell(message.get("event") or message.get("name"))
            + _cell(message.get("messageId"))
            + _cell(_masked(entry["write_key"]))
            + _cell(", ".join(entry["dropped_keys"]))
            + "</tr>"
        )
    counts = "".join(
        f"<li>{escape(name)}: {count}</li>" for name, count in sorted(summary["counts"].items())
    )
    sources_html = "".join(
        f"<li>{escape(s.name)} ({escape(s.id)}), keys "
        f"{escape(', '.join(_masked(k) for k in s.write_keys) or 'none')}</li>"
        for s in sources
    )
    workspaces_html = "".join(
        f"<li>{escape(w.name)} ({escape(w.id)}), token {escape(_masked(w.token))}"
        f"{'' if w.source_admin else ', without Source Admin'}</li>"
        for w in workspaces
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake Segment</title>
<meta http-equiv="refresh" content="5"></head>
<body>
<h1>Fake Segment</h1>
<p>{summary["messages"]} messages kept, {summary["requests"]} requests served.
JSON: <a href="/_fake/messages">/_fake/messages</a>, <a href="/_fake/requests">/_fake/requests</a>,
<a href="/_fake/state">/_fake/state</a>.</p>
<ul>{counts}</ul>
<h2>Workspaces</h2><ul>{workspaces_html or "<li>none</li>"}</ul>
<h2>Sources</h2><ul>{sources_html or "<li>none</li>"}</ul>
<h2>Received (newest first, at most {SHOWN})</h2>
<table border="1" cellpadding="3">
<thead><tr><th>#</th><th>received</th><th>path</th><th>status</th><th>type</th><th>userId</th>
<th>anonymousId</th><th>event / name</th><th>messageId</th><th>write key</th>
<th>dropped keys</th></tr></thead>
<tbody>{"".join(rows) or '<tr><td colspan="11">nothing yet</td></tr>'}</tbody>
</table>
</body></html>
"""
