"""Uploads nobody outside the platform may fetch by URL: merchants' licence documents and the
appraisers' evidence photos. They live under PRIVATE_MEDIA_ROOT, which no web server serves;
views that check who is asking stream them (accounts.views, authenticity.views)."""

import mimetypes
import os
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404


class PrivateStorage(FileSystemStorage):
    """A file system storage without a URL, rooted at settings.PRIVATE_MEDIA_ROOT (read on each
    use, so a test's override applies to the models' fields built at import)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("location", None)
        kwargs.pop("base_url", None)
        super().__init__(**kwargs)

    @property
    def base_location(self) -> str:  # type: ignore[override]
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:  # type: ignore[override]
        return os.path.abspath(self.base_location)

    @property
    def base_url(self) -> None:  # type: ignore[override]
        return None

    def url(self, name: str | None) -> str:
        raise ValueError("Private files have no public URL; link to the view that serves them.")

    def deconstruct(self) -> tuple[str, tuple, dict]:
        return ("core.storage.PrivateStorage", (), {})


private_storage = PrivateStorage()

# What may be shown inline; anything else is offered as a download.
INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/webp"}


def private_file_response(field_file: Any, *, download_stem: str) -> FileResponse:
    """Stream a private file to someone the caller has already checked; never sniffed or run.
    It downloads as `<download_stem>.<the stored file's extension>`."""
    if not field_file or not field_file.name or not field_file.storage.exists(field_file.name):
        raise Http404
    download_name = f"{download_stem}.{field_file.name.rsplit('.', 1)[-1].lower()}"
    kind, _encoding = mimetypes.guess_type(download_name)
    response = FileResponse(
        field_file.open("rb"), filename=download_name, as_attachment=kind not in INLINE_TYPES
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def move_to_private(names: list[str]) -> int:
    """Move files that earlier versions stored under the public MEDIA_ROOT to the private root
    (a data migration's step); the stored names stay the same. Returns how many moved."""
    from django.core.files.storage import default_storage

    moved = 0
    for name in names:
        if not name or private_storage.exists(name) or not default_storage.exists(name):
            continue
        with default_storage.open(name, "rb") as source:
            saved = private_storage.save(name, source)
        if saved != name:  # never expected: the name was free a moment ago
            raise RuntimeError(f"{name} was stored as {saved}")
        default_storage.delete(name)
        moved += 1
    return moved
