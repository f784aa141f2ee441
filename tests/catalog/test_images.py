"""product_image_add / product_image_delete with real images made by Pillow."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog import services
from catalog.models import Product, ProductImage
from core.errors import DomainError
from tests.factories import ProductFactory, ProductImageFactory, image_bytes, image_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(merchant):
    return ProductFactory(merchant=merchant, name="Silk Scarf")


def _open(field):
    with field.open("rb") as f:
        img = Image.open(io.BytesIO(f.read()))
        img.load()
    return img


def test_first_image_is_stored_as_webp_with_a_thumbnail_and_becomes_the_cover(product):
    image = services.product_image_add(
        product=product, upload=image_upload("scarf.png", width=2000, height=1000), alt="Blue"
    )

    product.refresh_from_db()
    assert product.cover_id == image.pk
    assert (image.width, image.height, image.alt, image.position) == (1600, 800, "Blue", 0)
    assert image.image.name == f"products/{product.pk}/scarf.webp"
    assert image.thumbnail.name == f"products/{product.pk}/scarf-thumb.webp"
    full, thumb = _open(image.image), _open(image.thumbnail)
    assert (full.format, full.size) == ("WEBP", (1600, 800))
    assert (thumb.format, thumb.size) == ("WEBP", (480, 240))


def test_small_images_are_not_enlarged(product):
    image = services.product_image_add(product=product, upload=image_upload(width=300, height=64))

    assert (image.width, image.height) == (300, 64)
    assert _open(image.thumbnail).size == (300, 64)


def test_later_images_do_not_replace_the_cover_and_get_the_next_positions(product):
    first = ProductImageFactory(product=product)
    second = ProductImageFactory(product=product)
    third = ProductImageFactory(product=product)

    product.refresh_from_db()
    assert product.cover_id == first.pk
    assert [first.position, second.position, third.position] == [0, 1, 2]


def test_explicit_position_is_kept(product):
    image = services.product_image_add(product=product, upload=image_upload(), position=7)

    assert image.position == 7


def test_exif_is_dropped_and_orientation_applied(product):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}  # a GPS position
    upload = SimpleUploadedFile(
        "gps.jpg", image_bytes(width=200, height=100, fmt="JPEG", exif=exif)
    )
    assert Image.open(upload).getexif()[0x010F] == "SpyCam"
    upload.seek(0)

    image = services.product_image_add(product=product, upload=upload)

    stored = _open(image.image)
    assert stored.size == (100, 200)
    assert (image.width, image.height) == (100, 200)
    assert dict(stored.getexif()) == {}
    assert "exif" not in stored.info
    with image.image.open("rb") as f:
        raw = f.read()
    assert b"SpyCam" not in raw
    assert b"Exif" not in raw


def test_image_count_is_limited(product, settings):
    settings.PRODUCT_IMAGE_MAX_COUNT = 2
    ProductImageFactory(product=product)
    ProductImageFactory(product=product)

    with pytest.raises(DomainError) as exc:
        services.product_image_add(product=product, upload=image_upload())

    assert exc.value.code == "too_many_images"
    assert exc.value.field == "image"
    assert exc.value.message == "A product can have at most 2 images; delete one first."
    assert ProductImage.objects.filter(product=product).count() == 2


def test_default_image_limit_is_ten(product):
    for _ in range(10):
        ProductImageFactory(product=product, upload=image_upload(width=64, height=64))

    with pytest.raises(DomainError) as exc:
        ProductImageFactory(product=product, upload=image_upload(width=64, height=64))

    assert exc.value.code == "too_many_images"
    assert ProductImage.objects.filter(product=product).count() == 10


def _refused(product, upload) -> DomainError:
    with pytest.raises(DomainError) as exc:
        services.product_image_add(product=product, upload=upload)
    assert exc.value.field == "image"
    assert ProductImage.objects.count() == 0
    product.refresh_from_db()
    assert product.cover_id is None
    # Nothing was written to storage for a refused upload.
    assert not default_storage.exists(f"products/{product.pk}")
    return exc.value


def test_refuses_bytes_that_are_not_an_image(product):
    err = _refused(product, SimpleUploadedFile("photo.png", b"MZ\x90\x00 not really a png"))

    assert err.code == "image_unreadable"
    assert err.message == (
        "This file is not an image we can read. Upload a JPEG, PNG, WebP or GIF."
    )


def test_refuses_a_truncated_png(product):
    data = image_bytes(width=300, height=200)

    err = _refused(product, SimpleUploadedFile("cut.png", data[: len(data) // 2]))

    assert err.code == "image_unreadable"


def test_refuses_a_truncated_jpeg(product):
    data = image_bytes(width=300, height=200, fmt="JPEG")

    err = _refused(product, SimpleUploadedFile("cut.jpg", data[: len(data) // 2]))

    assert err.code == "image_damaged"
    assert err.message == "This image is damaged and cannot be processed."


def test_refuses_an_empty_file(product):
    err = _refused(product, SimpleUploadedFile("empty.png", b""))

    assert (err.code, err.message) == ("image_empty", "The file is empty.")


def test_refuses_formats_other_than_jpeg_png_webp_gif(product):
    err = _refused(product, image_upload("scan.bmp", fmt="BMP"))

    assert err.code == "image_format"
    assert err.message == "Images must be JPEG, PNG, WebP or GIF; this one is BMP."


def test_refuses_too_many_pixels(product):
    # 8000 x 6000 = 48 megapixels: a 6 kB PNG that would take 144 MB to decode.
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, format="PNG")

    err = _refused(product, SimpleUploadedFile("bomb.png", out.getvalue()))

    assert err.code == "image_too_many_pixels"
    assert err.message == ("The image is 8000 x 6000 pixels; at most 40 megapixels are accepted.")


def test_refuses_a_decompression_bomb_pillow_will_not_open(product, monkeypatch):
    # Past twice Pillow's own limit Image.open itself refuses; the message must still be clear.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)

    err = _refused(product, image_upload(width=100, height=100))

    assert err.code == "image_too_many_pixels"
    assert err.message == "The image has too many pixels; at most 40 megapixels are accepted."


def test_refuses_a_too_small_image(product):
    err = _refused(product, image_upload(width=63, height=400))

    assert err.code == "image_too_small"
    assert err.message == (
        "The image is too small (63 x 400); use at least 64 pixels on each side."
    )


def test_refuses_too_many_bytes_before_reading_them(product):
    # 9 MB that are not even an image: the size alone refuses it.
    upload = SimpleUploadedFile("huge.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (9 * 1_048_576 - 8))

    err = _refused(product, upload)

    assert err.code == "image_too_large"
    assert err.message == "The image is 9.0 MB; the limit is 8 MB."


def test_accepts_gif_and_webp(product):
    gif = services.product_image_add(product=product, upload=image_upload("a.gif", fmt="GIF"))
    webp = services.product_image_add(product=product, upload=image_upload("b.webp", fmt="WEBP"))

    assert [gif.image.name, webp.image.name] == [
        f"products/{product.pk}/a.webp",
        f"products/{product.pk}/b.webp",
    ]


def test_transparent_png_keeps_its_alpha(product):
    out = io.BytesIO()
    Image.new("RGBA", (100, 100), (255, 0, 0, 0)).save(out, format="PNG")

    image = services.product_image_add(
        product=product, upload=SimpleUploadedFile("t.png", out.getvalue())
    )

    assert _open(image.image).mode == "RGBA"


# --- delete ----------------------------------------------------------------------------------


def test_deleting_the_cover_makes_the_next_image_by_position_the_cover(
    product, django_capture_on_commit_callbacks
):
    cover = ProductImageFactory(product=product)
    later = services.product_image_add(product=product, upload=image_upload(), position=5)
    sooner = services.product_image_add(product=product, upload=image_upload(), position=3)
    files = [cover.image.name, cover.thumbnail.name]

    with django_capture_on_commit_callbacks(execute=True):
        services.product_image_delete(image=cover)

    product.refresh_from_db()
    assert product.cover_id == sooner.pk
    assert list(product.images.values_list("pk", flat=True)) == [sooner.pk, later.pk]
    assert [default_storage.exists(name) for name in files] == [False, False]


def test_deleting_another_image_keeps_the_cover(product, django_capture_on_commit_callbacks):
    cover = ProductImageFactory(product=product)
    other = ProductImageFactory(product=product)
    kept = [cover.image.name, cover.thumbnail.name]

    with django_capture_on_commit_callbacks(execute=True):
        services.product_image_delete(image=other)

    product.refresh_from_db()
    assert product.cover_id == cover.pk
    assert not ProductImage.objects.filter(pk=other.pk).exists()
    assert [default_storage.exists(name) for name in kept] == [True, True]


def test_deleting_the_last_image_leaves_no_cover(product):
    only = ProductImageFactory(product=product)

    services.product_image_delete(image=only)

    product.refresh_from_db()
    assert product.cover_id is None
    assert Product.objects.get(pk=product.pk).images.count() == 0


def test_files_stay_until_the_delete_commits(product, django_capture_on_commit_callbacks):
    image = ProductImageFactory(product=product)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.product_image_delete(image=image)

    assert default_storage.exists(image.image.name)
    # Two things wait for the commit: the files' removal and the catalog version's change.
    assert len(callbacks) == 2
