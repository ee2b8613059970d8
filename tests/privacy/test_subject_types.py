"""Subject types: the form offers User ID, Anonymous ID and Object ID, and Segment's rules for
each scope (segment-api-more.md §2.2) are checked before anything is saved, with the message
next to the field; the service refuses the same by any other path; each goes out as asked."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from segadmin.approvals.services import decide
from segadmin.credentials.models import Source
from segadmin.privacy import flow
from segadmin.privacy.models import PrivacyRequest
from segadmin.privacy.services import file_request
from tests.factories import login, make_source
from tests.privacy.conftest import actor_of, creates

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(workspace) -> Source:
    source = make_source("Site", "wk_site_0123456789", segment_source_id="src_1")
    Source.objects.filter(pk=source.pk).update(workspace=workspace)
    source.refresh_from_db()
    return source


def form(workspace, **changes):
    data = {
        "workspace": workspace.pk,
        "scope": "",
        "action": "SUPPRESS_WITH_DELETE",
        "subject_type": "USER_ID",
        "ids": "a1\na2\n",
        "reason": "Ticket #9",
    }
    data.update(changes)
    return data


def test_the_form_offers_the_three_subject_types_with_the_rules(fake, support, workspace):
    page = login(support).get(reverse("privacy:new")).content.decode()
    for value, label in (
        ("USER_ID", "User ID"),
        ("ANONYMOUS_ID", "Anonymous ID"),
        ("OBJECT_ID", "Object ID"),
    ):
        assert f'value="{value}"' in page and label in page
    assert "Delete from Segment&#x27;s archive only" in page
    assert "Anonymous IDs: for a source" in page


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"subject_type": "ANONYMOUS_ID"}, "subject_type", "taken for one source only"),
        (
            {"subject_type": "ANONYMOUS_ID", "scope": "SITE"},
            "subject_type",
            "only with “Delete from Segment's archive only”",
        ),
        ({"subject_type": "OBJECT_ID", "scope": "SITE"}, "subject_type", "whole workspace only"),
        ({"action": "DELETE_ARCHIVE_ONLY"}, "action", "is for one source"),
        ({"subject_type": "EMAIL"}, "subject_type", "Choose User ID, Anonymous ID or Object ID"),
        (
            {"subject_type": "OBJECT_ID", "purge_kept_files": "on"},
            "purge_kept_files",
            "Object IDs name no users",
        ),
    ],
)
def test_what_segment_refuses_is_refused_next_to_the_field(
    fake, support, workspace, site, changes, field, words
):
    if changes.get("scope") == "SITE":
        changes["scope"] = site.pk
    answer = login(support).post(reverse("privacy:new"), form(workspace, **changes))
    assert answer.status_code == 200
    assert words in " ".join(answer.context["form"].errors[field])
    assert 'class="invalid-feedback' in answer.content.decode()
    assert PrivacyRequest.objects.count() == 0


@pytest.mark.parametrize(
    ("source", "action", "subject"),
    [
        (False, "SUPPRESS_ONLY", "ANONYMOUS_ID"),
        (True, "SUPPRESS_ONLY", "ANONYMOUS_ID"),
        (True, "SUPPRESS_ONLY", "OBJECT_ID"),
        (False, "DELETE_ARCHIVE_ONLY", "USER_ID"),
    ],
)
def test_the_service_refuses_the_same_by_any_path(
    fake, support, workspace, site, source, action, subject
):
    with pytest.raises(ValueError):
        file_request(
            actor=actor_of(support),
            workspace=workspace,
            source=site if source else None,
            action=action,
            subject_type=subject,
            ids=["a1"],
            reason="x",
        )
    assert PrivacyRequest.objects.count() == 0


def test_anonymous_ids_of_a_source_are_deleted_from_its_archive(
    fake, support, admin_user, workspace, site
):
    answer = login(support).post(
        reverse("privacy:new"),
        form(workspace, scope=site.pk, action="DELETE_ARCHIVE_ONLY", subject_type="ANONYMOUS_ID"),
    )
    request = PrivacyRequest.objects.get()
    assert answer.status_code == 302 and request.subject_type == "ANONYMOUS_ID"
    page = login(support).get(reverse("privacy:detail", args=[request.pk])).content.decode()
    assert "identifier_type=anonymous_id&amp;identifier=a1" in page
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")

    flow.on_approved(request.approval, actor_of(admin_user))
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.SENT
    [create] = creates(fake)
    assert create.path == "/regulations/sources/src_1"
    assert json.loads(create.body) == {
        "regulationType": "DELETE_ARCHIVE_ONLY",
        "subjectType": "ANONYMOUS_ID",
        "subjectIds": ["a1", "a2"],
    }


def test_object_ids_go_to_the_workspace_route(fake, support, admin_user, workspace):
    answer = login(support).post(
        reverse("privacy:new"), form(workspace, subject_type="OBJECT_ID", action="SUPPRESS_ONLY")
    )
    request = PrivacyRequest.objects.get()
    assert answer.status_code == 302
    page = login(support).get(reverse("privacy:detail", args=[request.pk])).content.decode()
    assert "Object ID" in page and "identifier=a1" not in page  # objects are not people
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")

    flow.on_approved(request.approval, actor_of(admin_user))
    [create] = creates(fake)
    assert create.path == "/regulations" and create.status == 200
    assert json.loads(create.body)["subjectType"] == "OBJECT_ID"
