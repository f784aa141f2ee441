"""The life of one physical unit, as data. No ORM here: services and tests both read these tables.

received --> awaiting_appraisal --genuine--> available --pick--> picked --pack--> packed
    --ship--> shipped --deliver--> delivered
awaiting_appraisal --counterfeit/defective/inconclusive (final)--> rejected
    --> destroyed | returned_to_merchant
shipped|delivered --return received--> quarantine --restock--> available
                                       quarantine --scrap/return--> rejected
available|quarantine|awaiting_appraisal|rejected --count: not found--> lost --found--> (as before)
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitStatus(models.TextChoices):
    AWAITING_APPRAISAL = "awaiting_appraisal", _("Awaiting appraisal")
    AVAILABLE = "available", _("Available")
    PICKED = "picked", _("Picked")
    PACKED = "packed", _("Packed")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    QUARANTINE = "quarantine", _("In returns quarantine")
    REJECTED = "rejected", _("Rejected")
    DESTROYED = "destroyed", _("Destroyed")
    RETURNED_TO_MERCHANT = "returned_to_merchant", _("Returned to merchant")
    LOST = "lost", _("Lost (written off)")


S = UnitStatus

# Allowed transitions: from -> to. A unit that is created is born `awaiting_appraisal`.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.AWAITING_APPRAISAL: frozenset({S.AVAILABLE, S.REJECTED, S.LOST}),
    S.AVAILABLE: frozenset({S.PICKED, S.LOST}),
    S.PICKED: frozenset({S.PACKED, S.AVAILABLE}),
    S.PACKED: frozenset({S.SHIPPED, S.AVAILABLE}),
    S.SHIPPED: frozenset({S.DELIVERED, S.QUARANTINE}),
    S.DELIVERED: frozenset({S.QUARANTINE}),
    S.QUARANTINE: frozenset({S.AVAILABLE, S.REJECTED, S.LOST}),
    S.REJECTED: frozenset({S.DESTROYED, S.RETURNED_TO_MERCHANT, S.LOST}),
    S.DESTROYED: frozenset(),
    S.RETURNED_TO_MERCHANT: frozenset(),
    S.LOST: frozenset({S.AWAITING_APPRAISAL, S.AVAILABLE, S.QUARANTINE, S.REJECTED}),
}

# Only these can ever be reserved, picked or shipped.
SELLABLE = frozenset({S.AVAILABLE})
# Units that are still physically ours, in the warehouse.
IN_WAREHOUSE = frozenset(
    {S.AWAITING_APPRAISAL, S.AVAILABLE, S.PICKED, S.PACKED, S.QUARANTINE, S.REJECTED}
)
FINAL = frozenset({S.DESTROYED, S.RETURNED_TO_MERCHANT})

# Which per-product counter (warehouse.ProductStock field) counts a unit in each status.
COUNTER_FIELD: dict[str, str | None] = {
    S.AWAITING_APPRAISAL: "in_appraisal",
    S.AVAILABLE: "available",
    S.PICKED: "allocated",
    S.PACKED: "allocated",
    S.QUARANTINE: "in_quarantine",
    S.REJECTED: "rejected",
    S.SHIPPED: None,
    S.DELIVERED: None,
    S.DESTROYED: None,
    S.RETURNED_TO_MERCHANT: None,
    S.LOST: None,
}
COUNTER_FIELDS = ("available", "reserved", "allocated", "in_appraisal", "in_quarantine", "rejected")


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


class MovementReason(models.TextChoices):
    RECEIVE = "receive", _("Received from merchant")
    APPRAISE_GENUINE = "appraise_genuine", _("Appraised genuine")
    APPRAISE_REJECT = "appraise_reject", _("Rejected at appraisal")
    DESTROY = "destroy", _("Destroyed")
    RETURN_TO_MERCHANT = "return_to_merchant", _("Returned to merchant")
    PICK = "pick", _("Picked for an order")
    UNPICK = "unpick", _("Put back to stock")
    PACK = "pack", _("Packed")
    SHIP = "ship", _("Shipped")
    DELIVER = "deliver", _("Delivered")
    RETURN_RECEIVE = "return_receive", _("Return received into quarantine")
    RESTOCK = "restock", _("Restocked after inspection")
    INSPECT_REJECT = "inspect_reject", _("Rejected at return inspection")
    RELOCATE = "relocate", _("Moved to another location")
    COUNT_MISSING = "count_missing", _("Not found in a count")
    COUNT_FOUND = "count_found", _("Found in a count")


class LocationUsage(models.TextChoices):
    RECEIVING = "receiving", _("Receiving")
    APPRAISAL = "appraisal", _("Appraisal")
    STOCK = "stock", _("Stock bin")
    PACKING = "packing", _("Packing")
    QUARANTINE = "quarantine", _("Returns quarantine")
    REJECTED = "rejected", _("Rejected goods")
    SCRAP = "scrap", _("Scrap")
    OUTBOUND = "outbound", _("Left the warehouse")


# Where a unit in each status may be: a unit's location usage must agree with its status.
STATUS_LOCATION_USAGES: dict[str, frozenset[str]] = {
    S.AWAITING_APPRAISAL: frozenset({LocationUsage.RECEIVING, LocationUsage.APPRAISAL}),
    S.AVAILABLE: frozenset({LocationUsage.STOCK}),
    S.PICKED: frozenset({LocationUsage.PACKING, LocationUsage.STOCK}),
    S.PACKED: frozenset({LocationUsage.PACKING}),
    S.QUARANTINE: frozenset({LocationUsage.QUARANTINE}),
    S.REJECTED: frozenset({LocationUsage.REJECTED}),
    S.SHIPPED: frozenset({LocationUsage.OUTBOUND}),
    S.DELIVERED: frozenset({LocationUsage.OUTBOUND}),
    S.DESTROYED: frozenset({LocationUsage.SCRAP}),
    S.RETURNED_TO_MERCHANT: frozenset({LocationUsage.OUTBOUND}),
    S.LOST: frozenset({LocationUsage.SCRAP}),
}
