"""Bulk imports to a source with a tracking plan (issue 13): the mapping page proposes mapping
each column named like a planned property or trait (exactly, then ignoring case and
separators) to that name, of the planned type, and names the required planned properties no
column maps to."""

from __future__ import annotations

from typing import Any

import pytest

from segadmin.bulk import parsing
from segadmin.bulk.models import BulkJob, Status
from segadmin.bulk.plan import FIELD, planned_fields, propose_mapping
from segadmin.credentials.models import Source, TrackingPlanRule
from segadmin.segment import plans
from tests.bulk.conftest import csv_text, mapping_post, upload
from tests.tracking_plans import PLAN_NAME, connect

REQUIRED_ORDER_ID = f"order_id is required by the tracking plan “{PLAN_NAME}”; no column maps to it"


def uploaded(client: Any, user: Any, source: Source, header: list[str], rows: list[list[Any]]):
    client.force_login(user)
    response = upload(client, csv_text(header, rows), call_type="track", source=source)
    assert response.status_code == 302
    return BulkJob.objects.get()


def by_column(job: BulkJob) -> dict[str, dict[str, Any]]:
    return {item["column"]: item for item in job.mapping}


@pytest.mark.django_db
def test_columns_named_like_planned_properties_are_proposed_as_them_with_the_planned_type(
    client, marketer, source
):
    connect(source)
    job = uploaded(
        client,
        marketer,
        source,
        ["userId", "event", "Order ID", "Total", "coupon"],
        [["u1", "Order Completed", "1001", "12", "X"], ["u2", "Order Completed", "1002", "5", ""]],
    )
    mapping = by_column(job)
    # "1001" looks like a number, but the plan types order_id as text.
    assert mapping["Order ID"] == {
        "column": "Order ID",
        "target": FIELD,
        "type": parsing.TEXT,
        "empty_null": False,
        "property": "order_id",
    }
    assert (mapping["Total"]["property"], mapping["Total"]["type"]) == ("total", parsing.NUMBER)
    assert "property" not in mapping["coupon"]
    assert job.planned["event"] == "Order Completed"
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert 'value="order_id"' in page and 'value="total"' in page
    assert 'data-testid="unmapped-required"' not in page


@pytest.mark.django_db
def test_a_required_planned_property_no_column_maps_to_is_named_on_the_mapping_page(
    client, marketer, source
):
    connect(source)
    header, rows = ["userId", "event", "totalAmount"], [["u1", "Order Completed", "3"]]
    job = uploaded(client, marketer, source, header, rows)
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert REQUIRED_ORDER_ID in page
    assert "total is required" in page  # "totalAmount" is not "total"


@pytest.mark.django_db
def test_the_required_note_goes_once_the_person_maps_a_column_to_the_name(client, marketer, source):
    connect(source)
    job = uploaded(
        client,
        marketer,
        source,
        ["userId", "event", "ref", "total"],
        [["u1", "Order Completed", "o-1", "3"]],
    )
    assert REQUIRED_ORDER_ID in client.get(f"/bulk/{job.pk}/").content.decode()
    response = client.post(
        f"/bulk/{job.pk}/", mapping_post(job, action="dry_run", property_2="order_id")
    )
    assert response.status_code == 200
    assert REQUIRED_ORDER_ID not in response.content.decode()
    job.refresh_from_db()
    assert by_column(job)["ref"]["property"] == "order_id"
    assert (job.dry_run["valid"], job.dry_run["invalid"]) == (1, 0)


@pytest.mark.django_db
def test_a_column_mapped_to_a_planned_name_is_sent_under_that_name_and_named_in_problems(
    client, marketer, source, fake_segment, immediate_tasks
):
    connect(source, enforcement="block")
    job = uploaded(
        client,
        marketer,
        source,
        ["userId", "event", "orderId", "Total"],
        [["u1", "Order Completed", "o-1", "12"], ["u2", "Order Completed", "o-2", "many"]],
    )
    response = client.post(f"/bulk/{job.pk}/", mapping_post(job, action="dry_run"))
    job.refresh_from_db()
    assert (job.dry_run["valid"], job.dry_run["invalid"]) == (1, 1)
    # The cell is refused, and so the plan's "total" is missing: both named by the column.
    assert {(row, column) for row, column, _ in job.dry_run["errors"]} == {(3, "Total")}  # u2's row
    assert response.status_code == 200
    assert client.post(f"/bulk/{job.pk}/", mapping_post(job, action="start")).status_code == 302
    job.refresh_from_db()
    assert (job.status, job.sent, job.invalid, job.failed) == (Status.DONE, 1, 1, 0)
    [message] = fake_segment.messages("/v1/batch")
    assert message["properties"] == {"order_id": "o-1", "total": 12}


@pytest.mark.django_db
def test_rows_of_several_events_are_proposed_every_planned_events_properties_none_required(
    client, marketer, source
):
    connect(source)
    job = uploaded(
        client,
        marketer,
        source,
        ["userId", "event", "ORDER_ID"],
        [["u1", "Order Completed", "o-1"], ["u2", "Signed Up", "o-2"]],
    )
    assert by_column(job)["ORDER_ID"]["property"] == "order_id"
    assert job.planned["event"] == ""
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert 'data-testid="unmapped-required"' not in page


@pytest.mark.django_db
def test_without_a_plan_columns_keep_their_own_names(client, marketer, source):
    job = uploaded(
        client, marketer, source, ["userId", "event", "Order ID"], [["u1", "Order Completed", "1"]]
    )
    assert "property" not in by_column(job)["Order ID"]
    assert job.planned == {}
    assert 'data-testid="planned-note"' not in client.get(f"/bulk/{job.pk}/").content.decode()


@pytest.mark.django_db
def test_an_identify_import_is_proposed_the_planned_traits_typed_from_the_schema(
    client, marketer, source
):
    plan = connect(source)
    TrackingPlanRule.objects.create(
        plan=plan,
        rule_type="IDENTIFY",
        key="",
        version=1,
        json_schema={
            "type": "object",
            "properties": {
                "traits": {
                    "type": "object",
                    "required": ["email"],
                    "properties": {
                        "email": {"type": "string"},
                        "signed_up_at": {"type": "string", "format": "date-time"},
                        "vip": {"type": ["boolean", "null"]},
                    },
                }
            },
        },
    )
    plan.revision += 1
    plan.save()
    client.force_login(marketer)
    content = csv_text(["userId", "Signed Up At", "VIP"], [["u1", "yesterday", "yes"]])
    assert upload(client, content, call_type="identify", source=source).status_code == 302
    job = BulkJob.objects.get()
    mapping = by_column(job)
    assert (mapping["Signed Up At"]["property"], mapping["Signed Up At"]["type"]) == (
        "signed_up_at",
        parsing.DATETIME,
    )
    assert (mapping["VIP"]["property"], mapping["VIP"]["type"]) == ("vip", parsing.BOOLEAN)
    page = client.get(f"/bulk/{job.pk}/").content.decode()
    assert f"email is required by the tracking plan “{PLAN_NAME}”; no column maps to it" in page


def test_an_exact_name_wins_over_a_loose_match_and_each_name_goes_to_one_column():
    planned = {"order_id": {"type": "text", "required": True}}
    mapping = propose_mapping("track", ["Order ID", "order_id", "orderId"], {}, planned)
    assert [item.get("property") for item in mapping] == [None, "order_id", None]


def test_a_loose_match_shared_by_two_planned_names_is_not_guessed():
    planned = {"order_id": {"type": "text"}, "OrderId": {"type": "text"}}
    mapping = propose_mapping("track", ["ORDER-ID"], {}, planned)
    assert "property" not in mapping[0]


def test_a_property_the_schema_allows_several_types_keeps_the_type_the_data_suggests():
    plan = plans.Plan.from_api(
        {"name": "P"},
        [
            {
                "type": "TRACK",
                "key": "E",
                "version": 1,
                "jsonSchema": {
                    "properties": {
                        "properties": {"properties": {"amount": {"type": ["number", "string"]}}}
                    }
                },
            }
        ],
    )
    event, fields = planned_fields(plan, "track", ["E", "E"])
    assert (event, fields) == ("E", {"amount": {"type": None, "required": False}})
    mapping = propose_mapping("track", ["Amount"], {"Amount": parsing.NUMBER}, fields)
    assert (mapping[0]["property"], mapping[0]["type"]) == ("amount", parsing.NUMBER)
