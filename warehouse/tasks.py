"""Notices to merchants, sent after commit by the worker."""

import logging

from celery import shared_task
from django.core.mail import send_mail
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


@shared_task(
    name="warehouse.tasks.notify_out_of_stock",
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
    ignore_result=True,
)
def notify_out_of_stock(record_id: int) -> None:
    """Tell the merchant a product reached its reorder point (idempotent: reads the record)."""
    from .selectors import out_of_stock_record_for_notice

    record = out_of_stock_record_for_notice(record_id=record_id)
    if record is None or record.closed_at is not None:
        return
    send_mail(
        subject=_("Out of stock: %(product)s") % {"product": record.product_name},
        message=_(
            "Your product %(product)s has %(n)s sellable units left at the Provena warehouse "
            "(reorder point %(point)s). Announce an inbound shipment to restock it."
        )
        % {"product": record.product_name, "n": record.sellable, "point": record.reorder_point},
        from_email=None,
        recipient_list=[record.merchant_email],
    )
