"""A request past Django's limits on form data gets a page that says which limit, not a bare
"Bad Request" (and never a 500)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_form_larger_than_the_request_limit_is_a_clear_413(client, marketer, fake_segment):
    client.force_login(marketer)
    response = client.post("/calls/identify/", {"user_id": "u1", "traits__json": "x" * 3_000_000})
    assert response.status_code == 413
    page = response.content.decode()
    assert "The form sent was larger than 2.5 MB" in page
    assert "nothing was saved or sent" in page
    assert fake_segment.requests == []


def test_a_form_with_too_many_fields_is_a_clear_400(client, marketer):
    client.force_login(marketer)
    response = client.post("/calls/identify/", {f"field{i}": "1" for i in range(1_200)})
    assert response.status_code == 400
    assert "more than 1,000 fields" in response.content.decode()


def test_a_huge_form_sent_with_an_upload_is_a_clear_413(client, marketer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(marketer)
    response = client.post(
        "/bulk/",
        {"file": SimpleUploadedFile("u.csv", b"userId\nu1\n"), "note": "x" * 3_000_000},
    )
    assert response.status_code == 413


def test_too_many_ids_typed_into_a_privacy_request_are_told_to_come_as_a_file(client, admin_user):
    client.force_login(admin_user)
    ids = "\n".join(f"user-{n:032d}" for n in range(100_000))  # 3.8 MB typed
    response = client.post("/privacy/new/", {"ids": ids})
    assert response.status_code == 413
    page = response.content.decode()
    assert "The form sent was larger than 2.5 MB" in page
    assert "upload them as a file (“Or a file of IDs”)" in page
    assert "bulk import" not in page
