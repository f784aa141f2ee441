"""Cross-border rules and shipping methods, kept by platform staff (effective-dated rows)."""

from django.contrib import admin

from .models import CustomsRegime, RegimeRule, ShippingMethod, TaxRate


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
