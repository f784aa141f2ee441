"""The spine end to end: announce, receive, appraise (with second review), dispose, verify."""

import pytest

from accounts import roles
from accounts.services import user_grant_role
from authenticity import services as authenticity
from authenticity.models import CaseStatus, Verdict
from core.errors import DomainError
from tests.factories import ProductFactory, UserFactory
from tests.factories.images import image_upload
from warehouse import services as warehouse
from warehouse.codes import verification_code
from warehouse.ledger import verify_ledger
from warehouse.models import InboundDiscrepancy, ProductStock, StockUnit, UnitMovement
from warehouse.selectors import sellable_quantity


def staff(role: str):
    user = UserFactory()
    user_grant_role(user=user, role=role)
    return user


@pytest.mark.django_db
def test_units_become_sellable_only_after_a_genuine_verdict():
    # given a merchant's product announced in an inbound shipment of 3
    product = ProductFactory()
    clerk, first, second = staff(roles.WAREHOUSE), staff(roles.APPRAISER), staff(roles.APPRAISER)
    shipment = warehouse.inbound_announce(
        merchant=product.merchant,
        actor=product.merchant.applicant,
        carrier="SF Express",
        waybill="SF100200300",
        lines=[(product, 3)],
    )
    # when the warehouse receives 3
    received = warehouse.inbound_receive(shipment=shipment, counts={product.pk: 3}, actor=clerk)
    units = list(StockUnit.objects.filter(pk__in=received.unit_ids).order_by("pk"))
    # then 3 units wait for appraisal and nothing is sellable
    assert [u.status for u in units] == ["awaiting_appraisal"] * 3
    assert sellable_quantity(product_id=product.pk) == 0
    stock = ProductStock.objects.get(pk=product.pk)
    assert (stock.in_appraisal, stock.available) == (3, 0)

    # when one is genuine, one counterfeit (confirmed by a second appraiser), one inconclusive
    authenticity.appraisal_record(
        item_number=units[0].item_number, appraiser=first, verdict=Verdict.GENUINE
    )
    photo = image_upload(width=120, height=120)
    case = authenticity.appraisal_record(
        item_number=units[1].item_number,
        appraiser=first,
        verdict=Verdict.COUNTERFEIT,
        notes="Stitching wrong",
        photos=[photo],
    )
    assert case.status == CaseStatus.AWAITING_SECOND
    with pytest.raises(DomainError) as same:
        authenticity.appraisal_record(
            item_number=units[1].item_number,
            appraiser=first,
            verdict=Verdict.COUNTERFEIT,
            notes="again",
            photos=[image_upload(width=120, height=120)],
        )
    assert same.value.code == "same_appraiser"
    authenticity.appraisal_record(
        item_number=units[1].item_number,
        appraiser=second,
        verdict=Verdict.COUNTERFEIT,
        notes="Confirmed: logo font",
        photos=[image_upload(width=120, height=120)],
    )
    # then only the genuine unit is sellable; the counterfeit is rejected
    for unit in units:
        unit.refresh_from_db()
    assert [u.status for u in units] == ["available", "rejected", "awaiting_appraisal"]
    assert sellable_quantity(product_id=product.pk) == 1

    # when the counterfeit is destroyed before a witness (default policy for counterfeits)
    record = authenticity.unit_destroy(
        item_number=units[1].item_number, actor=clerk, witness=second, method="Shredded"
    )
    units[1].refresh_from_db()
    assert units[1].status == "destroyed"
    assert record.witness == second

    # and the shipment is closed with the real count
    warehouse.inbound_close(shipment=shipment, actor=clerk)
    assert not InboundDiscrepancy.objects.exists()

    # then every movement replays to the current states and counters
    report = verify_ledger()
    assert report.ok, report.problems
    assert report.movements == UnitMovement.objects.count() == 3 + 1 + 1 + 1


@pytest.mark.django_db
def test_verify_page_truth_and_wrong_codes():
    product = ProductFactory()
    clerk, appraiser = staff(roles.WAREHOUSE), staff(roles.APPRAISER)
    shipment = warehouse.inbound_announce(
        merchant=product.merchant,
        actor=product.merchant.applicant,
        carrier="EMS",
        waybill="E1",
        lines=[(product, 1)],
    )
    unit_id = warehouse.inbound_receive(
        shipment=shipment, counts={product.pk: 1}, actor=clerk
    ).unit_ids[0]
    unit = StockUnit.objects.get(pk=unit_id)
    authenticity.appraisal_record(
        item_number=unit.item_number, appraiser=appraiser, verdict="genuine"
    )
    code = verification_code(unit.item_number)

    result = authenticity.unit_verify(item_number=unit.item_number, code=code, client="a")
    assert result.genuine
    assert result.previous_checks == 0
    assert not result.flagged
    assert [step.text for step in result.custody] == [
        "Received at the Provena warehouse from the merchant",
        "Examined by a Provena appraiser and found genuine; put into stock",
    ]
    assert (
        authenticity.unit_verify(item_number=unit.item_number, code="WRONG123", client="a") is None
    )
    for client in ("b", "c"):
        result = authenticity.unit_verify(item_number=unit.item_number, code=code, client=client)
    assert result.previous_checks == 2
    assert result.flagged
