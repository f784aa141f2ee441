"""Licence documents are private: no public URL, streamed only to reviewers and the merchant."""

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from accounts import roles
from accounts.services import user_grant_role
from core.storage import move_to_private
from tests.factories import PDF_BYTES, MerchantFactory, UserFactory, merchant_staff
from tests.factories.accounts import PlatformAdminFactory

pytestmark = pytest.mark.django_db


def _url(merchant) -> str:
    return reverse("accounts:merchant_licence", args=[merchant.pk])


def test_the_document_is_stored_outside_the_public_media_folder():
    merchant = MerchantFactory()

    stored = Path(settings.PRIVATE_MEDIA_ROOT) / merchant.licence_document.name
    assert stored.read_bytes() == PDF_BYTES
    assert not (Path(settings.MEDIA_ROOT) / merchant.licence_document.name).exists()
    with pytest.raises(ValueError, match="no public URL"):
        merchant.licence_document.url  # noqa: B018


def test_the_merchants_own_staff_open_it_inline(client):
    merchant = MerchantFactory()
    client.force_login(merchant_staff(merchant))

    response = client.get(_url(merchant))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline;")
    assert f"licence-{merchant.slug}.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_platform_admins_open_it(client):
    merchant = MerchantFactory()
    client.force_login(PlatformAdminFactory())

    assert client.get(_url(merchant)).status_code == 200


@pytest.mark.parametrize("who", ["buyer", "other merchant", "warehouse clerk"])
def test_anyone_else_gets_a_404(client, who):
    merchant = MerchantFactory()
    user = {
        "buyer": UserFactory,
        "other merchant": lambda: merchant_staff(MerchantFactory(name="Other Co")),
        "warehouse clerk": lambda: user_grant_role(user=UserFactory(), role=roles.WAREHOUSE),
    }[who]()
    client.force_login(user)

    response = client.get(_url(merchant))

    assert response.status_code == 404
    assert PDF_BYTES not in response.content


def test_anonymous_visitors_are_sent_to_log_in(client):
    merchant = MerchantFactory()

    response = client.get(_url(merchant))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_admin_links_the_document_through_the_view(client):
    merchant = MerchantFactory()
    client.force_login(PlatformAdminFactory())

    page = client.get(reverse("admin:accounts_merchant_change", args=[merchant.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="{_url(merchant)}"' in html
    assert merchant.licence_document.name not in html  # no path into the file system


def test_files_of_earlier_versions_move_out_of_the_public_folder():
    public = Path(settings.MEDIA_ROOT) / "merchant-licences" / "X1" / "licence.pdf"
    public.parent.mkdir(parents=True)
    public.write_bytes(PDF_BYTES)
    name = "merchant-licences/X1/licence.pdf"

    assert move_to_private([name, "", "merchant-licences/missing.pdf"]) == 1

    assert not public.exists()
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / name).read_bytes() == PDF_BYTES
    assert move_to_private([name]) == 0  # a second run finds nothing to move
