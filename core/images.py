"""Checks uploaded images by content and makes the stored image and its thumbnail."""

import io
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import DomainError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
FULL_SIZE = 1600
THUMB_SIZE = 480


@dataclass(frozen=True)
class ProcessedImage:
    image: ContentFile
    thumbnail: ContentFile
    width: int
    height: int


def _encode(img: Image.Image, size: int, quality: int) -> tuple[bytes, int, int]:
    copy = img.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    copy.save(out, format="WEBP", quality=quality, method=4)
    return out.getvalue(), copy.width, copy.height


def process_upload(upload: IO[bytes], *, name: str) -> ProcessedImage:
    """Verify an upload really is a bounded image, then re-encode it (dropping EXIF) as WebP."""
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
    if size > settings.PRODUCT_IMAGE_MAX_BYTES:
        raise DomainError(
            _("The image is %(size)s MB; the limit is %(limit)s MB.")
            % {
                "size": round(size / 1_048_576, 1),
                "limit": settings.PRODUCT_IMAGE_MAX_BYTES // 1_048_576,
            },
            code="image_too_large",
            field="image",
        )
    if size == 0:
        raise DomainError(_("The file is empty."), code="image_empty", field="image")
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            fmt = probe.format
            width, height = probe.size
            probe.verify()
    except Image.DecompressionBombError:
        # Pillow refuses to even open it: far beyond our own pixel limit, say so plainly.
        raise DomainError(
            _("The image has too many pixels; at most %(mp)s megapixels are accepted.")
            % {"mp": settings.PRODUCT_IMAGE_MAX_PIXELS // 1_000_000},
            code="image_too_many_pixels",
            field="image",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise DomainError(
            _("This file is not an image we can read. Upload a JPEG, PNG, WebP or GIF."),
            code="image_unreadable",
            field="image",
        ) from None
    if fmt not in ALLOWED_FORMATS:
        raise DomainError(
            _("Images must be JPEG, PNG, WebP or GIF; this one is %(format)s.") % {"format": fmt},
            code="image_format",
            field="image",
        )
    if width * height > settings.PRODUCT_IMAGE_MAX_PIXELS:
        raise DomainError(
            _("The image is %(w)s x %(h)s pixels; at most %(mp)s megapixels are accepted.")
            % {"w": width, "h": height, "mp": settings.PRODUCT_IMAGE_MAX_PIXELS // 1_000_000},
            code="image_too_many_pixels",
            field="image",
        )
    if min(width, height) < 64:
        raise DomainError(
            _("The image is too small (%(w)s x %(h)s); use at least 64 pixels on each side.")
            % {"w": width, "h": height},
            code="image_too_small",
            field="image",
        )
    try:
        upload.seek(0)
        with Image.open(upload) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
            full, full_w, full_h = _encode(img, FULL_SIZE, 86)
            thumb, _tw, _th = _encode(img, THUMB_SIZE, 80)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise DomainError(
            _("This image is damaged and cannot be processed."), code="image_damaged", field="image"
        ) from None
    stem = (name.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "image")[:60]
    return ProcessedImage(
        image=ContentFile(full, name=f"{stem}.webp"),
        thumbnail=ContentFile(thumb, name=f"{stem}-thumb.webp"),
        width=full_w,
        height=full_h,
    )
