"""Units shipped and delivered through the fulfilment services; push's real outbox read back."""

import pytest

from accounts.services import buyer_profile_update
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


class _SurveyOutbox:
    """The survey messages in push's real outbox, oldest first, as these tests read them."""

    def rows(self) -> list[dict]:
        from push.models import Message

        messages = Message.objects.filter(purpose__startswith="survey_").select_related("user")
        return [
            {
                "user": m.user,
                "body": m.body,
                "link": m.link,
                "key": m.idempotency_key,
                "channel": m.channel,
                "status": m.status,
            }
            for m in messages.order_by("id")
        ]

    def __iter__(self):
        return iter(self.rows())

    def __len__(self) -> int:
        return len(self.rows())

    def __eq__(self, other: object) -> bool:
        return self.rows() == other

    __hash__ = None


@pytest.fixture
def sent_messages():
    """What aftersales wrote to push's outbox (the real one; its sender is push's business)."""
    return _SurveyOutbox()


@pytest.fixture
def ship(after_commit, settings):
    """ship(*items, buyer=None) -> (order, parcel): placed, paid, picked, packed and shipped."""
    settings.CUSTOMS_SIMULATED_DELAY_SECONDS = 0

    def run(*items, buyer=None):
        if buyer is None:  # a buyer push can reach: a mobile phone for SMS, their preference
            buyer = f.buyer()
            buyer_profile_update(user=buyer, data={"phone": f"+86139{buyer.pk:08d}"})
        order = f.pay(f.place(buyer, *items))
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
