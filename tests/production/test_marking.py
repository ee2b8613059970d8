"""Production sources (issue 16): marked by an Admin on the source form (audited), shown as a
badge in the Sources list and in every Source list, proposed when imported from Segment."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.credentials import production
from segadmin.credentials.fields import SourceChoiceField
from segadmin.credentials.models import Source, Workspace
from tests.conftest import TOKEN
from tests.credentials.conftest import WRITE_KEY, PublicApi, credential_events
from tests.factories import make_source

pytestmark = pytest.mark.django_db


def test_an_admin_marks_a_source_production_and_the_change_is_audited(
    admin_client: Client,
) -> None:
    source = make_source("Web", WRITE_KEY)
    response = admin_client.post(
        reverse("credentials:source_edit", args=[source.pk]),
        {"name": "Web", "region": "us", "enabled": "on", "production": "on"},
    )
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.production is True
    [event] = credential_events("credential.changed")
    assert event.details_data == {"changed": ["Production"]}


def test_adding_a_production_source_records_it(admin_client: Client) -> None:
    admin_client.post(
        reverse("credentials:source_add"),
        {
            "name": "Live",
            "region": "us",
            "write_key": WRITE_KEY,
            "enabled": "on",
            "production": "on",
        },
    )
    assert Source.objects.get().production is True
    [event] = credential_events("credential.created")
    assert event.details_data["production"] is True


def test_the_source_form_offers_production(admin_client: Client) -> None:
    response = admin_client.get(reverse("credentials:source_add"))
    assert 'name="production"' in response.text
    assert "asks for a confirmation naming it" in response.text


def test_the_sources_list_shows_a_production_badge_in_words(admin_client: Client) -> None:
    make_source("Live site", WRITE_KEY, production=True)
    make_source("Staging", WRITE_KEY)
    response = admin_client.get(reverse("credentials:source_list"))
    rows = response.text.split("<tr>")
    live = next(row for row in rows if "Live site" in row)
    staging = next(row for row in rows if "Staging" in row)
    assert 'data-testid="production-badge">Production</span>' in live
    assert "production-badge" not in staging


def test_the_source_list_of_a_send_form_names_production_sources() -> None:
    live = make_source("Live site", WRITE_KEY, production=True)
    staging = make_source("Staging", WRITE_KEY)
    field = SourceChoiceField()
    assert field.label_from_instance(live) == "Live site (US) — Production"
    assert field.label_from_instance(staging) == "Staging (US)"


@pytest.mark.parametrize(
    ("texts", "labels", "expected"),
    [
        (("Web prod",), {}, True),
        (("web-production",), {}, True),
        (("Production site",), {}, True),
        (("prod_eu",), {}, True),
        (("Product catalog",), {}, False),
        (("reproduce",), {}, False),
        (("Staging",), {"environment": "prod"}, True),
        (("Staging",), {"env": "Production"}, True),
        (("Staging",), {"production": "true"}, True),
        (("Staging",), {"environment": "staging"}, False),
        (("Web",), {}, False),
    ],
)
def test_what_says_production(
    texts: tuple[str, ...], labels: dict[str, str], expected: bool
) -> None:
    assert production.says_production(*texts, labels=labels) is expected


def _import_url(workspace: Workspace) -> str:
    return reverse("credentials:workspace_import", args=[workspace.pk])


@pytest.fixture
def listed(public_api: PublicApi) -> PublicApi:
    public_api.add_sources([1, 2])  # labelled environment: prod
    public_api.fake.add_source(
        id="src010",
        slug="web-staging",
        name="Web staging",
        token=TOKEN,
        write_keys=["writekey010ABCDEFGHIJKLMNOP"],
        enabled=True,
        labels={"environment": "staging"},
    )
    public_api.fake.add_source(
        id="src011",
        slug="web-prod",
        name="Web prod",
        token=TOKEN,
        write_keys=["writekey011ABCDEFGHIJKLMNOP"],
        enabled=True,
        labels={},
    )
    return public_api


def test_import_proposes_sources_whose_name_or_labels_say_production(
    admin_client: Client, workspace: Workspace, listed: PublicApi
) -> None:
    response = admin_client.post(_import_url(workspace), {"action": "list"})
    html = response.text
    for source_id in ("src001", "src002", "src011"):
        assert f'name="production_ids" value="{source_id}" id=' in html
        box = html.split(f'name="production_ids" value="{source_id}"')[1].split(">")[0]
        assert " checked" in box, source_id
    staging = html.split('name="production_ids" value="src010"')[1].split(">")[0]
    assert " checked" not in staging
    assert "Proposed: its labels say production." in html
    assert "Proposed: its name says production." in html


def test_import_marks_the_ticked_sources_production_and_the_admin_can_untick(
    admin_client: Client, workspace: Workspace, listed: PublicApi
) -> None:
    admin_client.post(
        _import_url(workspace),
        {
            "action": "import",
            "source_ids": ["src001", "src010", "src011"],
            # The Admin unticked src001 (proposed) and ticked src010 (not proposed).
            "production_ids": ["src010", "src011"],
        },
    )
    marked = dict(Source.objects.values_list("segment_source_id", "production"))
    assert marked == {"src001": False, "src010": True, "src011": True}
    events = {e.target_name: e.details_data for e in credential_events("credential.imported")}
    assert events["Web prod"]["production"] is True
    assert events["Site 1"]["production"] is False


def test_a_production_box_for_a_source_not_chosen_imports_nothing(
    admin_client: Client, workspace: Workspace, listed: PublicApi
) -> None:
    admin_client.post(
        _import_url(workspace),
        {"action": "import", "source_ids": ["src010"], "production_ids": ["src011"]},
    )
    assert list(Source.objects.values_list("segment_source_id", "production")) == [
        ("src010", False)
    ]
