"""Warehouse models by sub-module of the seed: purchasing (inbound), inventory management,
packing and outbound. Distribution processing (returns) arrives with after-sales.
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
from .outbound import Parcel, ParcelStatus
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
    "Parcel",
    "ParcelStatus",
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
