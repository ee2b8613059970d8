"""Plan-driven forms: a source connected to a tracking plan offers its events and planned names."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from segadmin.calls import editors
from segadmin.calls.planned import planned_for
from segadmin.credentials.models import Source, TrackingPlan, Workspace
from tests.calls.conftest import errors_of, form_data, preview_body, rows_data
from tests.calls.plan_fixtures import connect, shop_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(workspace: Workspace) -> TrackingPlan:
    return shop_plan(workspace)


@pytest.fixture
def connected(source: Source, plan: TrackingPlan) -> Source:
    return connect(source, plan)


def element(html: str, attribute: str) -> str:
    """The outer HTML of the first element carrying ``attribute`` (e.g.
    'data-planned="order_id"'), nested tags included."""
    start = html.find(attribute)
    assert start >= 0, f"nothing on the page has {attribute}"
    start = html.rfind("<", 0, start)
    tag = re.match(r"<(\w+)", html[start:]).group(1)  # type: ignore[union-attr]
    if tag == "input":  # a void element: the tag is the whole element
        return html[start : html.index(">", start) + 1]
    depth = 0
    for match in re.finditer(rf"<(/?){tag}\b[^>]*>", html[start:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return html[start : start + match.end()]
    raise AssertionError(f"unclosed <{tag}>")


def options(html: str) -> list[str]:
    return [unescape(v) for v in re.findall(r'<option value="([^"]*)"', html)]


def selected_type(row: str) -> str:
    select = element(row, 'class="form-select form-select-sm kv-type"')
    return re.search(r'<option value="(\w+)" selected', select).group(1)  # type: ignore[union-attr]


def type_options(row: str) -> list[str]:
    return options(element(row, 'class="form-select form-select-sm kv-type"'))


def redraw(client: Client, call: str, **params: Any) -> str:
    response = client.get(f"/calls/plan/{call}/editor/", params)
    assert response.status_code == 200
    return response.content.decode()


# --- Event Name -------------------------------------------------------------------------------


def test_track_offers_the_plans_events_for_a_connected_source(
    marketer_client: Client, connected: Source
) -> None:
    html = marketer_client.get(f"/calls/track/?source={connected.pk}").content.decode()
    event = element(html, 'name="event"')
    assert event.startswith("<select")
    assert 'data-searchable-select="event"' in event  # a tom-select searchable list
    assert options(event) == ["", "Order Completed", "Product Viewed"]
    assert "this source accepts no other" in html
    assert "<datalist" not in html


@pytest.mark.parametrize("unplanned", ["warn", "allow"])
def test_event_name_takes_free_text_beside_the_plans_events_when_unplanned_events_are_not_blocked(
    marketer_client: Client, connected: Source, unplanned: str
) -> None:
    connect(connected, connected.tracking_plan, unplanned_events=unplanned)
    html = marketer_client.get(f"/calls/track/?source={connected.pk}").content.decode()
    event = element(html, 'name="event"')
    assert event.startswith('<input type="text"')
    assert 'list="id_event_options"' in event
    assert options(element(html, 'id="id_event_options"')) == ["Order Completed", "Product Viewed"]
    assert "or type another" in html


def test_a_source_without_a_plan_offers_no_events_and_no_planned_rows(
    marketer_client: Client, source: Source, plan: TrackingPlan
) -> None:
    html = marketer_client.get(f"/calls/track/?source={source.pk}").content.decode()
    assert element(html, 'name="event"').startswith('<input type="text"')
    assert "hx-get" not in element(html, 'name="event"')
    assert "<datalist" not in html
    assert "data-planned" not in html
    assert "Planned by the tracking plan" not in html
    assert "properties__planned" not in html
    # Changing to it from another source without a plan redraws nothing (htmx swaps no 204).
    redrawn = marketer_client.get(
        "/calls/plan/track/editor/", {"source": source.pk, "event": "Order Completed"}
    )
    assert redrawn.status_code == 204


def test_an_event_given_outside_the_plan_stays_visible_in_the_list(
    marketer_client: Client, connected: Source
) -> None:
    response = marketer_client.post(
        "/calls/track/", form_data(connected, user_id="u-1", event="Order Complete")
    )
    event = element(response.content.decode(), 'name="event"')
    assert "Order Complete (not in the plan)" in event
    assert re.search(r'<option value="Order Complete" selected', event)


# --- The property editor ---------------------------------------------------------------------


def test_choosing_an_event_fills_the_editor_with_its_planned_properties(
    marketer_client: Client, connected: Source
) -> None:
    html = redraw(marketer_client, "track", source=connected.pk, event="Order Completed")
    assert "Planned by the tracking plan “Shop plan”" in html
    planned = re.findall(r'data-planned="([^"]+)"', element(html, 'data-testid="planned-rows"'))
    # Required first, then by name; Currency is Segment's reserved field, planned.
    assert planned == [
        "order_id",
        "total",
        "coupon",
        "currency",
        "gift",
        "placed_at",
        "products",
        "quantity",
        "shipping",
        "size",
    ]
    types = {
        name: type_options(element(html, f'data-planned="{name}"'))
        for name in ("order_id", "total", "coupon", "placed_at", "gift", "products", "shipping")
    }
    assert types == {
        "order_id": ["text"],
        "total": ["number"],
        "coupon": ["text", "null"],
        "placed_at": ["datetime"],
        "gift": ["boolean"],
        "products": ["list"],
        "shipping": ["object"],
    }
    assert type_options(element(html, 'data-planned="quantity"')) == ["number"]


def test_required_planned_properties_are_marked_and_described(
    marketer_client: Client, connected: Source
) -> None:
    html = redraw(marketer_client, "track", source=connected.pk, event="Order Completed")
    order_id = element(html, 'data-planned="order_id"')
    assert 'data-testid="required-badge">required</span>' in order_id
    assert 'aria-required="true"' in order_id
    assert "The order&#x27;s ID in the shop" in order_id
    assert 'aria-describedby="id_properties__' in order_id
    coupon = element(html, 'data-planned="coupon"')
    assert "required" not in coupon
    assert "aria-required" not in coupon


def test_a_planned_enum_is_offered_as_a_choice(marketer_client: Client, connected: Source) -> None:
    html = redraw(marketer_client, "track", source=connected.pk, event="Order Completed")
    size = element(html, 'data-planned="size"')
    value = element(size, 'name="properties__value"')
    assert value.startswith("<select")
    assert options(value) == ["", "S", "M", "L"]


def test_a_planned_reserved_field_keeps_its_own_input_and_is_listed_with_the_plan(
    marketer_client: Client, connected: Source
) -> None:
    html = redraw(marketer_client, "track", source=connected.pk, event="Order Completed")
    currency = element(html, 'data-planned="currency"')
    assert 'name="properties__kind" value="r"' in currency
    assert "Paid in" in currency  # the plan's description
    pool = element(html, 'class="kv-pool mt-2"')  # the reserved fields "Add a property" offers
    assert 'value="currency"' not in pool  # not listed twice
    assert 'value="revenue"' in pool


def test_a_planned_reserved_field_with_an_enum_offers_only_the_plans_values(
    marketer_client: Client, connected: Source
) -> None:
    # The plan allows USD and EUR: offering the 180 ISO codes would invite a refusal.
    html = redraw(marketer_client, "track", source=connected.pk, event="Order Completed")
    currency = element(html, 'data-planned="currency"')
    assert options(element(currency, 'name="properties__value"')) == ["", "USD", "EUR"]

    # Without a plan, the reserved field keeps its picker of every currency.
    html = marketer_client.get("/calls/track/").content.decode()
    assert '<option value="XAU">XAU · Gold</option>' in html


def test_a_stale_plan_is_named_stale_where_its_rows_are_offered(
    marketer_client: Client, connected: Source, plan: TrackingPlan
) -> None:
    plan.imported_at = timezone.now() - timedelta(hours=23)
    plan.save()
    html = redraw(marketer_client, "track", source=connected.pk, event="Order Completed")
    assert 'data-testid="planned-stale"' not in html

    plan.imported_at = timezone.now() - timedelta(hours=25)
    plan.save()
    html = redraw(marketer_client, "track", source=connected.pk, event="Order Completed")
    note = element(html, 'data-testid="planned-stale"')
    assert "more than 24 hours ago" in note
    assert "An Admin can refresh it" in note


def test_values_typed_for_the_same_names_are_kept_when_the_event_changes(
    marketer_client: Client, connected: Source
) -> None:
    typed = rows_data(
        "properties",
        custom=[
            ("order_id", "text", "o-1"),
            ("total", "number", "12.5"),
            ("note", "text", "kept"),
        ],
    )
    typed["properties__kind"][1] = "p"  # total: a planned row of Order Completed
    typed["properties__kind"][0] = "p"
    html = redraw(marketer_client, "track", source=connected.pk, event="Product Viewed", **typed)
    order_id = element(html, 'data-planned="order_id"')
    assert 'value="o-1"' in order_id
    assert selected_type(order_id) == "text"
    assert 'data-planned="product_id"' in html
    # total is not planned for Product Viewed: kept, as a custom row, with its type.
    custom = element(html, 'id="id_properties__rows"')
    assert 'value="total"' in custom and 'value="12.5"' in custom
    assert 'value="note"' in custom and 'value="kept"' in custom


def test_an_empty_planned_row_of_the_event_before_is_dropped(
    marketer_client: Client, connected: Source
) -> None:
    typed = rows_data("properties", custom=[("gift", "boolean", ""), ("coupon", "text", "")])
    typed["properties__kind"] = ["p", "p"]
    html = redraw(marketer_client, "track", source=connected.pk, event="Product Viewed", **typed)
    assert 'value="gift"' not in html
    assert 'value="coupon"' not in html


def test_a_value_of_another_type_is_kept_as_text_under_the_planned_type(
    marketer_client: Client, connected: Source
) -> None:
    typed = rows_data("properties", custom=[("total", "text", "19")])
    html = redraw(marketer_client, "track", source=connected.pk, event="Order Completed", **typed)
    total = element(html, 'data-planned="total"')
    assert 'value="19"' in total
    assert selected_type(total) == "number"


def test_changing_the_source_brings_its_events_along(
    marketer_client: Client, connected: Source
) -> None:
    html = redraw(marketer_client, "track", source=connected.pk, event="", changed="source")
    fields = element(html, 'id="call-fields"')
    assert 'hx-swap-oob="true"' in fields
    assert options(element(fields, 'name="event"')) == ["", "Order Completed", "Product Viewed"]
    # Without a plan the event is plain text again (the editor drawn with a plan says so).
    html = redraw(marketer_client, "track", source="", changed="source", properties__planned="1")
    assert element(element(html, 'id="call-fields"'), 'name="event"').startswith("<input")


def test_the_redrawn_editor_shows_no_messages_before_anything_is_submitted(
    marketer_client: Client, connected: Source
) -> None:
    html = redraw(marketer_client, "track", source=connected.pk, event="Order Completed")
    assert "is required by the tracking plan" not in html
    assert "kv-invalid" not in html


def test_the_source_and_event_fields_ask_for_the_redraw(
    marketer_client: Client, connected: Source
) -> None:
    html = marketer_client.get(f"/calls/track/?source={connected.pk}").content.decode()
    source = element(html, 'name="source"')
    assert 'hx-get="/calls/plan/track/editor/"' in source
    assert 'hx-target="#id_properties"' in source
    assert 'hx-get="/calls/plan/track/editor/"' in element(html, 'name="event"')
    # Until the redraw is in, what would be lost by it cannot be typed.
    assert 'hx-disabled-elt="#id_properties input, #id_properties select' in source


# --- Identify and Group ------------------------------------------------------------------------


def test_identify_lists_the_planned_traits_first(
    marketer_client: Client, connected: Source
) -> None:
    html = marketer_client.get(f"/calls/identify/?source={connected.pk}").content.decode()
    planned = element(html, 'data-testid="planned-rows"')
    # plan_tier is required, so first; then by name.
    assert re.findall(r'data-planned="([^"]+)"', planned) == ["plan_tier", "email", "seats"]
    assert html.index('data-testid="planned-rows"') < html.index("Reserved by Segment")
    tier = element(html, 'data-planned="plan_tier"')
    assert 'data-testid="required-badge"' in tier
    assert options(element(tier, 'name="traits__value"')) == ["", "free", "pro"]
    assert type_options(element(html, 'data-planned="seats"')) == ["number"]
    # email is Segment's reserved trait: its own email input, described by the plan.
    email = element(html, 'data-planned="email"')
    assert 'type="email"' in email and "Where we write to" in email


def test_group_lists_the_planned_traits_first(marketer_client: Client, connected: Source) -> None:
    html = redraw(marketer_client, "group", source=connected.pk)
    account = element(html, 'data-planned="account_type"')
    assert 'data-testid="required-badge"' in account
    assert "Kind of account" in account


def test_support_may_redraw_identify_but_not_track(
    support_client: Client, connected: Source
) -> None:
    asked = {"source": connected.pk}
    assert support_client.get("/calls/plan/identify/editor/", asked).status_code == 200
    assert support_client.get("/calls/plan/track/editor/", asked).status_code == 403
    assert support_client.get("/calls/plan/group/editor/", asked).status_code == 403
    assert support_client.get("/calls/plan/page/editor/", asked).status_code == 404


# --- Sending what the planned rows hold --------------------------------------------------------


def test_planned_rows_are_sent_with_their_types(marketer_client: Client, connected: Source) -> None:
    data = form_data(connected, user_id="u-1", event="Order Completed")
    data.update(
        rows_data(
            "properties",
            custom=[
                ("order_id", "text", "o-1"),
                ("total", "number", "19.99"),
                ("gift", "boolean", "true"),
                ("size", "text", "M"),
                ("coupon", "null", ""),
                ("quantity", "number", ""),
            ],
        )
    )
    data["properties__kind"] = ["p"] * 6
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 200, errors_of(response)
    assert preview_body(response)["properties"] == {
        "order_id": "o-1",
        "total": 19.99,
        "gift": True,
        "size": "M",
        "coupon": None,
    }


def test_a_required_planned_property_left_empty_is_refused_next_to_its_row(
    marketer_client: Client, connected: Source, fake_segment: Any
) -> None:
    data = form_data(connected, user_id="u-1", event="Order Completed", action="send")
    rows = [("order_id", "text", ""), ("total", "number", "5")]
    data.update(rows_data("properties", custom=rows))
    data["properties__kind"] = ["p", "p"]
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 422
    assert errors_of(response)["properties"] == [
        "1 property row needs fixing: see the message under each."
    ]
    order_id = element(response.content.decode(), 'data-planned="order_id"')
    assert "order_id is required by the tracking plan “Shop plan”" in order_id
    assert 'role="alert"' in order_id
    assert fake_segment.requests == []


def test_under_warn_a_required_planned_property_is_marked_but_not_refused_by_the_form(
    marketer_client: Client, connected: Source
) -> None:
    connect(connected, connected.tracking_plan, plan_enforcement="warn")
    data = form_data(connected, user_id="u-1", event="Order Completed")
    data.update(rows_data("properties", custom=[("order_id", "text", "")]))
    data["properties__kind"] = ["p"]
    response = marketer_client.post("/calls/track/", data)
    assert "properties" not in errors_of(response)
    assert 'data-testid="required-badge"' in element(
        response.content.decode(), 'data-planned="order_id"'
    )


def test_json_mode_works_as_before_with_a_plan(marketer_client: Client, connected: Source) -> None:
    data = form_data(
        connected,
        user_id="u-1",
        event="Order Completed",
        properties={"order_id": "o-9", "total": 3, "extra": [1]},
    )
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 200, errors_of(response)
    assert preview_body(response)["properties"] == {"order_id": "o-9", "total": 3, "extra": [1]}
    html = response.content.decode()
    assert 'id="id_properties__json"' in html
    assert "plans <code>order_id</code> (required), <code>total</code> (required)" in html


def test_switching_a_planned_editor_to_json_and_back_keeps_its_rows(
    marketer_client: Client, connected: Source
) -> None:
    data = rows_data("properties", custom=[("order_id", "text", "o-1"), ("total", "number", "")])
    data["properties__kind"] = ["p", "p"]
    base = {"editor": "properties", "source": connected.pk, "event": "Order Completed"}
    response = marketer_client.post(
        "/calls/editor/track_properties/switch/", {**base, **data, "to": "json"}
    )
    assert '"order_id": "o-1"' in unescape(response.content.decode())
    back = marketer_client.post(
        "/calls/editor/track_properties/switch/",
        {
            **base,
            "to": "rows",
            "properties__mode": "json",
            "properties__json": '{"order_id": "o-1"}',
        },
    ).content.decode()
    order_id = element(back, 'data-planned="order_id"')
    assert 'name="properties__kind" value="p"' in order_id and 'value="o-1"' in order_id
    assert 'data-planned="total"' in back


# --- What a plan's schema makes of a row ------------------------------------------------------


def test_an_untyped_planned_property_may_take_any_type(
    connected: Source, plan: TrackingPlan
) -> None:
    rule = plan.rules.get(key="Product Viewed")
    rule.json_schema["properties"]["properties"]["properties"]["anything"] = {}
    rule.save()
    planned = planned_for(Source.objects.get(pk=connected.pk), "track", "Product Viewed")
    assert planned is not None
    (anything,) = [f for f in planned.fields if f.name == "anything"]
    assert anything.types == editors.VALUE_TYPES


def test_a_plan_for_another_event_name_case_plans_nothing(connected: Source) -> None:
    planned = planned_for(connected, "track", "order completed")
    assert planned is not None
    assert planned.event == "" and planned.fields == ()


@pytest.mark.parametrize(
    "schema",
    [
        None,
        ["not", "a", "schema"],
        {"properties": {"properties": "text"}},
        {"properties": {"properties": {"properties": {"odd": 5}, "required": [{"a": 1}]}}},
        {"properties": {"properties": {"properties": {"t": {"type": 7, "enum": "x"}}}}},
    ],
)
def test_a_malformed_rule_plans_what_it_can_and_never_breaks_the_screen(
    marketer_client: Client, connected: Source, plan: TrackingPlan, schema: Any
) -> None:
    plan.rules.filter(key="Order Completed").update(json_schema=schema)
    html = redraw(marketer_client, "track", source=connected.pk, event="Order Completed")
    assert 'id="id_properties"' in html
    page = marketer_client.get(f"/calls/track/?source={connected.pk}")
    assert page.status_code == 200


def test_a_rules_problem_inside_a_planned_object_is_shown_under_its_row(
    marketer_client: Client, connected: Source
) -> None:
    data = form_data(connected, user_id="u-1", event="Order Completed")
    rows = [
        ("order_id", "text", "o-1"),
        ("total", "number", "1"),
        ("shipping", "object", '{"at": "2024-02-30"}'),
    ]
    data.update(rows_data("properties", custom=rows))
    data["properties__kind"] = ["p", "p", "p"]
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 422
    shipping = element(response.content.decode(), 'data-planned="shipping"')
    assert "kv-error" in shipping
