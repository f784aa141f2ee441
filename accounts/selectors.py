"""Reads of accounts for views and other apps."""

from .models import Address, BuyerProfile, Merchant, MerchantStatus, User


def buyer_profile_for_user(*, user: User) -> BuyerProfile | None:
    return BuyerProfile.objects.filter(user=user).prefetch_related("addresses").first()


def merchant_for_user(*, user: User) -> Merchant | None:
    """The approved merchant a staff user works for, else None."""
    if not user.is_authenticated or not user.merchant_id:
        return None
    return Merchant.objects.filter(pk=user.merchant_id, status=MerchantStatus.APPROVED).first()


def merchant_application_pending(*, user: User) -> Merchant | None:
    return Merchant.objects.filter(applicant=user).order_by("-created_at").first()


def addresses_for_user(*, user: User) -> list:
    return list(Address.objects.filter(profile__user=user))


def address_for_user(*, user: User, address_id: int) -> Address | None:
    """The buyer's own address with this id; another buyer's id finds nothing."""
    return Address.objects.filter(profile__user=user, pk=address_id).first()


def survey_opted_out(*, user_ids: list[int]) -> set[int]:
    """Those of these users who turned order surveys off in their profile (one query)."""
    return set(
        BuyerProfile.objects.filter(user_id__in=user_ids, survey_consent=False).values_list(
            "user_id", flat=True
        )
    )


def message_contacts(*, user_ids: list[int]) -> dict[int, dict]:
    """How push may reach these users: channels, time zone and consents, one query (push)."""
    rows = BuyerProfile.objects.filter(user_id__in=user_ids).values(
        "user_id",
        "phone",
        "qq",
        "wechat_id",
        "preferred_channel",
        "timezone",
        "marketing_consent",
        "marketing_consent_at",
        "survey_consent",
        "survey_consent_at",
    )
    return {row["user_id"]: row for row in rows}


def user_ids_with_phone(*, phone: str) -> list[int]:
    """Buyers whose profile has this E.164 phone (an SMS reply names only the number)."""
    return list(BuyerProfile.objects.filter(phone=phone).values_list("user_id", flat=True))
