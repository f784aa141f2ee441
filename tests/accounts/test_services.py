import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import roles, services
from accounts.models import Address, BuyerProfile, Merchant, MerchantEvent, MerchantStatus
from core.errors import DomainError
from tests.factories import (
    AddressFactory,
    MerchantFactory,
    PlatformAdminFactory,
    UserFactory,
    merchant_staff,
    pdf_upload,
)

pytestmark = pytest.mark.django_db


# --- buyer profile ---------------------------------------------------------------------------


def test_buyer_profile_update_stamps_marketing_consent_when_it_flips():
    user = UserFactory()
    before = timezone.now()

    profile = services.buyer_profile_update(
        user=user, data={"marketing_consent": True, "full_name": "Li Na"}
    )

    profile.refresh_from_db()
    assert profile.marketing_consent is True
    assert before <= profile.marketing_consent_at <= timezone.now()
    assert profile.full_name == "Li Na"
    # Survey consent did not change, so its timestamp stays empty.
    assert profile.survey_consent is True
    assert profile.survey_consent_at is None


def test_buyer_profile_update_keeps_timestamp_when_consent_is_unchanged():
    user = UserFactory()
    first = services.buyer_profile_update(user=user, data={"marketing_consent": True})
    stamped = first.marketing_consent_at

    again = services.buyer_profile_update(
        user=user, data={"marketing_consent": True, "qq": "12345"}
    )

    assert again.marketing_consent_at == stamped
    assert again.qq == "12345"


def test_buyer_profile_update_stamps_survey_consent_withdrawal():
    user = UserFactory()

    profile = services.buyer_profile_update(user=user, data={"survey_consent": False})

    assert profile.survey_consent is False
    assert profile.survey_consent_at is not None
    assert profile.marketing_consent_at is None


def test_buyer_profile_update_rejects_invalid_phone_and_saves_nothing():
    from django.core.exceptions import ValidationError

    user = UserFactory()

    with pytest.raises(ValidationError) as exc:
        services.buyer_profile_update(user=user, data={"phone": "12345", "marketing_consent": True})

    assert set(exc.value.message_dict) == {"phone"}
    profile = BuyerProfile.objects.get(user=user)
    assert profile.phone == ""
    assert profile.marketing_consent is False
    assert profile.marketing_consent_at is None


def test_buyer_profile_update_creates_the_profile_when_missing():
    user = UserFactory()
    BuyerProfile.objects.filter(user=user).delete()

    services.buyer_profile_update(user=user, data={"full_name": "Wang Wei"})

    assert BuyerProfile.objects.filter(user=user).count() == 1
    assert BuyerProfile.objects.get(user=user).full_name == "Wang Wei"


# --- addresses -------------------------------------------------------------------------------


def _defaults(user):
    return list(
        Address.objects.filter(profile__user=user, is_default=True).values_list("pk", flat=True)
    )


def test_first_address_becomes_the_default():
    user = UserFactory()

    address = AddressFactory(user=user)

    assert address.is_default is True
    assert _defaults(user) == [address.pk]


def test_second_address_is_not_default_unless_asked():
    user = UserFactory()
    first = AddressFactory(user=user)

    second = AddressFactory(user=user)

    assert second.is_default is False
    assert _defaults(user) == [first.pk]


def test_make_default_moves_the_default_to_the_new_address():
    user = UserFactory()
    first = AddressFactory(user=user)

    second = AddressFactory(user=user, make_default=True)

    first.refresh_from_db()
    assert first.is_default is False
    assert second.is_default is True
    assert _defaults(user) == [second.pk]


def test_make_default_on_an_existing_address():
    user = UserFactory()
    first = AddressFactory(user=user)
    second = AddressFactory(user=user)

    services.address_save(user=user, address=first, make_default=False)
    assert _defaults(user) == [first.pk]
    services.address_save(user=user, address=second, make_default=True)

    assert _defaults(user) == [second.pk]


def test_the_only_default_cannot_be_unset_by_saving_it():
    user = UserFactory()
    only = AddressFactory(user=user)
    only.city = "Ningbo"

    services.address_save(user=user, address=only, make_default=False)

    only.refresh_from_db()
    assert only.city == "Ningbo"
    assert only.is_default is True


def test_defaults_are_per_buyer():
    li, wang = UserFactory(), UserFactory()

    a = AddressFactory(user=li)
    b = AddressFactory(user=wang)

    assert _defaults(li) == [a.pk]
    assert _defaults(wang) == [b.pk]


def test_database_refuses_a_second_default_address():
    user = UserFactory()
    first = AddressFactory(user=user)

    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.create(
            profile=first.profile,
            recipient="Bypass",
            phone="+8613800138000",
            province="Zhejiang",
            city="Hangzhou",
            line1="1 Side Road",
            is_default=True,
        )

    assert Address.objects.filter(profile=first.profile).count() == 1


def test_database_allows_many_non_default_addresses():
    user = UserFactory()
    first = AddressFactory(user=user)

    for n in range(2):
        Address.objects.create(
            profile=first.profile,
            recipient=f"Other {n}",
            phone="+8613800138000",
            province="Zhejiang",
            city="Hangzhou",
            line1="1 Side Road",
            is_default=False,
        )

    assert Address.objects.filter(profile=first.profile).count() == 3


def test_address_save_refuses_another_buyers_address():
    owner, intruder = UserFactory(), UserFactory()
    address = AddressFactory(user=owner, city="Hangzhou")
    address.city = "Hijacked"

    with pytest.raises(DomainError) as exc:
        services.address_save(user=intruder, address=address, make_default=True)

    assert exc.value.code == "not_owner"
    address.refresh_from_db()
    assert address.city == "Hangzhou"
    assert address.profile.user == owner
    assert Address.objects.filter(profile__user=intruder).count() == 0


def test_address_save_validates_the_phone():
    from django.core.exceptions import ValidationError

    user = UserFactory()

    with pytest.raises(ValidationError) as exc:
        AddressFactory(user=user, phone="0571-1234")

    assert set(exc.value.message_dict) == {"phone"}
    assert Address.objects.filter(profile__user=user).count() == 0


def test_address_delete_of_the_default_promotes_the_oldest_remaining():
    user = UserFactory()
    default = AddressFactory(user=user)
    older = AddressFactory(user=user)
    AddressFactory(user=user)

    services.address_delete(user=user, address_id=default.pk)

    assert not Address.objects.filter(pk=default.pk).exists()
    assert _defaults(user) == [older.pk]
    assert Address.objects.filter(profile__user=user).count() == 2


def test_address_delete_of_a_non_default_keeps_the_default():
    user = UserFactory()
    default = AddressFactory(user=user)
    other = AddressFactory(user=user)

    services.address_delete(user=user, address_id=other.pk)

    assert _defaults(user) == [default.pk]
    assert Address.objects.filter(profile__user=user).count() == 1


def test_address_delete_of_the_last_address_leaves_none():
    user = UserFactory()
    only = AddressFactory(user=user)

    services.address_delete(user=user, address_id=only.pk)

    assert Address.objects.filter(profile__user=user).count() == 0


def test_address_delete_refuses_another_buyers_address():
    owner, intruder = UserFactory(), UserFactory()
    address = AddressFactory(user=owner)

    with pytest.raises(DomainError) as exc:
        services.address_delete(user=intruder, address_id=address.pk)

    assert exc.value.code == "not_found"
    assert Address.objects.filter(pk=address.pk, is_default=True).exists()


# --- merchants -------------------------------------------------------------------------------


def _apply(applicant, **overrides):
    data = {
        "applicant": applicant,
        "name": "Kyoto Craft Trading",
        "country": "JP",
        "licence_number": "JP-KCT-2021-0042",
        "licence_document": pdf_upload(),
        "contact_name": "Aiko Tanaka",
        "contact_email": "aiko@kyoto-craft.example",
        "contact_phone": "+81312345678",
    }
    return services.merchant_apply(**{**data, **overrides})


def _events(merchant):
    return list(
        MerchantEvent.objects.filter(merchant=merchant).values_list(
            "from_status", "to_status", "actor_id", "note"
        )
    )


def test_merchant_apply_records_a_pending_application():
    applicant = UserFactory()

    merchant = _apply(applicant)

    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.PENDING
    assert merchant.slug == "kyoto-craft-trading"
    assert merchant.applicant == applicant
    assert merchant.licence_document.name.startswith("merchant-licences/JP-KCT-2021-0042/")
    assert merchant.licence_document.read().startswith(b"%PDF-")
    assert _events(merchant) == [("", MerchantStatus.PENDING, applicant.pk, "")]
    applicant.refresh_from_db()
    assert applicant.merchant_id is None
    assert applicant.is_staff is False


def test_merchant_apply_gives_a_second_merchant_of_the_same_name_its_own_slug():
    _apply(UserFactory())

    second = _apply(UserFactory(), licence_number="JP-KCT-2021-0043")

    assert second.slug == "kyoto-craft-trading-2"


def test_merchant_apply_refuses_a_second_open_application():
    applicant = UserFactory()
    _apply(applicant)

    with pytest.raises(DomainError) as exc:
        _apply(applicant, licence_number="OTHER-12345")

    assert exc.value.code == "application_pending"
    assert Merchant.objects.filter(applicant=applicant).count() == 1


def test_merchant_apply_refuses_a_registered_licence_number():
    _apply(UserFactory())
    other = UserFactory()

    with pytest.raises(DomainError) as exc:
        _apply(other, name="Copycat")

    assert exc.value.code == "licence_taken"
    assert exc.value.field == "licence_number"
    assert Merchant.objects.filter(applicant=other).count() == 0


def test_merchant_apply_refuses_existing_staff():
    merchant = MerchantFactory()

    with pytest.raises(DomainError) as exc:
        _apply(merchant.applicant, licence_number="SECOND-12345")

    assert exc.value.code == "already_merchant"
    assert Merchant.objects.count() == 1


def test_merchant_approve_makes_the_applicant_staff():
    applicant = UserFactory()
    reviewer = PlatformAdminFactory()
    merchant = _apply(applicant)

    approved = services.merchant_approve(merchant=merchant, actor=reviewer, note="Licence ok")

    assert approved.status == MerchantStatus.APPROVED
    assert approved.reviewed_by == reviewer
    assert approved.reviewed_at is not None
    assert approved.review_note == "Licence ok"
    applicant.refresh_from_db()
    assert applicant.merchant_id == merchant.pk
    assert applicant.is_staff is True
    assert list(applicant.groups.values_list("name", flat=True)) == [roles.MERCHANT]
    assert _events(merchant) == [
        ("", MerchantStatus.PENDING, applicant.pk, ""),
        (MerchantStatus.PENDING, MerchantStatus.APPROVED, reviewer.pk, "Licence ok"),
    ]


def test_merchant_approve_is_idempotent():
    reviewer = PlatformAdminFactory()
    merchant = _apply(UserFactory())
    first = services.merchant_approve(merchant=merchant, actor=reviewer)

    again = services.merchant_approve(merchant=merchant, actor=PlatformAdminFactory())

    assert again.status == MerchantStatus.APPROVED
    assert again.reviewed_by == reviewer
    assert again.reviewed_at == first.reviewed_at
    assert MerchantEvent.objects.filter(merchant=merchant).count() == 2
    assert Group.objects.get(name=roles.MERCHANT).user_set.count() == 1


def test_merchant_reject_requires_a_note():
    merchant = _apply(UserFactory())

    with pytest.raises(DomainError) as exc:
        services.merchant_reject(merchant=merchant, actor=PlatformAdminFactory(), note="  ")

    assert exc.value.code == "note_required"
    assert exc.value.field == "note"
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.PENDING
    assert MerchantEvent.objects.filter(merchant=merchant).count() == 1


def test_merchant_reject_records_the_reason_and_gives_no_access():
    applicant = UserFactory()
    reviewer = PlatformAdminFactory()
    merchant = _apply(applicant)

    rejected = services.merchant_reject(
        merchant=merchant, actor=reviewer, note="Licence is unreadable."
    )

    assert rejected.status == MerchantStatus.REJECTED
    assert rejected.review_note == "Licence is unreadable."
    assert _events(merchant)[-1] == (
        MerchantStatus.PENDING,
        MerchantStatus.REJECTED,
        reviewer.pk,
        "Licence is unreadable.",
    )
    applicant.refresh_from_db()
    assert applicant.merchant_id is None
    assert applicant.is_staff is False
    assert applicant.groups.count() == 0


def test_merchant_suspend_removes_admin_access_from_every_staff_member():
    merchant = MerchantFactory()
    second = merchant_staff(merchant)
    reviewer = PlatformAdminFactory()

    services.merchant_suspend(merchant=merchant, actor=reviewer, note="Counterfeits found.")

    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.SUSPENDED
    for member in (merchant.applicant, second):
        member.refresh_from_db()
        assert member.is_staff is False
        assert member.groups.count() == 0
        # Still linked, so approving again gives the access back.
        assert member.merchant_id == merchant.pk
    assert _events(merchant)[-1] == (
        MerchantStatus.APPROVED,
        MerchantStatus.SUSPENDED,
        reviewer.pk,
        "Counterfeits found.",
    )


def test_merchant_suspend_requires_a_note():
    merchant = MerchantFactory()

    with pytest.raises(DomainError) as exc:
        services.merchant_suspend(merchant=merchant, actor=PlatformAdminFactory(), note="")

    assert exc.value.code == "note_required"
    merchant.refresh_from_db()
    merchant.applicant.refresh_from_db()
    assert merchant.status == MerchantStatus.APPROVED
    assert merchant.applicant.is_staff is True


def test_suspended_staff_who_hold_a_platform_role_keep_admin_access():
    merchant = MerchantFactory()
    services.user_grant_role(user=merchant.applicant, role=roles.CUSTOMER_SERVICE)

    services.merchant_suspend(merchant=merchant, actor=PlatformAdminFactory(), note="Audit.")

    merchant.applicant.refresh_from_db()
    assert merchant.applicant.is_staff is True
    assert list(merchant.applicant.groups.values_list("name", flat=True)) == [
        roles.CUSTOMER_SERVICE
    ]


def test_approving_a_suspended_merchant_restores_every_staff_member():
    merchant = MerchantFactory(status=MerchantStatus.APPROVED)
    second = merchant_staff(merchant)
    reviewer = PlatformAdminFactory()
    services.merchant_suspend(merchant=merchant, actor=reviewer, note="Audit.")

    services.merchant_approve(merchant=merchant, actor=reviewer, note="Audit passed.")

    for member in (merchant.applicant, second):
        member.refresh_from_db()
        assert member.is_staff is True
        assert list(member.groups.values_list("name", flat=True)) == [roles.MERCHANT]
    assert [e[:2] for e in _events(merchant)] == [
        ("", MerchantStatus.PENDING),
        (MerchantStatus.PENDING, MerchantStatus.APPROVED),
        (MerchantStatus.APPROVED, MerchantStatus.SUSPENDED),
        (MerchantStatus.SUSPENDED, MerchantStatus.APPROVED),
    ]


@pytest.mark.parametrize(
    ("start", "service", "kwargs"),
    [
        (MerchantStatus.PENDING, services.merchant_suspend, {"note": "why"}),
        (MerchantStatus.APPROVED, services.merchant_reject, {"note": "why"}),
        (MerchantStatus.REJECTED, services.merchant_approve, {}),
        (MerchantStatus.REJECTED, services.merchant_suspend, {"note": "why"}),
        (MerchantStatus.SUSPENDED, services.merchant_reject, {"note": "why"}),
    ],
)
def test_bad_merchant_transitions_raise_and_change_nothing(start, service, kwargs):
    merchant = MerchantFactory(status=start)
    events_before = _events(merchant)

    with pytest.raises(DomainError) as exc:
        service(merchant=merchant, actor=PlatformAdminFactory(), **kwargs)

    assert exc.value.code == "bad_transition"
    merchant.refresh_from_db()
    assert merchant.status == start
    assert _events(merchant) == events_before


def test_merchant_approve_refuses_an_applicant_who_joined_another_merchant():
    other = MerchantFactory()
    applicant = UserFactory()
    merchant = _apply(applicant)
    services.merchant_add_staff(merchant=other, user=applicant, actor=other.applicant)

    with pytest.raises(DomainError) as exc:
        services.merchant_approve(merchant=merchant, actor=PlatformAdminFactory())

    assert exc.value.code == "applicant_taken"
    merchant.refresh_from_db()
    applicant.refresh_from_db()
    assert merchant.status == MerchantStatus.PENDING
    assert applicant.merchant_id == other.pk
    assert MerchantEvent.objects.filter(merchant=merchant).count() == 1


def test_merchant_add_staff_gives_admin_access():
    merchant = MerchantFactory()

    member = merchant_staff(merchant)

    assert member.merchant_id == merchant.pk
    assert member.is_staff is True
    assert list(member.groups.values_list("name", flat=True)) == [roles.MERCHANT]


@pytest.mark.parametrize("status", [MerchantStatus.PENDING, MerchantStatus.SUSPENDED])
def test_merchant_add_staff_refuses_a_merchant_that_is_not_approved(status):
    merchant = MerchantFactory(status=status)
    user = UserFactory()

    with pytest.raises(DomainError) as exc:
        services.merchant_add_staff(merchant=merchant, user=user, actor=PlatformAdminFactory())

    assert exc.value.code == "merchant_not_approved"
    user.refresh_from_db()
    assert user.merchant_id is None
    assert user.is_staff is False


def test_merchant_add_staff_refuses_another_merchants_staff():
    a, b = MerchantFactory(), MerchantFactory()

    with pytest.raises(DomainError) as exc:
        services.merchant_add_staff(merchant=b, user=a.applicant, actor=b.applicant)

    assert exc.value.code == "user_taken"
    a.applicant.refresh_from_db()
    assert a.applicant.merchant_id == a.pk


def test_user_grant_role_staff_and_station_roles():
    cs, warehouse = UserFactory(), UserFactory()

    services.user_grant_role(user=cs, role=roles.CUSTOMER_SERVICE)
    services.user_grant_role(user=warehouse, role=roles.WAREHOUSE)

    cs.refresh_from_db()
    warehouse.refresh_from_db()
    assert cs.is_staff is True
    # Warehouse staff work at their stations, not in /admin/.
    assert warehouse.is_staff is False
    assert list(warehouse.groups.values_list("name", flat=True)) == [roles.WAREHOUSE]


def test_user_grant_role_refuses_an_unknown_role():
    user = UserFactory()

    with pytest.raises(DomainError) as exc:
        services.user_grant_role(user=user, role="superhero")

    assert exc.value.code == "unknown_role"
    assert user.groups.count() == 0
