"""Every write to the warehouse, by sub-module. Other apps import from here only."""

from .inventory import (
    ensure_stock_rows,
    location_for,
    stock_count_close,
    stock_count_scan,
    stock_count_start,
    unit_dispose,
    unit_lock,
    unit_reject,
    unit_release_to_stock,
    unit_relocate,
)
from .purchasing import (
    ReceivedUnits,
    inbound_announce,
    inbound_cancel,
    inbound_close,
    inbound_line_delete,
    inbound_line_set,
    inbound_receive,
    inbound_record_damage,
    inbound_shipment_create,
)
from .reservations import (
    InsufficientStockError,
    reservation_commit,
    reservation_release,
    stock_reserve,
    unit_pick,
)

__all__ = [
    "InsufficientStockError",
    "ReceivedUnits",
    "ensure_stock_rows",
    "inbound_announce",
    "inbound_cancel",
    "inbound_close",
    "inbound_line_delete",
    "inbound_line_set",
    "inbound_receive",
    "inbound_record_damage",
    "inbound_shipment_create",
    "location_for",
    "reservation_commit",
    "reservation_release",
    "stock_count_close",
    "stock_count_scan",
    "stock_count_start",
    "stock_reserve",
    "unit_dispose",
    "unit_lock",
    "unit_pick",
    "unit_reject",
    "unit_release_to_stock",
    "unit_relocate",
]
