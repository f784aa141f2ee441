"""Units shipped and delivered through the fulfilment services, and a stand-in for push."""

from types import SimpleNamespace

import pytest

from orders import services as orders_services
from tests.factories import orders as f
from tests.factories.warehouse import staff_user
from warehouse.models import StockUnit


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


@pytest.fixture
def sent_messages(monkeypatch):
    """Push's message_enqueue as the contract describes it (the outside world of this app)."""
    calls = []

    def enqueue(invitation, *, reminder):
        from aftersales import services

        calls.append(
            {
                "user": invitation.buyer,
                "body": services._message_texts(invitation, reminder=reminder),
                "link": services.survey_link(invitation.pk),
                "key": f"survey:{invitation.pk}:{'reminder' if reminder else 'invitation'}",
            }
        )
        return SimpleNamespace(status="queued", channel="sms")

    monkeypatch.setattr("aftersales.services._enqueue", enqueue)
    return calls


@pytest.fixture
def ship(after_commit, settings):
    """ship(*items, buyer=None) -> (order, parcel): placed, paid, picked, packed and shipped."""
    settings.CUSTOMS_SIMULATED_DELAY_SECONDS = 0

    def run(*items, buyer=None):
        order = f.pay(f.place(buyer or f.buyer(), *items))
        clerk = staff_user()
        units = []
        for product, n in items:
            units += list(
                StockUnit.objects.filter(product=product, status="available").order_by("pk")[:n]
            )
        for unit in units:
            orders_services.fulfil_pick(
                order_number=order.number, item_number=unit.item_number, actor=clerk
            )
            orders_services.fulfil_pack_scan(
                order_number=order.number, item_number=unit.item_number, actor=clerk
            )
        parcel = after_commit(
            orders_services.fulfil_pack_close,
            order_number=order.number,
            weight_grams=500,
            actor=clerk,
        )
        orders_services.fulfil_ship(parcel_code=parcel.code, actor=clerk)
        parcel.refresh_from_db()
        return order, parcel

    return run


@pytest.fixture
def deliver(after_commit):
    """The carrier's delivery of a parcel, with what runs after its commit."""
    from django.db import transaction

    def run(order, parcel):
        def delivered():
            with transaction.atomic():
                orders_services.parcel_delivered(order_ref=order.number, parcel_code=parcel.code)

        after_commit(delivered)

    return run
