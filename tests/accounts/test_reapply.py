"""A rejected applicant corrects and re-sends; uploaded licences are named by their content."""

import pytest

from accounts import services
from accounts.models import Merchant, MerchantEvent, MerchantStatus
from core.errors import DomainError
from tests.factories import UserFactory
from tests.factories.accounts import MerchantFactory
from tests.factories.images import PDF_BYTES, image_bytes, pdf_upload


def _apply(applicant, **overrides):
    data = {
        "applicant": applicant,
        "name": "Kyoto Craft",
        "country": "JP",
        "licence_number": "JP-LIC-0001",
        "licence_document": pdf_upload(),
        "contact_name": "Aiko",
        "contact_email": "aiko@kyoto.example",
        "contact_phone": "+81312345678",
    } | overrides
    return services.merchant_apply(**data)


@pytest.mark.django_db
def test_a_rejected_applicant_can_apply_again_with_the_same_licence():
    # given a rejected application
    rejected = MerchantFactory(status=MerchantStatus.REJECTED, licence_number="JP-LIC-0001")
    # when the same applicant sends it again with corrections
    again = _apply(rejected.applicant, name="Kyoto Craft KK", contact_name="Aiko Tanaka")
    # then the same merchant record is pending again with the new details, and the move is evented
    assert again.pk == rejected.pk
    again.refresh_from_db()
    assert (again.status, again.name, again.contact_name) == (
        "pending",
        "Kyoto Craft KK",
        "Aiko Tanaka",
    )
    events = list(
        MerchantEvent.objects.filter(merchant=again).values_list("from_status", "to_status")
    )
    assert events == [("", "pending"), ("pending", "rejected"), ("rejected", "pending")]
    assert Merchant.objects.count() == 1


@pytest.mark.django_db
def test_someone_else_cannot_take_over_a_rejected_licence_number():
    MerchantFactory(status=MerchantStatus.REJECTED, licence_number="JP-LIC-0001")
    with pytest.raises(DomainError) as err:
        _apply(UserFactory())
    assert err.value.code == "licence_taken"
    assert Merchant.objects.get().status == MerchantStatus.REJECTED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filename", "content", "stored_ext"),
    [
        ("scan.html", PDF_BYTES, "pdf"),
        ("photo.pdf", image_bytes(fmt="PNG"), "png"),
        ("photo", image_bytes(fmt="JPEG"), "jpg"),
    ],
)
def test_the_stored_licence_is_named_after_its_content_not_the_upload(
    client, filename, content, stored_ext
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    user = UserFactory()
    client.force_login(user)
    response = client.post(
        "/merchants/apply/",
        {
            "name": "Kyoto Craft",
            "country": "JP",
            "licence_number": "JP-LIC-0002",
            "licence_document": SimpleUploadedFile(filename, content),
            "contact_name": "Aiko",
            "contact_email": "aiko@kyoto.example",
            "contact_phone": "+81312345678",
        },
    )
    assert response.status_code == 302
    stored = Merchant.objects.get().licence_document.name
    assert stored.rsplit("/", 1)[-1].startswith("licence")
    assert stored.endswith(f".{stored_ext}")
