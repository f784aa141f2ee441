"""Real image (and not-image) uploads made with Pillow, for the upload checks."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

# A minimal but genuine PDF: the merchant licence check looks at the first bytes.
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def image_bytes(
    *,
    width: int = 200,
    height: int = 100,
    fmt: str = "PNG",
    color: tuple[int, int, int] = (200, 30, 30),
    exif: Image.Exif | None = None,
    mode: str = "RGB",
) -> bytes:
    out = io.BytesIO()
    img = Image.new(mode, (width, height), color if mode == "RGB" else 0)
    # A second colour on the left half, so rotations are visible in the stored pixels.
    if mode == "RGB":
        img.paste((20, 20, 220), (0, 0, width // 2, height))
    kwargs = {"exif": exif} if exif is not None else {}
    img.save(out, format=fmt, **kwargs)
    return out.getvalue()


def image_upload(name: str = "photo.png", **kwargs) -> SimpleUploadedFile:
    fmt = kwargs.setdefault("fmt", "PNG")
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg"}.get(fmt, "application/octet-stream")
    return SimpleUploadedFile(name, image_bytes(**kwargs), content_type=content_type)


def pdf_upload(name: str = "licence.pdf", content: bytes = PDF_BYTES) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")
