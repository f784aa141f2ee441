"""Cross-border rules and shipping methods (kept by platform staff, effective-dated rows);
shipments with their tracking and customs declarations (records nobody edits)."""

from django.contrib import admin

from .models import (
    CustomsDeclaration,
    CustomsEvent,
    CustomsRegime,
    RegimeRule,
    Shipment,
    ShippingMethod,
    TaxRate,
    TrackingEvent,
)


class RegimeRuleInline(admin.StackedInline):
    model = RegimeRule
    extra = 0


@admin.register(CustomsRegime)
class CustomsRegimeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "currency", "destinations", "is_active"]
    inlines = [RegimeRuleInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # orders refer to regimes by code: retire one by making it inactive


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = [
        "regime",
        "destination",
        "hs_prefix",
        "description",
        "vat_rate",
        "consumption_tax_rate",
        "tariff_rate",
        "effective_from",
        "effective_to",
    ]
    list_filter = ["regime", "destination"]
    search_fields = ["hs_prefix", "description"]


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "regime",
        "base_price_cny",
        "per_kg_cny",
        "days_min",
        "days_max",
        "is_active",
    ]
    list_filter = ["regime", "is_active"]


class TrackingEventInline(admin.TabularInline):
    model = TrackingEvent
    fields = ["occurred_at", "status", "description", "location", "received_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    """Parcels in the carriers' hands: platform staff and customer service read them."""

    list_display = [
        "waybill",
        "carrier_code",
        "order_ref",
        "status",
        "handed_over_at",
        "delivered_at",
    ]
    list_filter = ["carrier_code", "status"]
    search_fields = ["waybill", "order_ref", "parcel_code"]
    readonly_fields = [f.name for f in Shipment._meta.fields]
    inlines = [TrackingEventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CustomsEventInline(admin.TabularInline):
    model = CustomsEvent
    fields = ["created_at", "status", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CustomsDeclaration)
class CustomsDeclarationAdmin(admin.ModelAdmin):
    list_display = ["order_ref", "regime_code", "status", "reason", "created_at", "decided_at"]
    list_filter = ["status", "regime_code"]
    search_fields = ["order_ref", "authority_ref"]
    readonly_fields = [f.name for f in CustomsDeclaration._meta.fields]
    inlines = [CustomsEventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
