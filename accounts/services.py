"""Every write to accounts: profiles, addresses, merchant applications and reviews, roles."""

from typing import IO, Any

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from core.errors import DomainError

from . import roles
from .models import Address, BuyerProfile, Merchant, MerchantEvent, MerchantStatus, User


def buyer_profile_get_or_create(*, user: User) -> BuyerProfile:
    profile, _created = BuyerProfile.objects.get_or_create(user=user)
    return profile


def buyer_profile_update(*, user: User, data: dict[str, Any]) -> BuyerProfile:
    """Update a buyer's profile; consent changes are time-stamped when they flip."""
    with transaction.atomic():
        profile, _created = BuyerProfile.objects.select_for_update().get_or_create(user=user)
        now = timezone.now()
        for flag in ("marketing_consent", "survey_consent"):
            if flag in data and bool(data[flag]) != getattr(profile, flag):
                setattr(profile, f"{flag}_at", now)
        for key in (
            "full_name",
            "phone",
            "qq",
            "wechat_id",
            "preferred_channel",
            "timezone",
            "marketing_consent",
            "survey_consent",
        ):
            if key in data:
                setattr(profile, key, data[key])
        profile.full_clean()
        profile.save()
    return profile


def address_save(*, user: User, address: Address, make_default: bool = False) -> Address:
    """Save one of the buyer's addresses; the first, or one asked for, is the only default."""
    with transaction.atomic():
        profile, _created = BuyerProfile.objects.select_for_update().get_or_create(user=user)
        if address.pk and address.profile_id != profile.pk:
            raise DomainError(_("That address is not yours."), code="not_owner")
        address.profile = profile
        has_default = profile.addresses.filter(is_default=True).exclude(pk=address.pk).exists()
        address.is_default = make_default or not has_default
        if address.is_default:
            profile.addresses.filter(is_default=True).exclude(pk=address.pk).update(
                is_default=False
            )
        address.full_clean(exclude=["profile"])
        address.save()
    return address


def address_create(*, user: User, fields: dict[str, Any], make_default: bool = False) -> Address:
    """Add an address to the buyer's book (see address_save for the default rule)."""
    return address_save(user=user, address=Address(**fields), make_default=make_default)


def address_delete(*, user: User, address_id: int) -> None:
    """Delete a buyer's address; if it was the default, the oldest remaining one takes over."""
    with transaction.atomic():
        profile, _created = BuyerProfile.objects.select_for_update().get_or_create(user=user)
        address = profile.addresses.filter(pk=address_id).first()
        if address is None:
            raise DomainError(_("That address does not exist."), code="not_found")
        was_default = address.is_default
        address.delete()
        if was_default:
            successor = profile.addresses.order_by("id").first()
            if successor:
                successor.is_default = True
                successor.save(update_fields=["is_default"])


def _unique_merchant_slug(name: str) -> str:
    base = slugify(name)[:70] or "merchant"
    slug, n = base, 1
    while Merchant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def merchant_apply(
    *,
    applicant: User,
    name: str,
    country: str,
    licence_number: str,
    licence_document: IO[bytes],
    contact_name: str,
    contact_email: str,
    contact_phone: str,
) -> Merchant:
    """Record an enterprise application (pending review); one open application per user."""
    with transaction.atomic():
        User.objects.select_for_update().get(pk=applicant.pk)
        if applicant.merchant_id:
            raise DomainError(
                _("Your account already belongs to a merchant."), code="already_merchant"
            )
        if Merchant.objects.filter(applicant=applicant, status=MerchantStatus.PENDING).exists():
            raise DomainError(
                _("You already have an application waiting for review."), code="application_pending"
            )
        previous = (
            Merchant.objects.select_for_update().filter(licence_number=licence_number).first()
        )
        if previous is not None:
            if previous.applicant_id == applicant.pk and previous.status == MerchantStatus.REJECTED:
                # The same applicant may correct a rejected application and send it again.
                return _merchant_reapply(
                    merchant=previous,
                    applicant=applicant,
                    name=name,
                    country=country,
                    licence_document=licence_document,
                    contact_name=contact_name,
                    contact_email=contact_email,
                    contact_phone=contact_phone,
                )
            raise DomainError(
                _("A merchant with this licence number is already registered."),
                code="licence_taken",
                field="licence_number",
            )
        merchant = Merchant(
            name=name,
            slug=_unique_merchant_slug(name),
            country=country,
            licence_number=licence_number,
            contact_name=contact_name,
            contact_email=contact_email,
            contact_phone=contact_phone,
            applicant=applicant,
        )
        merchant.licence_document.save(
            getattr(licence_document, "name", "licence"), licence_document, save=False
        )
        try:
            with transaction.atomic():
                merchant.save()
        except IntegrityError:
            merchant.licence_document.delete(save=False)
            # A concurrent application took the licence number between the check and the insert.
            if Merchant.objects.filter(licence_number=licence_number).exists():
                raise DomainError(
                    _("A merchant with this licence number is already registered."),
                    code="licence_taken",
                    field="licence_number",
                ) from None
            raise
        MerchantEvent.objects.create(
            merchant=merchant, from_status="", to_status=MerchantStatus.PENDING, actor=applicant
        )
    return merchant


def _merchant_reapply(
    *,
    merchant: Merchant,
    applicant: User,
    name: str,
    country: str,
    licence_document: IO[bytes],
    contact_name: str,
    contact_email: str,
    contact_phone: str,
) -> Merchant:
    old_document = merchant.licence_document.name
    storage = merchant.licence_document.storage
    merchant.name, merchant.country = name, country
    merchant.contact_name, merchant.contact_email = contact_name, contact_email
    merchant.contact_phone = contact_phone
    merchant.licence_document.save(
        getattr(licence_document, "name", "licence"), licence_document, save=False
    )
    MerchantEvent.objects.create(
        merchant=merchant,
        from_status=merchant.status,
        to_status=MerchantStatus.PENDING,
        actor=applicant,
        note="re-applied",
    )
    merchant.status = MerchantStatus.PENDING
    merchant.save()
    if old_document and old_document != merchant.licence_document.name:
        transaction.on_commit(lambda: storage.delete(old_document))
    return merchant


def _merchant_transition(
    *, merchant: Merchant, to: str, actor: User, note: str, allowed_from: set[str]
) -> Merchant:
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if locked.status == to:
            return locked
        if locked.status not in allowed_from:
            raise DomainError(
                _("A merchant that is %(status)s cannot be moved to %(to)s.")
                % {"status": locked.get_status_display(), "to": MerchantStatus(to).label},
                code="bad_transition",
            )
        MerchantEvent.objects.create(
            merchant=locked, from_status=locked.status, to_status=to, actor=actor, note=note
        )
        locked.status = to
        locked.reviewed_by = actor
        locked.reviewed_at = timezone.now()
        locked.review_note = note or locked.review_note
        locked.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
        applicant = User.objects.select_for_update().get(pk=locked.applicant_id)
        group = Group.objects.get(name=roles.MERCHANT)
        if to == MerchantStatus.APPROVED:
            if applicant.merchant_id not in (None, locked.pk):
                raise DomainError(
                    _("The applicant already works for another merchant."), code="applicant_taken"
                )
            applicant.merchant = locked
            applicant.is_staff = True
            applicant.save(update_fields=["merchant", "is_staff"])
            applicant.groups.add(group)
            # Re-approval after a suspension gives every staff member their access back.
            for member in (
                User.objects.select_for_update()
                .filter(merchant=locked)
                .exclude(pk=applicant.pk)
                .order_by("pk")
            ):
                member.is_staff = True
                member.save(update_fields=["is_staff"])
                member.groups.add(group)
        else:
            # Suspended or rejected: every staff member loses admin access to this merchant.
            for member in User.objects.select_for_update().filter(merchant=locked):
                member.groups.remove(group)
                member.is_staff = (
                    member.is_superuser or member.groups.filter(name__in=roles.STAFF_ROLES).exists()
                )
                member.save(update_fields=["is_staff"])
    return locked


def merchant_approve(*, merchant: Merchant, actor: User, note: str = "") -> Merchant:
    """Approve an application: the applicant becomes the merchant's staff (locked, idempotent)."""
    return _merchant_transition(
        merchant=merchant,
        to=MerchantStatus.APPROVED,
        actor=actor,
        note=note,
        allowed_from={MerchantStatus.PENDING, MerchantStatus.SUSPENDED},
    )


def merchant_reject(*, merchant: Merchant, actor: User, note: str) -> Merchant:
    """Reject a pending application with a reason the applicant can read."""
    if not note.strip():
        raise DomainError(
            _("Say why the application is rejected."), code="note_required", field="note"
        )
    return _merchant_transition(
        merchant=merchant,
        to=MerchantStatus.REJECTED,
        actor=actor,
        note=note,
        allowed_from={MerchantStatus.PENDING},
    )


def merchant_suspend(*, merchant: Merchant, actor: User, note: str) -> Merchant:
    """Suspend an approved merchant: its staff lose admin access until it is approved again."""
    if not note.strip():
        raise DomainError(
            _("Say why the merchant is suspended."), code="note_required", field="note"
        )
    return _merchant_transition(
        merchant=merchant,
        to=MerchantStatus.SUSPENDED,
        actor=actor,
        note=note,
        allowed_from={MerchantStatus.APPROVED},
    )


def merchant_add_staff(*, merchant: Merchant, user: User, actor: User) -> User:
    """Give an approved merchant another staff login."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if merchant.status != MerchantStatus.APPROVED:
            raise DomainError(
                _("Only an approved merchant can have staff."), code="merchant_not_approved"
            )
        if locked.merchant_id not in (None, merchant.pk):
            raise DomainError(_("This user already works for another merchant."), code="user_taken")
        locked.merchant = merchant
        locked.is_staff = True
        locked.save(update_fields=["merchant", "is_staff"])
        locked.groups.add(Group.objects.get(name=roles.MERCHANT))
    return locked


def user_grant_role(*, user: User, role: str) -> User:
    """Put a user in a platform role (group); admin roles also get admin-site access."""
    if role not in roles.ALL_ROLES:
        raise DomainError(_("Unknown role."), code="unknown_role")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.groups.add(Group.objects.get(name=role))
        if role in roles.STAFF_ROLES and not locked.is_staff:
            locked.is_staff = True
            locked.save(update_fields=["is_staff"])
    return locked
