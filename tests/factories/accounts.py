"""Users, buyers' addresses and merchants, built through accounts.services like the app does."""

import factory
from django.contrib.auth import get_user_model

from accounts import roles, services
from accounts.models import Address, Merchant, MerchantStatus

from .images import pdf_upload

User = get_user_model()
PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    """A signed-up buyer: a user with a buyer profile, as allauth's AccountAdapter makes."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        user = model_class.objects.create_user(**kwargs)
        services.buyer_profile_get_or_create(user=user)
        return user


class PlatformAdminFactory(UserFactory):
    email = factory.Sequence(lambda n: f"platform{n}@provena.example")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        user = super()._create(model_class, *args, **kwargs)
        return services.user_grant_role(user=user, role=roles.PLATFORM_ADMIN)


class AddressFactory(factory.Factory):
    """`user` owns it; `make_default` is passed to accounts.services.address_save."""

    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    make_default = False
    recipient = factory.Sequence(lambda n: f"Recipient {n}")
    phone = "+8613800138000"
    country = "CN"
    province = "Zhejiang"
    city = "Hangzhou"
    district = "Xihu"
    line1 = factory.Sequence(lambda n: f"{n} Wensan Road")
    postal_code = "310000"

    @classmethod
    def _create(cls, model_class, *args, user, make_default, **kwargs):
        return services.address_save(
            user=user, address=model_class(**kwargs), make_default=make_default
        )


class MerchantFactory(factory.Factory):
    """An application through merchant_apply; `status` then moves it with the review services."""

    class Meta:
        model = Merchant

    applicant = factory.SubFactory(UserFactory)
    reviewer = factory.SubFactory(PlatformAdminFactory)
    status = MerchantStatus.APPROVED
    name = factory.Sequence(lambda n: f"Merchant {n} Trading")
    country = "JP"
    licence_number = factory.Sequence(lambda n: f"LIC-{n:06d}")
    licence_document = factory.LazyFunction(pdf_upload)
    contact_name = "Aiko Tanaka"
    contact_email = factory.Sequence(lambda n: f"contact{n}@merchant.example")
    contact_phone = "+81312345678"

    @classmethod
    def _create(cls, model_class, *args, reviewer, status, **kwargs):
        merchant = services.merchant_apply(**kwargs)
        if status in (MerchantStatus.APPROVED, MerchantStatus.SUSPENDED):
            merchant = services.merchant_approve(merchant=merchant, actor=reviewer)
        if status == MerchantStatus.SUSPENDED:
            merchant = services.merchant_suspend(
                merchant=merchant, actor=reviewer, note="Suspended by the factory."
            )
        if status == MerchantStatus.REJECTED:
            merchant = services.merchant_reject(
                merchant=merchant, actor=reviewer, note="Rejected by the factory."
            )
        return merchant


def merchant_staff(merchant: Merchant, **kwargs) -> User:
    """Another staff login of an approved merchant (accounts.services.merchant_add_staff)."""
    return services.merchant_add_staff(
        merchant=merchant, user=UserFactory(**kwargs), actor=merchant.applicant
    )
