"""The upload size limit, enforced while the body streams in.

Django's own handlers store an upload (in memory, then in a temporary file) before any view can
look at its size; this one comes first (``FILE_UPLOAD_HANDLERS``) and skips the file as soon as
more than ``SEGADMIN_BULK_MAX_BYTES`` of it have arrived, or at once when the request's
Content-Length already says so. A skipped file is never handed on, so at most the limit is ever
stored. The rest of the form is still read, so the page can say what happened next to the file
field (``refusal``). Bulk imports are the only uploads segadmin takes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest

from segadmin.bulk.parsing import _size

_REFUSED = "_segadmin_upload_refused"
# Room for the form's other fields and the multipart headers around the file.
_FORM_ALLOWANCE = 64 * 1024


def refusal(request: HttpRequest) -> str:
    """Why an uploaded file of this request was skipped, or ""."""
    return getattr(request, _REFUSED, "")


class SizeLimitUploadHandler(FileUploadHandler):
    """Skips every file of a request once their bytes pass ``SEGADMIN_BULK_MAX_BYTES``."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit: int = settings.SEGADMIN_BULK_MAX_BYTES
        self.received = 0
        self.hopeless = False

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: bytes,  # type: ignore[override]  # Django passes bytes; its stubs say str
        encoding: str | None = None,
    ) -> None:
        fields = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if fields is not None:
            # Larger than the file limit plus every other field there may be: no file in it fits.
            self.hopeless = content_length > self.limit + fields + _FORM_ALLOWANCE
        return None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if self.hopeless:
            self._skip()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self._skip()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file

    def _skip(self) -> None:
        if self.request is not None:
            setattr(
                self.request,
                _REFUSED,
                f"The file is too large: one import takes at most {_size(self.limit)}. "
                "Split it into smaller files.",
            )
        raise SkipFile
