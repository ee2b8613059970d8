"""Every form that offers a source or a workspace labels it "name (Region)", the same way."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from segadmin.bulk.forms import UploadForm
from segadmin.calls.forms import ApiCallForm
from segadmin.credentials.forms import SourceForm
from segadmin.credentials.models import Source, Workspace
from segadmin.lookup.views import LookupForm
from tests.factories import make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def eu_workspace() -> Workspace:
    workspace = Workspace(name="Acme EU", region="eu", profiles_space_id="spa_eu")
    workspace.set_public_api_token("sgp_CHOICEStestTokenAbCdEfGhIjKlMn")
    workspace.set_profiles_token("pt_CHOICEStestProfilesAbCdEf")
    workspace.save()
    return workspace


@pytest.fixture
def eu_source(eu_workspace: Workspace) -> Source:
    return make_source(
        "Shop", "wk_CHOICEStestAbCdEfGhIjKlMnOpQr", region="eu", workspace=eu_workspace
    )


def labels(field: Any) -> list[str]:
    return [str(label) for value, label in field.choices if value]


def test_every_source_choice_reads_name_and_region(eu_source: Source, marketer: User) -> None:
    assert labels(ApiCallForm().fields["source"]) == ["Shop (EU)"]
    assert labels(UploadForm(user=marketer).fields["source"]) == ["Shop (EU)"]


def test_every_workspace_choice_reads_name_and_region(eu_workspace: Workspace) -> None:
    assert labels(ApiCallForm().fields["workspace"]) == ["Acme EU (EU)"]
    assert labels(LookupForm().fields["workspace"]) == ["Acme EU (EU)"]


def test_source_form_offers_workspaces_with_their_region(eu_workspace: Workspace) -> None:
    # A source must share its workspace's region: the choice says which that is.
    assert labels(SourceForm().fields["workspace"]) == ["Acme EU (EU)"]
