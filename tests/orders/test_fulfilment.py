"""Pick, pack and ship by item number; customs documents; carrier tracking to delivery."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import DomainError
from logistics import services as logistics
from logistics.carriers import get_carrier
from logistics.models import CustomsDeclaration, Shipment, TrackingEvent
from orders import services
from orders.states import OrderStatus
from tests.factories import orders as f
from tests.factories.warehouse import staff_user, unit_in_status
from warehouse.ledger import verify_ledger
from warehouse.models import Parcel, StockUnit
from warehouse.states import UnitStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


def _paid_order(*items):
    buyer = f.buyer()
    return f.pay(f.place(buyer, *items))


def _units(product):
    return list(StockUnit.objects.filter(product=product).order_by("pk"))


def test_pick_pack_ship_deliver_an_order_by_item_number(after_commit, settings):
    settings.CUSTOMS_SIMULATED_DELAY_SECONDS = 0
    a, b = f.stocked_product(2), f.stocked_product(1)
    order = _paid_order((a, 2), (b, 1))
    clerk = staff_user()
    units = _units(a) + _units(b)
    for unit in units:
        services.fulfil_pick(order_number=order.number, item_number=unit.item_number, actor=clerk)
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    with pytest.raises(DomainError, match="not in the parcel yet"):
        services.fulfil_pack_close(order_number=order.number, weight_grams=900, actor=clerk)
    for unit in units:
        services.fulfil_pack_scan(
            order_number=order.number, item_number=unit.item_number, actor=clerk
        )
    parcel = after_commit(
        services.fulfil_pack_close, order_number=order.number, weight_grams=900, actor=clerk
    )
    assert parcel.waybill.startswith("SIM")
    declaration = CustomsDeclaration.objects.get(order_ref=order.number)
    assert declaration.status == "released", declaration.mismatches
    assert declaration.order_document["actual_paid"] == declaration.payment_document["amount_paid"]
    order = services.fulfil_ship(parcel_code=parcel.code, actor=clerk)
    assert order.status == OrderStatus.SHIPPED
    assert {u.status for u in StockUnit.objects.filter(parcel=parcel)} == {UnitStatus.SHIPPED}
    # Every shipped unit is linked to the buyer's order line through its reservation.
    for unit in StockUnit.objects.filter(parcel=parcel).select_related("reservation"):
        assert unit.reservation.order_line_ref.startswith("OL")
    # The simulated carrier's route, pushed as signed webhooks, ends in delivery.
    later = timezone.now() + timedelta(days=1)
    assert logistics.simulated_carrier_push_due(now=later) >= 7
    order.refresh_from_db()
    shipment = Shipment.objects.get(parcel_code=parcel.code)
    if shipment.status == "returned_to_sender":
        assert order.status == OrderStatus.SHIPPED
    else:
        assert shipment.status == "delivered"
        assert order.status == OrderStatus.DELIVERED
        assert {u.status for u in StockUnit.objects.filter(parcel=parcel)} == {UnitStatus.DELIVERED}
    assert verify_ledger().ok


@pytest.mark.parametrize("status", ["quarantine", "rejected", "awaiting_appraisal"])
def test_units_that_are_not_available_cannot_be_picked(status):
    product = f.stocked_product(1)
    order = _paid_order((product, 1))
    unit = unit_in_status(status, product=product)
    with pytest.raises(DomainError):
        services.fulfil_pick(
            order_number=order.number, item_number=unit.item_number, actor=staff_user()
        )
    assert StockUnit.objects.get(pk=unit.pk).status == status


def test_wrong_duplicate_and_foreign_units_are_refused_at_packing():
    a, other = f.stocked_product(1), f.stocked_product(1)
    order = _paid_order((a, 1))
    theirs = _paid_order((other, 1))
    clerk = staff_user()
    [unit] = _units(a)
    [their_unit] = _units(other)
    with pytest.raises(DomainError, match="does not contain"):
        services.fulfil_pick(
            order_number=order.number, item_number=their_unit.item_number, actor=clerk
        )
    services.fulfil_pick(order_number=order.number, item_number=unit.item_number, actor=clerk)
    services.fulfil_pick(
        order_number=theirs.number, item_number=their_unit.item_number, actor=clerk
    )
    with pytest.raises(DomainError, match="picked already"):
        services.fulfil_pick(order_number=order.number, item_number=unit.item_number, actor=clerk)
    with pytest.raises(DomainError, match="not picked for this order"):
        services.fulfil_pack_scan(
            order_number=order.number, item_number=their_unit.item_number, actor=clerk
        )
    services.fulfil_pack_scan(order_number=order.number, item_number=unit.item_number, actor=clerk)
    with pytest.raises(DomainError, match="already in this parcel"):
        services.fulfil_pack_scan(
            order_number=order.number, item_number=unit.item_number, actor=clerk
        )


def test_customs_rejection_stops_shipping_refunds_and_puts_units_back(after_commit, settings):
    settings.CUSTOMS_SIMULATED_DELAY_SECONDS = 0
    settings.CUSTOMS_SIMULATED_REJECT_IDS = [f.id_number()]
    product = f.stocked_product(1)
    order = _paid_order((product, 1))
    clerk = staff_user()
    [unit] = _units(product)
    services.fulfil_pick(order_number=order.number, item_number=unit.item_number, actor=clerk)
    services.fulfil_pack_scan(order_number=order.number, item_number=unit.item_number, actor=clerk)
    parcel = after_commit(
        services.fulfil_pack_close, order_number=order.number, weight_grams=300, actor=clerk
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.refunds.get().status == "done"
    assert CustomsDeclaration.objects.get(order_ref=order.number).status == "rejected"
    assert StockUnit.objects.get(pk=unit.pk).status == UnitStatus.AVAILABLE
    assert Parcel.objects.get(pk=parcel.pk).status == "cancelled"
    with pytest.raises(DomainError, match="must not ship"):
        services.fulfil_ship(parcel_code=parcel.code, actor=clerk)
    assert verify_ledger().ok


def test_tracking_webhook_rules(client):
    carrier = get_carrier("simulated")
    shipment = Shipment.objects.create(
        carrier_code="simulated", waybill="SIM000000000001", parcel_code="PKTEST", order_ref="X"
    )
    plan = carrier.plan(waybill=shipment.waybill, handed_over_at=timezone.now())
    url = "/webhooks/carriers/simulated/"
    body, signature = carrier.push_body(plan[:3])
    assert (
        client.post(
            url, body, content_type="application/json", HTTP_X_CARRIER_SIGNATURE="bad"
        ).status_code
        == 401
    )
    assert (
        client.post(
            url, body, content_type="application/json", HTTP_X_CARRIER_SIGNATURE=signature
        ).status_code
        == 200
    )
    # Replayed and out of order: nothing duplicated, the status never goes back.
    older, osig = carrier.push_body(plan[:2])
    assert (
        client.post(
            url, older, content_type="application/json", HTTP_X_CARRIER_SIGNATURE=osig
        ).status_code
        == 200
    )
    shipment.refresh_from_db()
    assert shipment.status == plan[2].status
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 3
    unknown = Shipment(carrier_code="simulated", waybill="SIM999", parcel_code="P2", order_ref="Y")
    ubody, usig = carrier.push_body(
        carrier.plan(waybill=unknown.waybill, handed_over_at=timezone.now())[:1]
    )
    assert (
        client.post(
            url, ubody, content_type="application/json", HTTP_X_CARRIER_SIGNATURE=usig
        ).status_code
        == 404
    )
    assert (
        client.post("/webhooks/carriers/nope/", body, content_type="application/json").status_code
        == 404
    )
