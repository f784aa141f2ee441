"""Evidence photos are private: streamed to appraisers and to the merchant whose unit they show."""

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from accounts import roles
from authenticity.models import AppraisalPhoto
from tests.factories import ProductFactory, UserFactory, merchant_staff

from .conftest import receive, reject, staff


@pytest.fixture
def evidence(clerk, appraiser, product) -> AppraisalPhoto:
    [unit] = receive(product, 1, clerk)
    reject(unit, verdict="defective", first=appraiser)
    return AppraisalPhoto.objects.get()


def _url(photo, kind="image") -> str:
    return reverse("authenticity:photo", args=[photo.pk, kind])


def test_photos_are_stored_outside_the_public_media_folder(evidence):
    for field in (evidence.image, evidence.thumbnail):
        assert (Path(settings.PRIVATE_MEDIA_ROOT) / field.name).is_file()
        assert not (Path(settings.MEDIA_ROOT) / field.name).exists()


@pytest.mark.parametrize("kind", ["image", "thumbnail"])
def test_appraisers_see_them(client, evidence, appraiser2, kind):
    client.force_login(appraiser2)

    response = client.get(_url(evidence, kind))

    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body == Path(settings.PRIVATE_MEDIA_ROOT, getattr(evidence, kind).name).read_bytes()
    assert response["Content-Type"].startswith("image/")
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_merchant_of_the_unit_sees_them(client, evidence, product):
    client.force_login(merchant_staff(product.merchant))

    assert client.get(_url(evidence)).status_code == 200


@pytest.mark.parametrize("who", ["buyer", "other merchant", "warehouse clerk"])
def test_anyone_else_gets_a_404(client, evidence, who):
    user = {
        "buyer": UserFactory,
        "other merchant": lambda: merchant_staff(ProductFactory().merchant),
        "warehouse clerk": lambda: staff(roles.WAREHOUSE),
    }[who]()
    client.force_login(user)

    assert client.get(_url(evidence)).status_code == 404


def test_an_unknown_kind_or_photo_is_a_404(client, evidence, appraiser):
    client.force_login(appraiser)

    assert client.get(_url(evidence, "original")).status_code == 404
    missing = reverse("authenticity:photo", args=[evidence.pk + 99, "image"])
    assert client.get(missing).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, evidence):
    response = client.get(_url(evidence))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
