"""Test data built through the apps' services (STYLE.md: set state up through services)."""

from .accounts import (
    PASSWORD,
    AddressFactory,
    MerchantFactory,
    PlatformAdminFactory,
    UserFactory,
    merchant_staff,
)
from .catalog import CategoryFactory, ProductFactory, ProductImageFactory, product_rate
from .images import PDF_BYTES, image_bytes, image_upload, pdf_upload

__all__ = [
    "PASSWORD",
    "PDF_BYTES",
    "AddressFactory",
    "CategoryFactory",
    "MerchantFactory",
    "PlatformAdminFactory",
    "ProductFactory",
    "ProductImageFactory",
    "UserFactory",
    "image_bytes",
    "image_upload",
    "merchant_staff",
    "pdf_upload",
    "product_rate",
]

from .warehouse import (
    InboundShipmentFactory,
    appraise,
    staff_user,
    unit_in_status,
    units_available,
    units_receive,
    walk,
    warehouse_state,
)

__all__ += [
    "InboundShipmentFactory",
    "appraise",
    "staff_user",
    "unit_in_status",
    "units_available",
    "units_receive",
    "walk",
    "warehouse_state",
]
