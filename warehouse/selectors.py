"""Reads other apps may use. Sellable stock comes only from here."""

from collections.abc import Iterable


def sellable_quantities(*, product_ids: Iterable[int]) -> dict[int, int]:
    """Sellable units per product.

    The warehouse ledger (StockUnit, counters) lands with the inventory issue; until then no
    unit has been received or appraised, so nothing is sellable and every product reads 0.
    This is the only place the storefront asks, so the pages switch to real stock with no change.
    """
    return dict.fromkeys(product_ids, 0)


def sellable_quantity(*, product_id: int) -> int:
    return sellable_quantities(product_ids=[product_id])[product_id]
