import re
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Address, BuyerProfile, Merchant, MerchantEvent, MerchantStatus
from tests.factories import (
    AddressFactory,
    MerchantFactory,
    UserFactory,
    image_bytes,
    merchant_staff,
    pdf_upload,
)

pytestmark = pytest.mark.django_db

PROFILE = "/accounts/profile/"
APPLY = "/merchants/apply/"


def _field_errors(response, name: str) -> list[str]:
    html = response.content.decode()
    return [
        unescape(e) for e in re.findall(rf'<p class="error" id="id_{name}_error">(.*?)</p>', html)
    ]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def buyer(client):
    user = UserFactory(email="li.na@example.com")
    client.force_login(user)
    return user


# --- login required --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", PROFILE),
        ("post", PROFILE),
        ("get", "/accounts/profile/addresses/new/"),
        ("post", "/accounts/profile/addresses/new/"),
        ("get", "/accounts/profile/addresses/1/"),
        ("post", "/accounts/profile/addresses/1/delete/"),
        ("get", APPLY),
        ("post", APPLY),
    ],
)
def test_account_pages_need_a_login(client, db, method, url):
    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_anonymous_post_changes_nothing(client, db):
    client.post(APPLY, {"name": "Ghost Ltd", "licence_document": pdf_upload()})
    client.post("/accounts/profile/addresses/new/", {"recipient": "Ghost"})

    assert Merchant.objects.count() == 0
    assert Address.objects.count() == 0


# --- profile ---------------------------------------------------------------------------------


def test_profile_page(client, buyer):
    response = client.get(PROFILE)

    assert response.status_code == 200
    assert "li.na@example.com" in response.content.decode()
    assert response.context["addresses"] == []
    assert response.context["application"] is None


def _profile_data(**overrides):
    data = {
        "full_name": "李娜",
        "phone": "138 0013 8000",
        "qq": "",
        "wechat_id": "",
        "preferred_channel": "sms",
        "survey_consent": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_profile_update_normalises_the_phone_and_stamps_consent(client, buyer):
    response = client.post(PROFILE, _profile_data(marketing_consent="on"))

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    assert _messages(response) == ["Your profile is saved."]
    profile = BuyerProfile.objects.get(user=buyer)
    assert (profile.full_name, profile.phone, profile.preferred_channel) == (
        "李娜",
        "+8613800138000",
        "sms",
    )
    assert profile.marketing_consent is True
    assert profile.marketing_consent_at is not None
    assert profile.survey_consent_at is None


def test_profile_unticking_survey_consent_is_recorded(client, buyer):
    client.post(PROFILE, _profile_data(survey_consent=None))

    profile = BuyerProfile.objects.get(user=buyer)
    assert profile.survey_consent is False
    assert profile.survey_consent_at is not None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"phone": "12345"},
            "phone",
            "Enter a phone number in international form, for example +8613800138000.",
        ),
        ({"qq": "abc12345"}, "qq", "A QQ number has 5 to 11 digits."),
        ({"qq": "1234"}, "qq", "A QQ number has 5 to 11 digits."),
        (
            {"preferred_channel": "wechat", "wechat_id": ""},
            "wechat_id",
            "Fill this in to receive messages on the channel you chose.",
        ),
        (
            {"preferred_channel": "qq", "qq": ""},
            "qq",
            "Fill this in to receive messages on the channel you chose.",
        ),
        (
            {"preferred_channel": "sms", "phone": ""},
            "phone",
            "Fill this in to receive messages on the channel you chose.",
        ),
        (
            {"preferred_channel": "pigeon"},
            "preferred_channel",
            "Select a valid choice. pigeon is not one of the available choices.",
        ),
    ],
)
def test_profile_form_errors_save_nothing(client, buyer, overrides, field, message):
    response = client.post(PROFILE, _profile_data(marketing_consent="on", **overrides))

    assert response.status_code == 200
    assert _field_errors(response, field) == [message]
    profile = BuyerProfile.objects.get(user=buyer)
    assert (profile.full_name, profile.phone, profile.qq) == ("", "", "")
    assert profile.marketing_consent is False
    assert profile.marketing_consent_at is None


def test_profile_with_wechat_channel_and_id(client, buyer):
    response = client.post(
        PROFILE, _profile_data(preferred_channel="wechat", wechat_id="lina_88", phone="")
    )

    assert response.status_code == 302
    profile = BuyerProfile.objects.get(user=buyer)
    assert (profile.preferred_channel, profile.wechat_id, profile.phone) == (
        "wechat",
        "lina_88",
        "",
    )


def test_profile_is_get_and_post_only(client, buyer):
    assert client.delete(PROFILE).status_code == 405


# --- addresses -------------------------------------------------------------------------------


def _address_data(**overrides):
    data = {
        "recipient": "李娜",
        "phone": "13800138000",
        "country": "CN",
        "province": "Beijing",
        "city": "北京市",
        "district": "朝阳区",
        "line1": "建国路 88 号",
        "postal_code": "100022",
    }
    data.update(overrides)
    return data


def test_new_address_form(client, buyer):
    response = client.get("/accounts/profile/addresses/new/")

    assert response.status_code == 200
    assert "New address" in response.content.decode()


def test_new_address_is_saved_as_the_default(client, buyer):
    response = client.post("/accounts/profile/addresses/new/", _address_data())

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    address = Address.objects.get(profile__user=buyer)
    assert (address.recipient, address.phone, address.is_default) == (
        "李娜",
        "+8613800138000",
        True,
    )


def test_new_address_can_take_over_the_default(client, buyer):
    first = AddressFactory(user=buyer)

    client.post("/accounts/profile/addresses/new/", _address_data(make_default="on"))

    first.refresh_from_db()
    assert first.is_default is False
    assert Address.objects.filter(profile__user=buyer, is_default=True).get().line1 == (
        "建国路 88 号"
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"postal_code": "1000"}, "postal_code", "A mainland China postal code has 6 digits."),
        (
            {"phone": "555"},
            "phone",
            "Enter a phone number in international form, for example +8613800138000.",
        ),
        ({"recipient": ""}, "recipient", "This field is required."),
    ],
)
def test_new_address_errors_save_nothing(client, buyer, overrides, field, message):
    response = client.post("/accounts/profile/addresses/new/", _address_data(**overrides))

    assert response.status_code == 200
    assert _field_errors(response, field) == [message]
    assert Address.objects.filter(profile__user=buyer).count() == 0


def test_foreign_postal_codes_are_free_form(client, buyer):
    client.post(
        "/accounts/profile/addresses/new/",
        _address_data(country="GB", postal_code="SW1A 1AA", phone="+447911123456"),
    )

    assert Address.objects.get(profile__user=buyer).postal_code == "SW1A 1AA"


def test_edit_own_address(client, buyer):
    address = AddressFactory(user=buyer)

    page = client.get(f"/accounts/profile/addresses/{address.pk}/")
    response = client.post(
        f"/accounts/profile/addresses/{address.pk}/", _address_data(city="上海市")
    )

    assert page.status_code == 200
    assert page.context["address"] == address
    assert response.status_code == 302
    address.refresh_from_db()
    assert address.city == "上海市"
    assert address.is_default is True


def test_delete_own_address(client, buyer):
    default = AddressFactory(user=buyer)
    other = AddressFactory(user=buyer)

    response = client.post(f"/accounts/profile/addresses/{default.pk}/delete/")

    assert response.status_code == 302
    assert _messages(response) == ["Address deleted."]
    assert list(Address.objects.filter(profile__user=buyer).values_list("pk", "is_default")) == [
        (other.pk, True)
    ]


def test_delete_needs_post(client, buyer):
    address = AddressFactory(user=buyer)

    assert client.get(f"/accounts/profile/addresses/{address.pk}/delete/").status_code == 405
    assert Address.objects.filter(pk=address.pk).exists()


def test_another_buyers_address_is_404_for_view_edit_and_delete(client, buyer):
    owner = UserFactory()
    theirs = AddressFactory(user=owner, city="Hangzhou", line1="1 Private Lane")
    before = list(Address.objects.values())

    view = client.get(f"/accounts/profile/addresses/{theirs.pk}/")
    edit = client.post(
        f"/accounts/profile/addresses/{theirs.pk}/", _address_data(make_default="on")
    )
    delete = client.post(f"/accounts/profile/addresses/{theirs.pk}/delete/")

    assert [view.status_code, edit.status_code, delete.status_code] == [404, 404, 404]
    for response in (view, edit, delete):
        assert "1 Private Lane" not in response.content.decode()
    assert list(Address.objects.values()) == before
    assert Address.objects.filter(profile__user=buyer).count() == 0


def test_unknown_address_is_404(client, buyer):
    assert client.get("/accounts/profile/addresses/999999/").status_code == 404
    assert client.post("/accounts/profile/addresses/999999/delete/").status_code == 404


def test_profile_lists_own_addresses_only(client, buyer):
    mine = AddressFactory(user=buyer, line1="8 Mine Road")
    AddressFactory(user=UserFactory(), line1="9 Theirs Road")

    response = client.get(PROFILE)

    assert response.context["addresses"] == [mine]
    assert "9 Theirs Road" not in response.content.decode()


# --- merchant application --------------------------------------------------------------------


def _application(**overrides):
    data = {
        "name": "Kyoto Craft Trading",
        "country": "JP",
        "licence_number": "jp-kct-2021-0042",
        "licence_document": pdf_upload(),
        "contact_name": "Aiko Tanaka",
        "contact_email": "aiko@kyoto-craft.example",
        "contact_phone": "+81 3-1234-5678",
    }
    data.update(overrides)
    return data


def test_merchant_apply_form(client, buyer):
    response = client.get(APPLY)

    assert response.status_code == 200
    assert response.context["existing"] is None
    assert 'enctype="multipart/form-data"' in response.content.decode()


def test_merchant_apply_records_the_application(client, buyer):
    response = client.post(APPLY, _application())

    assert response.status_code == 302
    assert response["Location"] == APPLY
    assert _messages(response) == ["Thank you. The platform will review your application."]
    merchant = Merchant.objects.get(applicant=buyer)
    assert (merchant.licence_number, merchant.contact_phone, merchant.status) == (
        "JP-KCT-2021-0042",
        "+81312345678",
        MerchantStatus.PENDING,
    )
    assert MerchantEvent.objects.filter(merchant=merchant).count() == 1
    buyer.refresh_from_db()
    assert buyer.is_staff is False


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(
            SimpleUploadedFile("licence.jpg", image_bytes(fmt="JPEG"), content_type="image/jpeg"),
            id="jpeg",
        ),
        pytest.param(
            SimpleUploadedFile("licence.png", image_bytes(fmt="PNG"), content_type="image/png"),
            id="png",
        ),
        pytest.param(
            # The name lies; the content is what counts.
            SimpleUploadedFile("licence.txt", b"%PDF-1.7\n...", content_type="text/plain"),
            id="pdf-named-txt",
        ),
    ],
)
def test_merchant_apply_accepts_pdf_jpeg_png_by_content(client, buyer, upload):
    response = client.post(APPLY, _application(licence_document=upload))

    assert response.status_code == 302
    assert Merchant.objects.filter(applicant=buyer).count() == 1


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(
            SimpleUploadedFile("licence.pdf", b"<html><script>alert(1)</script>"), id="html-as-pdf"
        ),
        pytest.param(
            SimpleUploadedFile("licence.png", b"MZ\x90\x00\x03\x00\x00\x00"), id="exe-as-png"
        ),
        pytest.param(SimpleUploadedFile("licence.gif", image_bytes(fmt="GIF")), id="gif"),
    ],
)
def test_merchant_apply_refuses_other_content(client, buyer, upload):
    response = client.post(APPLY, _application(licence_document=upload))

    assert response.status_code == 200
    assert _field_errors(response, "licence_document") == [
        "Upload the licence as a PDF, JPEG or PNG file."
    ]
    assert Merchant.objects.count() == 0


def test_merchant_apply_refuses_a_document_over_10_mb(client, buyer, settings):
    settings.MERCHANT_LICENCE_MAX_BYTES = 1024
    upload = pdf_upload(content=b"%PDF-1.4\n" + b"0" * 2048)

    response = client.post(APPLY, _application(licence_document=upload))

    assert _field_errors(response, "licence_document") == ["The document is larger than 10 MB."]
    assert Merchant.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"licence_number": "AB 12/34"}, "licence_number", "Use only letters, digits and dashes."),
        (
            {"licence_number": "AB1"},
            "licence_number",
            "Ensure this value has at least 5 characters (it has 3).",
        ),
        (
            {"country": "XX"},
            "country",
            "Select a valid choice. XX is not one of the available choices.",
        ),
        ({"contact_email": "nope"}, "contact_email", "Enter a valid email address."),
        (
            {"contact_phone": "12"},
            "contact_phone",
            "Enter a phone number in international form, for example +8613800138000.",
        ),
    ],
)
def test_merchant_apply_field_errors(client, buyer, overrides, field, message):
    response = client.post(APPLY, _application(**overrides))

    assert response.status_code == 200
    assert _field_errors(response, field) == [message]
    assert Merchant.objects.count() == 0


def test_merchant_apply_duplicate_licence_number(client, buyer):
    MerchantFactory(licence_number="JP-KCT-2021-0042")

    response = client.post(APPLY, _application())

    assert response.status_code == 200
    assert _field_errors(response, "licence_number") == [
        "A merchant with this licence number is already registered."
    ]
    assert Merchant.objects.filter(applicant=buyer).count() == 0


def test_merchant_apply_shows_the_pending_application_instead_of_the_form(client, buyer):
    client.post(APPLY, _application())

    response = client.get(APPLY)

    html = response.content.decode()
    assert response.context["existing"].name == "Kyoto Craft Trading"
    assert "Your application for Kyoto Craft Trading is: <strong>Pending review</strong>." in html
    assert 'name="licence_number"' not in html


def test_merchant_apply_second_post_while_pending_is_refused(client, buyer):
    client.post(APPLY, _application())

    response = client.post(APPLY, _application(licence_number="OTHER-99999"))

    # The form is hidden while an application is open; the page shows where it stands.
    assert response.status_code == 200
    assert "is: <strong>Pending review</strong>." in response.content.decode()
    assert list(Merchant.objects.filter(applicant=buyer).values_list("licence_number")) == [
        ("JP-KCT-2021-0042",)
    ]


def test_rejected_applicant_sees_the_reason_and_the_form_again(client, buyer):
    MerchantFactory(applicant=buyer, status=MerchantStatus.REJECTED)

    html = client.get(APPLY).content.decode()

    assert "<strong>Rejected</strong>" in html
    assert "Rejected by the factory." in html
    assert 'name="licence_number"' in html


def test_profile_shows_the_application_status(client, buyer):
    client.post(APPLY, _application())

    html = client.get(PROFILE).content.decode()

    assert "Your application for Kyoto Craft Trading: Pending review." in html


def test_merchant_staff_cannot_apply_for_a_second_merchant(client, db):
    merchant = MerchantFactory(name="Alpha Goods")
    colleague = merchant_staff(merchant)
    client.force_login(colleague)

    response = client.post(APPLY, _application())

    assert response.status_code == 200
    assert "Your account already belongs to a merchant." in response.content.decode()
    assert Merchant.objects.count() == 1


def test_profile_of_merchant_staff_links_the_console(client, db):
    merchant = MerchantFactory(name="Alpha Goods")
    client.force_login(merchant.applicant)

    html = client.get(PROFILE).content.decode()

    assert "You work for Alpha Goods." in html
    assert 'href="/admin/"' in html
