"""The upload limit holds while the body streams in: past SEGADMIN_BULK_MAX_BYTES nothing more
of the file is stored, and the page says why next to the file field."""

from __future__ import annotations

import pytest
from django.core.files import uploadhandler

from segadmin.bulk.models import BulkJob
from tests.bulk.conftest import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(monkeypatch):
    """Bytes of uploaded files that reached Django's storing handlers, and temp files opened."""
    seen = {"bytes": 0, "temp_files": 0}
    for handler in (
        uploadhandler.MemoryFileUploadHandler,
        uploadhandler.TemporaryFileUploadHandler,
    ):
        receive = handler.receive_data_chunk

        def counting(self, raw_data, start, receive=receive):
            seen["bytes"] += len(raw_data)
            return receive(self, raw_data, start)

        monkeypatch.setattr(handler, "receive_data_chunk", counting)
    new_file = uploadhandler.TemporaryFileUploadHandler.new_file

    def opening(self, *args, **kwargs):
        seen["temp_files"] += 1
        return new_file(self, *args, **kwargs)

    monkeypatch.setattr(uploadhandler.TemporaryFileUploadHandler, "new_file", opening)
    return seen


def test_a_file_the_request_size_shows_too_large_is_never_stored(
    client, marketer, source, settings, stored
):
    settings.SEGADMIN_BULK_MAX_BYTES = 1_000
    client.force_login(marketer)
    response = upload(client, b"userId\n" + b"u123456789\n" * 500_000, source=source)  # 5.5 MB
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert errors == {
        "file": [
            "The file is too large: one import takes at most 1,000 bytes. "
            "Split it into smaller files."
        ]
    }  # the source and the call arrived, only the file was skipped
    assert stored == {"bytes": 0, "temp_files": 0}
    assert BulkJob.objects.count() == 0


def test_a_file_is_stored_only_up_to_the_limit_as_it_streams_in(
    client, marketer, source, settings, stored
):
    settings.SEGADMIN_BULK_MAX_BYTES = 100_000
    client.force_login(marketer)
    response = upload(client, b"userId\n" + b"u123456789\n" * 30_000, source=source)  # 330 KB
    assert response.status_code == 422
    assert "one import takes at most 98 KB" in response.content.decode()
    assert 0 < stored["bytes"] <= 100_000
    assert BulkJob.objects.count() == 0


def test_a_file_within_the_limit_is_imported(client, marketer, source, settings, stored):
    settings.SEGADMIN_BULK_MAX_BYTES = 100_000
    client.force_login(marketer)
    content = b"userId\n" + b"u123456789\n" * 9_000  # 99 KB
    assert upload(client, content, source=source).status_code == 302
    assert stored["bytes"] == len(content)
    assert BulkJob.objects.get().total_rows == 9_000
