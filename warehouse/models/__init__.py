"""Warehouse models by sub-module of the seed: purchasing (inbound) and inventory management.

Packing and outbound arrive with the fulfilment issue; distribution processing (returns) with
after-sales.
"""

from .inventory import (
    CountStatus,
    Location,
    OutOfStockRecord,
    ProductStock,
    Reservation,
    ReservationEvent,
    ReservationStatus,
    StockCount,
    StockCountScan,
    StockUnit,
    UnitMovement,
)
from .purchasing import (
    DiscrepancyKind,
    InboundDiscrepancy,
    InboundEvent,
    InboundLine,
    InboundShipment,
    InboundStatus,
    Receipt,
)

__all__ = [
    "CountStatus",
    "DiscrepancyKind",
    "InboundDiscrepancy",
    "InboundEvent",
    "InboundLine",
    "InboundShipment",
    "InboundStatus",
    "Location",
    "OutOfStockRecord",
    "ProductStock",
    "Receipt",
    "Reservation",
    "ReservationEvent",
    "ReservationStatus",
    "StockCount",
    "StockCountScan",
    "StockUnit",
    "UnitMovement",
]
