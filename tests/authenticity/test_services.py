"""Verdicts, second review, checklists and dispositions: the rules of authenticity.services."""

import pytest
from django.db import IntegrityError, transaction

from accounts import roles
from authenticity import services
from authenticity.models import (
    Appraisal,
    AppraisalCase,
    AppraisalPhoto,
    CaseStatus,
    ChecklistItem,
    Disposition,
    UnitDisposition,
    Verdict,
)
from catalog.selectors import category_tree_invalidate
from core.errors import DomainError
from tests.factories import CategoryFactory, ProductFactory, UserFactory, pdf_upload
from warehouse.models import UnitMovement

from .conftest import photo, receive, reject, staff

pytestmark = pytest.mark.django_db


def _checklist(category, *checks: tuple[str, bool]):
    category_tree_invalidate()  # categories made in this (never committed) test transaction
    template = services.checklist_template_ensure(category_id=category.pk, items=[])
    for position, (text, required) in enumerate(checks):
        ChecklistItem.objects.create(
            template=template, text=text, required=required, position=position
        )
    return services.checklist_for_category(category_id=category.pk)


def _status(unit) -> str:
    unit.refresh_from_db()
    return unit.status


# --- first verdicts ---------------------------------------------------------------------------


def test_genuine_first_verdict_is_final_and_releases_the_unit(units, appraiser, mailoutbox):
    case = services.appraisal_record(
        item_number=units[0].item_number, appraiser=appraiser, verdict=Verdict.GENUINE
    )

    assert (case.status, case.final_verdict) == (CaseStatus.FINAL, Verdict.GENUINE)
    assert case.finalized_at is not None
    assert _status(units[0]) == "available"
    moves = UnitMovement.objects.filter(unit=units[0]).order_by("id")
    assert list(moves.values_list("reason", "to_status")) == [
        ("receive", "awaiting_appraisal"),
        ("appraise_genuine", "available"),
    ]
    assert moves.last().document == case.reference
    assert mailoutbox == []


def test_counterfeit_needs_a_different_second_appraiser(units, appraiser, appraiser2):
    number = units[0].item_number
    first = services.appraisal_record(
        item_number=number,
        appraiser=appraiser,
        verdict=Verdict.COUNTERFEIT,
        notes="Logo font wrong",
        photos=[photo()],
    )
    assert (first.status, first.final_verdict) == (CaseStatus.AWAITING_SECOND, "")
    assert _status(units[0]) == "awaiting_appraisal"

    with pytest.raises(DomainError) as same:
        services.appraisal_record(
            item_number=number,
            appraiser=appraiser,
            verdict=Verdict.COUNTERFEIT,
            notes="Still wrong",
            photos=[photo()],
        )
    assert same.value.code == "same_appraiser"
    assert Appraisal.objects.filter(case=first).count() == 1
    assert _status(units[0]) == "awaiting_appraisal"

    second = services.appraisal_record(
        item_number=number,
        appraiser=appraiser2,
        verdict=Verdict.COUNTERFEIT,
        notes="Confirmed: stitching",
        photos=[photo()],
    )
    assert second.pk == first.pk
    assert (second.status, second.final_verdict) == (CaseStatus.FINAL, Verdict.COUNTERFEIT)
    assert list(second.appraisals.values_list("stage", "appraiser_id")) == [
        (1, appraiser.pk),
        (2, appraiser2.pk),
    ]
    assert _status(units[0]) == "rejected"


def test_a_second_genuine_verdict_overrules_the_first(units, appraiser, appraiser2):
    number = units[0].item_number
    services.appraisal_record(
        item_number=number, appraiser=appraiser, verdict=Verdict.INCONCLUSIVE, notes="Unsure"
    )

    case = services.appraisal_record(item_number=number, appraiser=appraiser2, verdict="genuine")

    assert (case.status, case.final_verdict) == (CaseStatus.FINAL, Verdict.GENUINE)
    assert _status(units[0]) == "available"


def test_inconclusive_twice_fails_the_unit(units, appraiser, appraiser2):
    reject(units[0], verdict=Verdict.INCONCLUSIVE, first=appraiser, second=appraiser2)

    case = AppraisalCase.objects.get(unit=units[0])
    assert (case.status, case.final_verdict) == (CaseStatus.FINAL, Verdict.INCONCLUSIVE)
    assert units[0].status == "rejected"


def test_defective_is_final_at_the_first_verdict(units, appraiser):
    case = services.appraisal_record(
        item_number=units[0].item_number,
        appraiser=appraiser,
        verdict=Verdict.DEFECTIVE,
        notes="Seal broken",
        photos=[photo()],
    )

    assert (case.status, case.final_verdict) == (CaseStatus.FINAL, Verdict.DEFECTIVE)
    assert _status(units[0]) == "rejected"


def test_a_page_shown_for_the_first_stage_cannot_become_a_second_review(
    units, appraiser, appraiser2
):
    number = units[0].item_number
    services.appraisal_record(
        item_number=number, appraiser=appraiser, verdict="inconclusive", notes="Unsure"
    )

    # appraiser2 opened the unit before the first verdict was recorded
    with pytest.raises(DomainError) as err:
        services.appraisal_record(
            item_number=number, appraiser=appraiser2, verdict="genuine", expect_stage=1
        )

    assert err.value.code == "stage_changed"
    assert AppraisalCase.objects.get(unit=units[0]).appraisals.count() == 1
    assert _status(units[0]) == "awaiting_appraisal"


def test_only_units_awaiting_appraisal_are_appraised(units, appraiser):
    services.appraisal_record(
        item_number=units[0].item_number, appraiser=appraiser, verdict="genuine"
    )

    with pytest.raises(DomainError) as err:
        services.appraisal_record(
            item_number=units[0].item_number, appraiser=appraiser, verdict="genuine"
        )

    assert err.value.code == "not_awaiting_appraisal"
    assert AppraisalCase.objects.filter(unit=units[0]).count() == 1


# --- evidence ---------------------------------------------------------------------------------


@pytest.mark.parametrize("verdict", ["counterfeit", "defective", "inconclusive"])
def test_failing_verdicts_need_notes(units, appraiser, verdict):
    with pytest.raises(DomainError) as err:
        services.appraisal_record(
            item_number=units[0].item_number,
            appraiser=appraiser,
            verdict=verdict,
            notes="   ",
            photos=[photo()],
        )

    assert (err.value.code, err.value.field) == ("notes_required", "notes")
    assert not AppraisalCase.objects.exists()


@pytest.mark.parametrize(
    ("verdict", "needs_photo"),
    [("counterfeit", True), ("defective", True), ("inconclusive", False)],
)
def test_counterfeit_and_defective_need_a_photo(units, appraiser, verdict, needs_photo):
    call = {
        "item_number": units[0].item_number,
        "appraiser": appraiser,
        "verdict": verdict,
        "notes": "Seen",
    }
    if needs_photo:
        with pytest.raises(DomainError) as err:
            services.appraisal_record(**call)
        assert (err.value.code, err.value.field) == ("photo_required", "photos")
        assert not AppraisalCase.objects.exists()
    else:
        assert services.appraisal_record(**call).status == CaseStatus.AWAITING_SECOND


def test_photos_are_stored_with_thumbnails(units, appraiser):
    case = services.appraisal_record(
        item_number=units[0].item_number,
        appraiser=appraiser,
        verdict="defective",
        notes="Scratched",
        photos=[photo(), photo()],
    )

    stored = list(AppraisalPhoto.objects.filter(appraisal__case=case))
    assert len(stored) == 2
    assert all(p.image.name.endswith(".webp") and p.thumbnail.name for p in stored)


def test_too_many_or_unreadable_photos_are_refused(units, appraiser):
    call = {
        "item_number": units[0].item_number,
        "appraiser": appraiser,
        "verdict": "defective",
        "notes": "Scratched",
    }
    with pytest.raises(DomainError) as many:
        services.appraisal_record(**call, photos=[photo() for _ in range(services.MAX_PHOTOS + 1)])
    with pytest.raises(DomainError) as unreadable:
        services.appraisal_record(**call, photos=[pdf_upload("photo.jpg")])

    assert (many.value.code, many.value.field) == ("too_many_photos", "photos")
    assert (unreadable.value.code, unreadable.value.field) == ("image_unreadable", "image")
    assert not AppraisalCase.objects.exists()
    assert _status(units[0]) == "awaiting_appraisal"


# --- checklists -------------------------------------------------------------------------------


def test_checklists_are_inherited_from_the_nearest_ancestor():
    root = CategoryFactory(name="Fashion")
    bags = CategoryFactory(name="Bags", parent=root)
    totes = CategoryFactory(name="Totes", parent=bags)
    shoes = CategoryFactory(name="Shoes", parent=root)
    fashion = _checklist(root, ("Label sewn straight", True))

    assert services.checklist_for_category(category_id=totes.pk) == fashion
    assert services.checklist_for_category(category_id=shoes.pk) == fashion

    bag_list = _checklist(bags, ("Hardware engraved", True))

    assert services.checklist_for_category(category_id=totes.pk) == bag_list
    assert services.checklist_for_category(category_id=shoes.pk) == fashion
    assert services.checklist_for_category(category_id=CategoryFactory().pk) is None


def test_checklist_answers_are_recorded_with_their_text(product, units, appraiser):
    template = _checklist(product.category, ("Stitching", True), ("Dust bag", False))
    stitching, dust_bag = template.items.all()

    case = services.appraisal_record(
        item_number=units[0].item_number,
        appraiser=appraiser,
        verdict="genuine",
        answers={stitching.pk: "pass"},
    )

    assert case.appraisals.get().checklist == [
        {"item": stitching.pk, "text": "Stitching", "answer": "pass"},
        {"item": dust_bag.pk, "text": "Dust bag", "answer": "na"},
    ]


def test_a_unit_failing_a_required_check_cannot_be_genuine(product, units, appraiser):
    template = _checklist(product.category, ("Stitching", True), ("Dust bag", False))
    stitching, dust_bag = template.items.all()

    with pytest.raises(DomainError) as err:
        services.appraisal_record(
            item_number=units[0].item_number,
            appraiser=appraiser,
            verdict="genuine",
            answers={stitching.pk: "fail", dust_bag.pk: "pass"},
        )
    assert (err.value.code, err.value.field) == ("genuine_with_failed_check", "verdict")
    assert not AppraisalCase.objects.exists()
    assert _status(units[0]) == "awaiting_appraisal"

    # failing an optional check does not stop a genuine verdict
    case = services.appraisal_record(
        item_number=units[0].item_number,
        appraiser=appraiser,
        verdict="genuine",
        answers={stitching.pk: "pass", dust_bag.pk: "fail"},
    )
    assert case.final_verdict == Verdict.GENUINE


def test_required_checks_must_be_answered_and_unknown_ones_are_refused(product, units, appraiser):
    template = _checklist(product.category, ("Stitching", True))
    other = _checklist(CategoryFactory(), ("Elsewhere", True))

    with pytest.raises(DomainError) as missing:
        services.appraisal_record(
            item_number=units[0].item_number, appraiser=appraiser, verdict="genuine", answers={}
        )
    with pytest.raises(DomainError) as stale:
        services.appraisal_record(
            item_number=units[0].item_number,
            appraiser=appraiser,
            verdict="genuine",
            answers={template.items.get().pk: "pass", other.items.get().pk: "pass"},
        )

    assert (missing.value.code, missing.value.field) == ("checklist_incomplete", "checklist")
    assert stale.value.code == "stale_checklist"
    assert not AppraisalCase.objects.exists()


# --- rejection notice -------------------------------------------------------------------------


def test_the_merchant_is_emailed_after_commit(
    product, units, appraiser, appraiser2, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.appraisal_record(
            item_number=units[0].item_number,
            appraiser=appraiser,
            verdict="counterfeit",
            notes="Serial font differs",
            photos=[photo()],
        )
    assert callbacks == []  # a first counterfeit verdict is not final: nobody is told yet

    with django_capture_on_commit_callbacks() as callbacks:
        services.appraisal_record(
            item_number=units[0].item_number,
            appraiser=appraiser2,
            verdict="counterfeit",
            notes="Confirmed: serial font",
            photos=[photo()],
        )
    assert len(callbacks) == 1
    assert mailoutbox == []  # nothing is sent before the transaction commits

    callbacks[0]()

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [product.merchant.contact_email]
    assert mail.subject == f"Unit {units[0].item_number} failed authentication"
    assert "appraised as Counterfeit" in mail.body
    assert "Appraiser's notes: Confirmed: serial font" in mail.body
    assert "It will be destroyed under your policy" in mail.body


def test_a_defective_unit_notice_says_it_will_be_returned(
    product, units, appraiser, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reject(units[0], verdict="defective", first=appraiser)

    assert [m.to for m in mailoutbox] == [[product.merchant.contact_email]]
    assert "It will be returned to you under your policy" in mailoutbox[0].body


# --- disposition ------------------------------------------------------------------------------


def test_default_policy_destroys_counterfeits_and_returns_other_failures(
    units, appraiser, appraiser2, clerk
):
    fake = reject(units[0], verdict="counterfeit", first=appraiser, second=appraiser2)
    broken = reject(units[1], verdict="defective", first=appraiser)

    with pytest.raises(DomainError) as wrong_way:
        services.unit_return_to_merchant(
            item_number=fake.item_number, actor=clerk, carrier="SF", waybill="SF1"
        )
    assert wrong_way.value.code == "policy_mismatch"
    with pytest.raises(DomainError) as wrong_way:
        services.unit_destroy(
            item_number=broken.item_number, actor=clerk, witness=appraiser, method="Crushed"
        )
    assert wrong_way.value.code == "policy_mismatch"
    assert not UnitDisposition.objects.exists()

    destroyed = services.unit_destroy(
        item_number=fake.item_number, actor=clerk, witness=appraiser, method="Shredded"
    )
    returned = services.unit_return_to_merchant(
        item_number=broken.item_number, actor=clerk, carrier="SF Express", waybill="SF9"
    )

    assert (destroyed.kind, destroyed.witness, destroyed.performed_by) == (
        Disposition.DESTROY,
        appraiser,
        clerk,
    )
    assert (returned.kind, returned.carrier, returned.waybill) == ("return", "SF Express", "SF9")
    assert (_status(fake), _status(broken)) == ("destroyed", "returned_to_merchant")
    assert UnitMovement.objects.get(unit=fake, reason="destroy").document == f"DSP-{destroyed.pk}"


def test_a_merchant_policy_can_return_counterfeits(product, units, appraiser, appraiser2, clerk):
    services.disposition_policy_set(
        merchant=product.merchant, disposition="destroy", counterfeit_disposition="return"
    )
    fake = reject(units[0], verdict="counterfeit", first=appraiser, second=appraiser2)
    broken = reject(units[1], verdict="defective", first=appraiser)

    services.unit_return_to_merchant(
        item_number=fake.item_number, actor=clerk, carrier="EMS", waybill="E1"
    )
    services.unit_destroy(
        item_number=broken.item_number, actor=clerk, witness=appraiser, method="Crushed"
    )

    assert (_status(fake), _status(broken)) == ("returned_to_merchant", "destroyed")


def test_unknown_dispositions_are_refused(product):
    with pytest.raises(DomainError) as err:
        services.disposition_policy_set(
            merchant=product.merchant, disposition="burn", counterfeit_disposition="destroy"
        )
    assert err.value.code == "bad_disposition"


@pytest.mark.parametrize(
    ("witness", "code"),
    [
        ("none", "witness_required"),
        ("self", "witness_required"),
        ("buyer", "witness_not_staff"),
        ("inactive", "witness_not_staff"),
        ("merchant", "witness_not_staff"),
    ],
)
def test_destruction_needs_an_independent_staff_witness(
    product, units, appraiser, appraiser2, clerk, witness, code
):
    fake = reject(units[0], verdict="counterfeit", first=appraiser, second=appraiser2)
    inactive = staff(roles.APPRAISER)
    inactive.is_active = False  # a former employee
    inactive.save(update_fields=["is_active"])
    who = {
        "none": None,
        "self": clerk,
        "buyer": UserFactory(),
        "inactive": inactive,
        "merchant": product.merchant.applicant,
    }[witness]

    with pytest.raises(DomainError) as err:
        services.unit_destroy(
            item_number=fake.item_number, actor=clerk, witness=who, method="Shredded"
        )

    assert (err.value.code, err.value.field) == (code, "witness")
    assert _status(fake) == "rejected"
    assert not UnitDisposition.objects.exists()


def test_destruction_method_and_return_waybill_are_required(units, appraiser, appraiser2, clerk):
    fake = reject(units[0], verdict="counterfeit", first=appraiser, second=appraiser2)
    broken = reject(units[1], verdict="defective", first=appraiser)

    with pytest.raises(DomainError) as method:
        services.unit_destroy(
            item_number=fake.item_number, actor=clerk, witness=appraiser, method=" "
        )
    with pytest.raises(DomainError) as waybill:
        services.unit_return_to_merchant(
            item_number=broken.item_number, actor=clerk, carrier="SF", waybill=" "
        )

    assert (method.value.code, method.value.field) == ("method_required", "method")
    assert (waybill.value.code, waybill.value.field) == ("waybill_required", "waybill")
    assert not UnitDisposition.objects.exists()


def test_only_rejected_units_are_disposed_of(units, appraiser, clerk):
    with pytest.raises(DomainError) as err:
        services.unit_destroy(
            item_number=units[0].item_number, actor=clerk, witness=appraiser, method="Shredded"
        )
    assert err.value.code == "not_rejected"
    assert _status(units[0]) == "awaiting_appraisal"


# --- constraints the database keeps even if a service forgot ----------------------------------


def test_database_refuses_destruction_without_an_independent_witness(
    units, appraiser, appraiser2, clerk
):
    fake = reject(units[0], verdict="counterfeit", first=appraiser, second=appraiser2)
    case = AppraisalCase.objects.get(unit=fake)
    base = {"unit": fake, "case": case, "kind": "destroy", "performed_by": clerk, "method": "x"}

    for witness in (None, clerk):
        with pytest.raises(IntegrityError), transaction.atomic():
            UnitDisposition.objects.create(**base, witness=witness)
    with pytest.raises(IntegrityError), transaction.atomic():
        UnitDisposition.objects.create(
            unit=fake, case=case, kind="return", performed_by=clerk, carrier="SF", waybill=""
        )
    assert not UnitDisposition.objects.exists()


def test_database_refuses_two_open_cases_and_final_cases_without_verdict(units, appraiser):
    services.appraisal_record(
        item_number=units[0].item_number, appraiser=appraiser, verdict="inconclusive", notes="?"
    )
    merchant_id = units[0].merchant_id

    with pytest.raises(IntegrityError), transaction.atomic():
        AppraisalCase.objects.create(
            unit=units[0], merchant_id=merchant_id, status=CaseStatus.AWAITING_SECOND
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        AppraisalCase.objects.create(
            unit=units[1], merchant_id=merchant_id, status=CaseStatus.FINAL, final_verdict=""
        )
    assert AppraisalCase.objects.count() == 1


def test_witness_candidates_are_active_platform_staff(clerk, appraiser):
    admin = staff(roles.PLATFORM_ADMIN, email="admin@provena.example")
    staff(roles.CUSTOMER_SERVICE)
    UserFactory()

    assert services.staff_witness_candidates() == [admin, clerk, appraiser]


def test_units_of_another_product_share_the_queue(category, clerk, appraiser):
    # Two merchants' products in one category: each unit's case belongs to its own merchant.
    a, b = ProductFactory(category=category), ProductFactory(category=category)
    unit_a, unit_b = receive(a, 1, clerk)[0], receive(b, 1, clerk)[0]

    case_a = services.appraisal_record(
        item_number=unit_a.item_number, appraiser=appraiser, verdict="genuine"
    )
    case_b = services.appraisal_record(
        item_number=unit_b.item_number, appraiser=appraiser, verdict="genuine"
    )

    assert (case_a.merchant_id, case_b.merchant_id) == (a.merchant_id, b.merchant_id)


# --- races (PostgreSQL) -----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_first_verdicts_at_once_never_make_a_silent_second_review(race, product, clerk):
    # given two appraisers who both opened the same unit's page at stage 1
    unit = receive(product, 1, clerk)[0]
    first, second = staff(roles.APPRAISER), staff(roles.APPRAISER)

    def appraise(who):
        return lambda: services.appraisal_record(
            item_number=unit.item_number,
            appraiser=who,
            verdict="inconclusive",
            notes="Unsure",
            expect_stage=1,
        )

    # when both submit at once
    results = race(appraise(first), appraise(second))

    # then one verdict is the first appraisal and the other is refused, not made a review
    errors = [r for r in results if isinstance(r, Exception)]
    assert [e.code for e in errors] == ["stage_changed"]
    case = AppraisalCase.objects.get(unit=unit)
    assert case.status == CaseStatus.AWAITING_SECOND
    assert list(case.appraisals.values_list("stage", flat=True)) == [1]
    assert _status(unit) == "awaiting_appraisal"
