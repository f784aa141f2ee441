"""Services racing each other on real PostgreSQL (row locks; SQLite serialises writers anyway)."""

import threading

import pytest

from accounts import services
from accounts.models import Address, Merchant, MerchantEvent, MerchantStatus
from core.errors import DomainError
from core.storage import private_storage
from tests.factories import (
    AddressFactory,
    MerchantFactory,
    PlatformAdminFactory,
    UserFactory,
    pdf_upload,
)

# serialized_rollback: the roles (groups) created by migrations survive the flush after each test.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_concurrent_approvals_write_one_event(race):
    merchant = MerchantFactory(status=MerchantStatus.PENDING)
    reviewers = [PlatformAdminFactory() for _ in range(4)]

    results = race(
        *[(lambda r=r: services.merchant_approve(merchant=merchant, actor=r)) for r in reviewers]
    )

    assert [type(r) for r in results] == [Merchant] * 4
    assert list(
        MerchantEvent.objects.filter(merchant=merchant).values_list("from_status", "to_status")
    ) == [("", "pending"), ("pending", "approved")]


def test_concurrent_approve_and_reject_end_in_one_consistent_state(race):
    merchant = MerchantFactory(status=MerchantStatus.PENDING)
    admin = PlatformAdminFactory()

    results = race(
        lambda: services.merchant_approve(merchant=merchant, actor=admin),
        lambda: services.merchant_reject(merchant=merchant, actor=admin, note="No."),
    )

    merchant.refresh_from_db()
    merchant.applicant.refresh_from_db()
    errors = [r for r in results if isinstance(r, Exception)]
    assert [e.code for e in errors] == ["bad_transition"]
    assert MerchantEvent.objects.filter(merchant=merchant).count() == 2
    if merchant.status == MerchantStatus.APPROVED:
        assert merchant.applicant.is_staff is True
    else:
        assert merchant.status == MerchantStatus.REJECTED
        assert merchant.applicant.is_staff is False


def test_concurrent_make_default_leaves_exactly_one_default(race):
    user = UserFactory()
    addresses = [AddressFactory(user=user) for _ in range(5)]

    results = race(
        *[
            (lambda a=a: services.address_save(user=user, address=a, make_default=True))
            for a in addresses
        ]
    )

    assert [type(r) for r in results] == [Address] * 5
    assert Address.objects.filter(profile__user=user, is_default=True).count() == 1


def test_concurrent_first_addresses_make_one_default(race):
    user = UserFactory()

    race(*[(lambda n=n: AddressFactory(user=user, line1=f"{n} Road")) for n in range(4)])

    assert Address.objects.filter(profile__user=user).count() == 4
    assert Address.objects.filter(profile__user=user, is_default=True).count() == 1


def test_concurrent_applications_for_one_licence_number(race, monkeypatch):
    # Both applicants pass the licence check before either inserts: the loser must get the
    # same clear error as a late applicant, not a database error.
    applicants = [UserFactory(), UserFactory()]
    checked = threading.Barrier(2)
    slug = services._unique_merchant_slug

    def slug_after_both_checked(name: str) -> str:
        checked.wait(timeout=10)
        return slug(name)

    monkeypatch.setattr(services, "_unique_merchant_slug", slug_after_both_checked)

    def apply(applicant, name):
        return lambda: services.merchant_apply(
            applicant=applicant,
            name=name,
            country="JP",
            licence_number="JP-RACE-0001",
            licence_document=pdf_upload(),
            contact_name="Aiko",
            contact_email="aiko@example.com",
            contact_phone="+81312345678",
        )

    results = race(apply(applicants[0], "Race One"), apply(applicants[1], "Race Two"))

    assert sorted(type(r).__name__ for r in results) == ["DomainError", "Merchant"]
    [error] = [r for r in results if isinstance(r, DomainError)]
    assert (error.code, error.field) == ("licence_taken", "licence_number")
    assert Merchant.objects.filter(licence_number="JP-RACE-0001").count() == 1
    # The loser's uploaded document is not left behind.
    assert len(private_storage.listdir("merchant-licences/JP-RACE-0001")[1]) == 1
