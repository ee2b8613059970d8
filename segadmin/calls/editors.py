"""The typed key/value editor: a form field, its widget and the parsing both share.

An editor has two modes. In "rows" mode it shows the reserved fields of its spec first (with
their types and descriptions), then custom rows of name, type and value. In "json" mode it is a
textarea labelled e.g. "Traits (JSON)" that accepts any object. Switching goes through the
server (`views.editor_switch`) so both directions use the same parser, and a switch that would
lose something (a value the rows cannot show) is refused with a message instead.

Posted data for an editor named ``traits``::

    traits__mode   rows | json
    traits__json   the textarea (json mode)
    traits__kind   per row: r (reserved) or c (custom)     -- the four lists are parallel
    traits__key    per row: the name
    traits__type   per row: one of spec.VALUE_TYPES
    traits__value  per row: the value as typed
    traits__bool   per row: true | false (used when the type is boolean)
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django import forms
from django.template.loader import render_to_string
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

from segadmin.calls import spec
from segadmin.calls.spec import TYPE_LABELS, VALUE_TYPES, Reserved
from segadmin.segment import values
from segadmin.segment.values import BOOLEAN, DATETIME, LIST, NULL, NUMBER, OBJECT, TEXT

if TYPE_CHECKING:
    from segadmin.calls.planned import Planned, PlannedField

ROWS = "rows"
JSON = "json"


class NotRepresentable(ValueError):
    """An object the rows cannot show without losing something: stay in JSON mode."""


@dataclass(frozen=True)
class EditorSpec:
    kind: str  # the registry key, used in the editor's URLs
    label: str  # "Traits": the JSON textarea is labelled "Traits (JSON)"
    noun: str  # "trait", "property", "header": in messages
    reserved: tuple[Reserved, ...] = ()
    value_types: tuple[str, ...] = VALUE_TYPES  # for custom rows
    pairs: bool = False  # True: the value is a list of (name, text) pairs, names may repeat
    null_note: str = "null unsets it"
    help: str = ""

    def reserved_by_path(self) -> dict[str, Reserved]:
        return {r.path: r for r in self.reserved}

    def reserved_tops(self) -> dict[str, Reserved]:
        return {r.top: r for r in self.reserved}

    @property
    def noun_plural(self) -> str:
        return self.noun[:-1] + "ies" if self.noun.endswith("y") else self.noun + "s"

    @property
    def json_label(self) -> str:
        return f"{self.label} (JSON)"


@dataclass
class Row:
    kind: str  # "r" (reserved), "p" (planned by the source's tracking plan) or "c" (custom)
    key: str
    type: str
    value: str = ""
    reserved: Reserved | None = None
    error: str = ""
    planned: PlannedField | None = None  # a reserved row may be planned too

    def type_choices(self, spec_: EditorSpec) -> list[tuple[str, str]]:
        if self.reserved:
            allowed: tuple[str, ...] = (*self.reserved.types, NULL)
        elif self.planned:
            allowed = self.planned.types
        else:
            allowed = spec_.value_types
        return [(t, TYPE_LABELS[t]) for t in allowed]


@dataclass
class EditorState:
    mode: str = ROWS
    json_text: str = ""
    rows: list[Row] = field(default_factory=list)
    error: str = ""  # shown at the top of the editor (e.g. why a switch was refused)
    bound: bool = False  # from posted data: show the rows' own errors


# --- Values ---------------------------------------------------------------------------------
# One parser for typed values at every entrance: segment.values (bulk cells use it too).

EditorError = values.ValueInvalid
parse_json = values.parse_json


def parse_value(type_: str, raw: str) -> Any:
    """The typed value of one row, or EditorError saying what is wrong with the value."""
    if type_ not in VALUE_TYPES:
        raise EditorError(f"The type “{type_}” is unknown.")
    return values.to_type(type_, raw)


def _looks_like_datetime(text: str) -> bool:
    try:
        values.parse_datetime_text(text)
    except EditorError:
        return False
    return True


def infer(value: Any, allowed: Iterable[str]) -> tuple[str, str]:
    """The row type and text for a JSON value, among ``allowed``; NotRepresentable if none fits."""
    allowed = tuple(allowed)
    if value is None:
        candidates = [(NULL, "")]
    elif isinstance(value, bool):
        candidates = [(BOOLEAN, "true" if value else "false")]
    elif isinstance(value, int | float):
        candidates = [(NUMBER, json.dumps(value))]
    elif isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise NotRepresentable("it contains a line break, which a form field cannot hold")
        candidates = [(TEXT, value)]
        if _looks_like_datetime(value):
            candidates.insert(0, (DATETIME, value))
    elif isinstance(value, list):
        candidates = [(LIST, json.dumps(value, ensure_ascii=False))]
    elif isinstance(value, dict):
        candidates = [(OBJECT, json.dumps(value, ensure_ascii=False))]
    else:  # pragma: no cover - json.loads produces nothing else
        raise NotRepresentable("its type is unknown")
    for type_, text in candidates:
        if type_ in allowed:
            return type_, text
    names = " or ".join(TYPE_LABELS[t] for t in allowed if t != NULL)
    raise NotRepresentable(f"it is {TYPE_LABELS[candidates[-1][0]]}, where the form takes {names}")


# --- Rows <-> value -------------------------------------------------------------------------


def reserved_rows(spec_: EditorSpec) -> list[Row]:
    return [Row("r", r.path, r.types[0], "", r) for r in spec_.reserved]


def _reserved_type(reserved: Reserved, type_: str) -> str:
    """The type a row named like ``reserved`` is read as: its own when the reserved field
    allows it, else the field's first (a custom row's "text" default for "age" is a number)."""
    return type_ if type_ in (*reserved.types, NULL) else reserved.types[0]


def rows_to_value(spec_: EditorSpec, rows: list[Row]) -> dict[str, Any] | list[tuple[str, str]]:
    """Build the editor's value from its rows, setting ``row.error`` on each bad row.

    A custom row named like one of Segment's reserved fields ("email", "company.plan") is read
    as that field, typed as it is, so it gets the same verdict and words; a second row for a
    name already given is refused. Raises EditorError (naming how many rows are wrong) when
    any row is.
    """
    reserved_paths = spec_.reserved_by_path()
    reserved_tops = spec_.reserved_tops()
    pairs: list[tuple[str, Any]] = []
    nested: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    custom_number = 0
    for row in rows:
        row.error = ""
        reserved = row.reserved if row.kind == "r" else None
        type_ = row.type
        if row.kind == "c" and row.key.strip() in reserved_paths:
            reserved = reserved_paths[row.key.strip()]
            type_ = _reserved_type(reserved, row.type)
        if reserved is not None:
            what = reserved.display
            if type_ not in (*reserved.types, NULL):
                row.error = f"{what} cannot be of type “{type_}”."
                continue
            if type_ != NULL and row.value == "":
                continue
            nested_top, _dot, sub = reserved.path.partition(".")
            if reserved.path in seen or (sub and sub in nested.get(nested_top, {})):
                row.error = f"“{row.key.strip()}” is used by two rows: give each {spec_.noun} once."
                continue
            try:
                value = parse_value(type_, row.value)
            except EditorError as exc:
                row.error = str(exc)
                continue
            if sub:
                if nested_top not in nested:
                    if nested_top in seen:  # given whole by a custom row before
                        row.error = (
                            f"“{nested_top}” is already given by a row of its own: give its "
                            "parts there or here, not both."
                        )
                        continue
                    nested[nested_top] = {}
                    pairs.append((nested_top, nested[nested_top]))
                    seen.add(nested_top)
                nested[nested_top][sub] = value
            else:
                seen.add(reserved.path)
                pairs.append((reserved.path, value))
            continue
        if row.kind == "p":
            # A planned row: its name is the plan's; left empty, it is not sent (a required
            # one is named by required_errors and by the plan's validation).
            if row.type != NULL and row.value == "":
                seen.add(row.key)
                continue
            if row.key in seen and not spec_.pairs:
                row.error = f"“{row.key}” is used by two rows: give each {spec_.noun} once."
                continue
            try:
                value = parse_value(row.type, row.value)
            except EditorError as exc:
                row.error = str(exc)
                continue
            seen.add(row.key)
            pairs.append((row.key, value))
            continue
        custom_number += 1
        name = row.key.strip()
        if not name:
            if not row.value.strip() and row.type != NULL:
                continue  # a blank row: nothing typed
            row.error = f"Give this {spec_.noun} a name."
            continue
        if name in nested and name in reserved_tops:
            # "address" typed whole while its parts are given in their own rows.
            row.error = (
                f"“{name}” is already given by its parts ({', '.join(nested[name])}): "
                "give them there or here, not both."
            )
            continue
        if name in seen and not spec_.pairs:
            row.error = f"“{name}” is used by two rows: give each {spec_.noun} once."
            continue
        if row.type not in spec_.value_types:
            row.error = f"“{name}” cannot be of type “{row.type}”."
            continue
        try:
            value = parse_value(row.type, row.value)
        except EditorError as exc:
            row.error = str(exc)
            continue
        seen.add(name)
        pairs.append((name, value))
    bad = sum(1 for row in rows if row.error)
    if bad:
        raise EditorError(rows_need_fixing(spec_, bad))
    if spec_.pairs:
        return [(k, v) for k, v in pairs]
    return dict(pairs)


def value_to_rows(spec_: EditorSpec, value: Mapping[str, Any] | list[tuple[str, Any]]) -> list[Row]:
    """Rows showing ``value`` exactly, or NotRepresentable saying what the form cannot show."""
    rows = reserved_rows(spec_)
    by_path = {row.key: row for row in rows}
    tops = spec_.reserved_tops()
    items = list(value) if isinstance(value, list) else list(value.items())
    custom: list[Row] = []
    for key, item in items:
        if key in tops and key not in by_path:  # an object made of reserved parts
            if not isinstance(item, dict):
                raise NotRepresentable(
                    f"“{key}” must be an object with the parts listed in the form"
                )
            for sub, sub_value in item.items():
                row = by_path.get(f"{key}.{sub}")
                if row is None:
                    raise NotRepresentable(f"“{key}.{sub}” is not one of the form's fields")
                _fill_reserved(row, sub_value)
            continue
        if key in by_path:
            _fill_reserved(by_path[key], item)
            continue
        if key != key.strip() or not key:
            raise NotRepresentable(f"the name “{key}” starts or ends with a space or is empty")
        try:
            type_, text = infer(item, spec_.value_types)
        except NotRepresentable as exc:
            raise NotRepresentable(f"“{key}”: {exc}") from None
        custom.append(Row("c", key, type_, text))
    return rows + custom


def _fill_reserved(row: Row, value: Any) -> None:
    assert row.reserved is not None
    if value == "" and isinstance(value, str):
        raise NotRepresentable(f"“{row.key}” is empty text, which the form shows as “not set”")
    try:
        row.type, row.value = infer(value, (*row.reserved.types, NULL))
    except NotRepresentable as exc:
        raise NotRepresentable(f"“{row.key}”: {exc}") from None
    if row.reserved.input == "currency" and not spec.is_currency(row.value):
        raise NotRepresentable(f"“{row.key}”: “{row.value}” is not an ISO 4217 code")


def json_to_value(spec_: EditorSpec, text: str) -> dict[str, Any] | list[tuple[str, str]]:
    """The value of JSON mode: any object (an empty text is {}). Header-like editors want text."""
    if not text.strip():
        return [] if spec_.pairs else {}
    value = parse_json(text, what=spec_.json_label)
    if not isinstance(value, dict):
        raise EditorError(f'{spec_.json_label} must be a JSON object, like {{"plan": "pro"}}.')
    if spec_.value_types == (TEXT,):
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            items = item if spec_.pairs and isinstance(item, list) else [item]
            for one in items:
                if not isinstance(one, str):
                    raise EditorError(
                        f"{spec_.json_label}: the value of “{key}” must be text (in quotes)."
                    )
                pairs.append((key, one))
        return pairs if spec_.pairs else dict(pairs)
    return value


def value_to_json(value: Mapping[str, Any] | list[tuple[str, Any]], spec_: EditorSpec) -> str:
    if isinstance(value, list):
        grouped: dict[str, Any] = {}
        for key, item in value:
            if key in grouped:
                existing = grouped[key]
                grouped[key] = [*existing, item] if isinstance(existing, list) else [existing, item]
            else:
                grouped[key] = item
        value = grouped
    if not value:
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False)


def state_value(spec_: EditorSpec, state: EditorState) -> dict[str, Any] | list[tuple[str, str]]:
    if state.mode == JSON:
        return json_to_value(spec_, state.json_text)
    return rows_to_value(spec_, state.rows)


def state_for(spec_: EditorSpec, value: Any) -> EditorState:
    """An editor showing ``value``: rows when they can hold it, else JSON."""
    if value in (None, "", {}, []):
        return EditorState(ROWS, "", [*reserved_rows(spec_), Row("c", "", spec_.value_types[0])])
    try:
        return EditorState(ROWS, "", value_to_rows(spec_, value))
    except NotRepresentable:
        return EditorState(JSON, value_to_json(value, spec_), [])


def with_planned(spec_: EditorSpec, state: EditorState, planned: Planned | None) -> EditorState:
    """The editor with the rows a tracking plan plans (``planned``), in rows mode.

    Each planned name gets a planned row, typed by the plan, that keeps a value already typed
    under that name (in a custom row or the planned row of the event chosen before); a name that
    is one of Segment's reserved fields stays that reserved row, marked as planned. Planned rows
    the plan no longer names are kept as custom rows when they hold a value, dropped when empty.
    JSON mode is left as typed.
    """
    if state.mode != ROWS:
        return state
    fields = planned.fields if planned is not None else ()
    by_name = {f.name: f for f in fields}
    reserved_paths = set(spec_.reserved_by_path())
    tops = spec_.reserved_tops()
    # Names of reserved objects (address, company) stay their reserved parts.
    own = [f for f in fields if f.name not in reserved_paths and f.name not in tops]
    own_names = {f.name for f in own}
    reserved: list[Row] = []
    taken: dict[str, Row] = {}
    rest: list[Row] = []
    for row in state.rows:
        if row.kind == "r":
            row.planned = by_name.get(row.key)
            reserved.append(row)
            continue
        key = row.key.strip()
        if key in own_names and key not in taken:
            taken[key] = row
            continue
        if row.kind == "p":
            row.planned = None
            if row.value == "" and row.type != NULL:
                continue  # an empty row the event chosen before planned
            row.kind = "c"
        rest.append(row)
    rows = []
    for planned_field in own:
        old = taken.get(planned_field.name)
        row = Row("p", planned_field.name, planned_field.types[0], planned=planned_field)
        if old is not None and (old.value != "" or old.type == NULL):
            row.value = old.value
            if old.type in planned_field.types:
                row.type = old.type
        rows.append(row)
    rows = reserved + rows + rest
    return EditorState(state.mode, state.json_text, rows, state.error, state.bound)


def required_errors(rows: Iterable[Row]) -> int:
    """Put "… is required by the tracking plan" under each empty row the plan requires (under
    Block enforcement); the count of such rows. The plan's own validation says the same of a
    message built any other way (JSON mode, bulk, a forged POST)."""
    count = 0
    for row in rows:
        field_ = row.planned
        if field_ is None or not field_.required or not field_.enforce or row.error:
            continue
        if row.type != NULL and row.value == "":
            row.error = field_.required_message
            count += 1
    return count


ROWS_NEED_FIXING_END = "fixing: see the message under each."


def rows_need_fixing(spec_: EditorSpec, count: int) -> str:
    noun = "row needs" if count == 1 else "rows need"
    return f"{count} {spec_.noun} {noun} {ROWS_NEED_FIXING_END}"


def switch(spec_: EditorSpec, state: EditorState, to: str) -> EditorState:
    """The editor in the other mode, or the same one with ``error`` saying why it cannot switch."""
    if to == state.mode or to not in (ROWS, JSON):
        return state
    try:
        value = state_value(spec_, state)
    except EditorError as exc:
        state.error = f"Fix this first: {exc}"
        state.bound = True
        return state
    if to == JSON:
        return EditorState(JSON, value_to_json(value, spec_), [])
    if not value:
        return state_for(spec_, value)
    try:
        rows = value_to_rows(spec_, value)
    except NotRepresentable as exc:
        state.error = f"This JSON stays as JSON because {exc}."
        return state
    if not any(row.kind == "c" for row in rows):
        rows.append(Row("c", "", spec_.value_types[0]))
    return EditorState(ROWS, "", rows)


# --- Posted data ----------------------------------------------------------------------------


def _getlist(data: Mapping[str, Any], key: str) -> list[str]:
    if hasattr(data, "getlist"):
        values = data.getlist(key)
    else:
        values = data.get(key, [])
        values = values if isinstance(values, list | tuple) else [values]
    return [v if isinstance(v, str) else str(v) for v in values]


def state_from_data(spec_: EditorSpec, data: Mapping[str, Any], name: str) -> EditorState:
    """Read an editor's posted inputs. Every reserved row is present, whatever was posted."""
    mode = data.get(f"{name}__mode") or ROWS
    mode = mode if mode in (ROWS, JSON) else ROWS
    if mode == JSON:
        text = data.get(f"{name}__json") or ""
        return EditorState(JSON, text if isinstance(text, str) else str(text), [], bound=True)
    kinds = _getlist(data, f"{name}__kind")
    keys = _getlist(data, f"{name}__key")
    types = _getlist(data, f"{name}__type")
    values = _getlist(data, f"{name}__value")
    bools = _getlist(data, f"{name}__bool")
    count = max(len(kinds), len(keys), len(types), len(values))

    def at(items: list[str], index: int, default: str = "") -> str:
        return items[index] if index < len(items) else default

    rows = reserved_rows(spec_)
    by_path = {row.key: row for row in rows}
    posted: list[Row] = []
    for index in range(count):
        kind, key, type_ = at(kinds, index, "c"), at(keys, index), at(types, index, TEXT)
        value = at(bools, index) if type_ == BOOLEAN else at(values, index)
        if kind == "r" and key in by_path:
            row = by_path.pop(key)
            row.type, row.value = type_, value
        elif kind == "p" and key:
            posted.append(Row("p", key, type_, value))  # with_planned says if it still is
        else:
            posted.append(Row("c", key, type_, value))
    # A custom row named like a reserved field that is still empty becomes that field's row,
    # typed as the field is (rows_to_value reads it the same way; a second one is refused).
    empty = {row.key: row for row in rows if row.value == "" and row.type != NULL}
    custom: list[Row] = []
    for row in posted:
        typed = row.value != "" or row.type == NULL
        target = empty.pop(row.key.strip(), None) if row.kind == "c" and typed else None
        if target is None or target.reserved is None:
            custom.append(row)
            continue
        target.type = _reserved_type(target.reserved, row.type)
        target.value = row.value
    return EditorState(ROWS, "", rows + custom, bound=True)


# --- Form field and widget ------------------------------------------------------------------


class KeyValueWidget(forms.Widget):
    """Renders templates/calls/editor.html#editor; reads the inputs described above."""

    def __init__(self, spec_: EditorSpec | None = None, attrs: dict[str, Any] | None = None):
        super().__init__(attrs)
        self.spec = spec_
        # The rules' sentences for rows, by row key; the form assigns a new dict per request
        # (widgets are shallow-copied per form, so this one is never changed in place).
        self.row_problems: dict[str, str] = {}
        # What the source's tracking plan plans for this editor (calls.planned.attach sets it
        # per form, on the form's own copy of the widget).
        self.planned: Planned | None = None

    def value_from_datadict(self, data: Mapping[str, Any], files: Any, name: str) -> EditorState:
        assert self.spec is not None
        return with_planned(self.spec, state_from_data(self.spec, data, name), self.planned)

    def value_omitted_from_data(self, data: Mapping[str, Any], files: Any, name: str) -> bool:
        return f"{name}__mode" not in data

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        assert self.spec is not None
        state = value if isinstance(value, EditorState) else state_for(self.spec, value)
        state = with_planned(self.spec, state, self.planned)
        return render_editor(self.spec, name, state, self.row_problems, self.planned)


def row_for(rows: list[Row], path: str) -> Row | None:
    """The row a rules problem's path (inside the editor's object) belongs to: the row of
    that exact key ("company.employee_count", "ordered_at"), else the row holding its top
    key ("items" for "items[0].at"). None when no row holds it (then the editor is told)."""
    by_key = {row.key.strip(): row for row in rows if row.key.strip()}
    if path in by_key:
        return by_key[path]
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    row = by_key.get(top)
    return row if row is not None and row.kind in ("c", "p") else None


def _fill_row_errors(
    spec_: EditorSpec, state: EditorState, row_problems: Mapping[str, str]
) -> None:
    """Set each row's error as the page shows it: its own, a plan's required, the rules'."""
    if state.bound and state.mode == ROWS:
        with contextlib.suppress(EditorError):
            rows_to_value(spec_, state.rows)  # fills in each row's error
        required_errors(state.rows)
        for row in state.rows:
            if not row.error and row.key.strip() in row_problems:
                row.error = row_problems[row.key.strip()]


# What a custom row's error says when its name is what to fix (rows_to_value's sentences).
_NAME_ERRORS = ("a name.", "is a reserved", "is used by two rows")


def _page_order(row: Row) -> int:
    return 0 if row.planned is not None else 1 if row.kind == "c" else 2


def row_errors(
    spec_: EditorSpec,
    name: str,
    state: EditorState,
    row_problems: Mapping[str, str] | None = None,
) -> list[tuple[str, str, str]]:
    """Each row's error as ``render_editor`` shows it, with the row's name and the id of the
    control to fix it in (its name, true/false choice, type or value), for the form's error
    summary. Rows are numbered as ``render_editor`` numbers them, so the ids match."""
    _fill_row_errors(spec_, state, row_problems or {})
    found: list[tuple[int, str, str, str]] = []
    for index, row in enumerate(state.rows):
        if not row.error or state.mode != ROWS:
            continue
        base = f"id_{name}__{index}"
        if row.kind == "c" and not row.key.strip():
            label, control = f"a {spec_.noun} without a name", "key"
        else:
            label = row.reserved.display if row.reserved else row.key.strip()
            control = {BOOLEAN: "bool", NULL: "type"}.get(row.type, "value")
            if row.kind == "c" and any(k in row.error for k in _NAME_ERRORS):
                control = "key"
        found.append((_page_order(row), label, row.error, f"{base}_{control}"))
    # In the order the page shows the rows: the plan's, the typed ones, then Segment's reserved.
    found.sort(key=lambda item: item[0])
    return [(label, error, target) for _order, label, error, target in found]


def render_editor(
    spec_: EditorSpec,
    name: str,
    state: EditorState,
    row_problems: Mapping[str, str] | None = None,
    planned: Planned | None = None,
    *,
    focus_blank: bool = False,
) -> SafeString:
    """The editor's HTML. ``focus_blank``: the cursor goes to the empty custom row (the editor
    was just switched to the form, by a person about to type)."""
    _fill_row_errors(spec_, state, row_problems or {})
    rows = [row_context(spec_, name, row, i) for i, row in enumerate(state.rows)]
    # The plan's rows first, in its order (required, then by name), planned reserved ones too.
    order = {f.name: i for i, f in enumerate(planned.fields)} if planned else {}
    planned_rows = sorted(
        (c for c in rows if c["row"].planned is not None), key=lambda c: order.get(c["row"].key, 0)
    )
    # Reserved rows in groups: the plain ones, then one folding group per object (address...).
    # A group holding a value (or a problem) is shown with the rows typed; the others wait in
    # the pool, which the "Add a trait" picker offers (and which, without JavaScript, opens as
    # a list of its own).
    groups: list[dict[str, Any]] = []
    for context in rows:
        reserved = context["row"].reserved
        if reserved is None or context["row"].planned is not None:
            continue
        heading = reserved.top if "." in reserved.path else ""
        if not groups or groups[-1]["heading"] != heading or not heading:
            groups.append({"heading": heading, "rows": [], "open": False})
        groups[-1]["rows"].append(context)
        row = context["row"]
        if row.value or row.error or row.type == NULL:
            groups[-1]["open"] = True
    custom_rows = [c for c in rows if c["row"].kind == "c"]
    if not any(_blank(c["row"]) for c in custom_rows):
        # Always one empty row to type into (without JavaScript, the way to add another).
        blank = Row("c", "", spec_.value_types[0])
        custom_rows.append(row_context(spec_, name, blank, len(state.rows)))
    if focus_blank:
        next(c for c in reversed(custom_rows) if _blank(c["row"]))["autofocus"] = True
    has_currency = any(r.input == "currency" for r in spec_.reserved)
    pool = [g for g in groups if not g["open"]]
    context = {
        "spec": spec_,
        "name": name,
        "state": state,
        "shown_groups": [g for g in groups if g["open"]],
        "pool_groups": pool,
        "pool_count": sum(len(g["rows"]) for g in pool),
        "planned": planned,
        "planned_rows": planned_rows,
        "custom_rows": custom_rows,
        "currency_options": currency_options(_currency_of(state)) if has_currency else "",
        "single_type": len(spec_.value_types) == 1 and not spec_.reserved,
    }
    return render_to_string("calls/editor.html#editor", context)


def _blank(row: Row) -> bool:
    return not row.key.strip() and not row.value.strip() and row.type != NULL


def _currency_of(state: EditorState) -> str:
    return next((r.value for r in state.rows if r.reserved and r.reserved.input == "currency"), "")


@lru_cache(maxsize=64)
def currency_options(selected: str) -> SafeString:
    """The ISO 4217 <option>s, built once per selection (there are about 180)."""
    return format_html_join(
        "",
        '<option value="{}"{}>{} · {}</option>',
        (
            (code, mark_safe(" selected") if code == selected else "", code, name)
            for code, name in spec.currencies()
        ),
    )


_PLACEHOLDERS = {
    NUMBER: "42 or 19.99",
    DATETIME: "2024-05-01T09:30:00Z",
    LIST: '["a", "b"]',
    OBJECT: '{"key": "value"}',
}
_INPUT_TYPES = {"email": "email", "url": "url", "tel": "tel"}


def row_context(spec_: EditorSpec, name: str, row: Row, index: int | str) -> dict[str, Any]:
    reserved = row.reserved
    hint = reserved.input if reserved else ""
    # A plan's enum wins over a reserved field's own picker (its USD and EUR, not every
    # currency): the plan would refuse the rest.
    choices = _choices(row) if row.planned is not None else []
    return {
        "choices": choices,
        "row": row,
        "id": f"id_{name}__{index}",
        "name": name,
        "types": row.type_choices(spec_),
        "spec": spec_,
        "single_type": len(spec_.value_types) == 1 and not spec_.reserved,
        "input_type": _INPUT_TYPES.get(hint, "text"),
        "inputmode": "decimal" if hint == "number" else "",
        # What the "Add a trait" picker shows of a reserved field: its type(s).
        "type_names": " or ".join(TYPE_LABELS[t] for t in reserved.types) if reserved else "",
        "placeholder": (
            ("1990-05-04" if hint == "date" else _PLACEHOLDERS.get(reserved.types[0], ""))
            if reserved
            else _PLACEHOLDERS.get(row.type, "value")
        ),
    }


def _choices(row: Row) -> list[tuple[str, str, bool]]:
    """A planned row's allowed values (the schema's enum) as (text, label, selected) options;
    a value typed before that the plan does not allow stays, marked, so nothing is lost."""
    assert row.planned is not None
    options: list[tuple[str, str, bool]] = []
    for choice in row.planned.choices:
        try:
            _type, text = infer(choice, VALUE_TYPES)
        except NotRepresentable:
            continue
        if choice is None:
            continue  # null is the null type, chosen beside the value
        options.append((text, text, text == row.value))
    if options and row.value and not any(selected for _t, _l, selected in options):
        options.append((row.value, f"{row.value} (not allowed by the plan)", True))
    return options


class KeyValueField(forms.Field):
    """A typed object (or list of name/text pairs) edited as rows or as JSON."""

    widget = KeyValueWidget

    def __init__(self, *, spec: EditorSpec, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.spec = spec
        self.widget.spec = spec

    def to_python(self, value: Any) -> Any:
        if isinstance(value, EditorState):
            try:
                result = state_value(self.spec, value)
            except EditorError as exc:
                raise forms.ValidationError(str(exc), code="invalid") from None
            if value.mode == ROWS and (missing := required_errors(value.rows)):
                raise forms.ValidationError(rows_need_fixing(self.spec, missing), code="required")
            return result
        if value in (None, ""):
            return [] if self.spec.pairs else {}
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:  # never used to skip validation
        return True


# --- The editors the call screens use -------------------------------------------------------

_TRAIT_NULL = "null unsets the trait: Segment removes it from the profile"

EDITORS: dict[str, EditorSpec] = {
    e.kind: e
    for e in (
        EditorSpec(
            "identify_traits",
            "Traits",
            "trait",
            spec.IDENTIFY_TRAITS,
            null_note=_TRAIT_NULL,
            help="What you know about the user. Leave a field empty to leave it as it is.",
        ),
        EditorSpec(
            "group_traits",
            "Traits",
            "trait",
            spec.GROUP_TRAITS,
            null_note=_TRAIT_NULL,
            help="What you know about the group. Leave a field empty to leave it as it is.",
        ),
        EditorSpec(
            "track_properties",
            "Properties",
            "property",
            spec.TRACK_PROPERTIES,
            null_note="null sends the property as null",
            help="Details of the event.",
        ),
        EditorSpec(
            "page_properties",
            "Properties",
            "property",
            spec.PAGE_PROPERTIES,
            null_note="null sends the property as null",
            help="Details of the page.",
        ),
        EditorSpec(
            "screen_properties",
            "Properties",
            "property",
            spec.SCREEN_PROPERTIES,
            null_note="null sends the property as null",
            help="Details of the screen.",
        ),
        EditorSpec(
            "context",
            "Context",
            "context field",
            null_note="null sends the field as null",
            help="Extra information about the call, e.g. ip, locale, or an object for app.",
        ),
        EditorSpec(
            "integrations",
            "Integrations",
            "destination",
            value_types=(BOOLEAN, OBJECT),
            null_note="",
            help="Turn destinations on or off by their exact name, e.g. All: false, "
            "Mixpanel: true.",
        ),
        EditorSpec(
            "headers",
            "Headers",
            "header",
            value_types=(TEXT,),
            null_note="",
            help="Authentication is added from the chosen credential.",
        ),
        EditorSpec(
            "query",
            "Query String",
            "parameter",
            value_types=(TEXT,),
            pairs=True,
            null_note="",
            help="Added to the URL, encoded for you. A name may repeat.",
        ),
    )
}
