"""The order lifecycle as data: states, and which state may follow which.

`orders.services.order_transition` is the only writer of an order's status; it consults
TRANSITIONS and writes an OrderEvent for every change.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Waiting for payment")
    PAID = "paid", _("Paid")
    ALLOCATED = "allocated", _("Being picked")
    PACKED = "packed", _("Packed")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired (not paid in time)")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


S = OrderStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.ALLOCATED, S.CANCELLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.ALLOCATED, S.CANCELLED, S.REFUNDED, S.PACKED}),
    S.ALLOCATED: frozenset({S.PACKED, S.CANCELLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PACKED: frozenset({S.SHIPPED, S.CANCELLED}),  # cancelled: customs refused the order
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.CANCELLED: frozenset({S.REFUNDED}),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset(),
}
# The buyer may still cancel (stock is released, payment refunded) until packing starts.
CANCELLABLE = frozenset({S.PENDING_PAYMENT, S.PAID, S.PARTIALLY_REFUNDED, S.ALLOCATED})
# Orders whose goods the buyer has paid for and not had back: they count toward the quota.
OPEN_FOR_FULFILMENT = frozenset({S.PAID, S.PARTIALLY_REFUNDED, S.ALLOCATED})
# Orders the pick station works on: paid, with lines still to pick or pack.
TO_FULFIL = OPEN_FOR_FULFILMENT


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


class LineStatus(models.TextChoices):
    OPEN = "open", _("Waiting for the merchant")
    ACCEPTED = "accepted", _("Accepted by the merchant")
    CANCELLED = "cancelled", _("Cancelled")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
    CLOSED = "closed", _("Closed (not paid)")
    # Money that arrived for an order that could no longer take it (expired, cancelled, paid
    # twice, paid by someone else): it is recorded, then sent back in full.
    RETURNED = "returned", _("Paid, then returned in full")


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Requested")
    DONE = "done", _("Refunded")
    FAILED = "failed", _("Failed")
