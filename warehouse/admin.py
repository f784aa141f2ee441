"""The warehouse in the admin: merchants announce inbound shipments and follow their units and
stock; platform staff see every merchant's and keep the locations.

Every write goes through warehouse.services; the admin only collects the input. Merchant staff
see only their own objects (core.admin.MerchantScopedAdmin: another merchant's is a 404).
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import MerchantScopedAdmin, ReadOnlyAdmin, is_platform_staff
from core.errors import DomainError
from orders import selectors as orders_selectors

from . import selectors, services
from .models import (
    InboundLine,
    InboundShipment,
    InboundStatus,
    Location,
    OutOfStockRecord,
    Parcel,
    ProductStock,
    StockUnit,
    UnitMovement,
)
from .states import UnitStatus

UNITS_SHOWN = 50


class ServiceErrorsAsMessages:
    """A DomainError raised while saving (say the warehouse started receiving a shipment while
    its merchant edited it) rolls the whole save back and comes back as a message, not a 500.
    The forms check what they can beforehand, so this is for races."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)
        except DomainError as err:
            self.message_user(request, err.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def _when(moment: Any) -> str:
    return date_format(localtime(moment), "SHORT_DATETIME_FORMAT")


def _table(headers: list, rows: list[tuple]) -> str:
    if not rows:
        return format_html("<p>{}</p>", _("None."))
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


# Inbound shipments ---------------------------------------------------------------------------


class InboundLineForm(forms.ModelForm):
    class Meta:
        model = InboundLine
        fields = ["product", "quantity_announced"]

    def clean_quantity_announced(self) -> int:
        quantity = self.cleaned_data["quantity_announced"]
        if quantity < 1:
            raise forms.ValidationError(_("Announce at least one unit."))
        return quantity

    # One line per product is checked across the submitted lines (the formset), not against the
    # rows as they were: moving a line to another product and adding a line for the old one is
    # a valid edit, which save_formset carries out deletes first.
    def validate_unique(self) -> None:
        pass

    def validate_constraints(self) -> None:
        pass


class InboundLineFormSet(BaseInlineFormSet):
    """Own products only, at least one line: checked here so the services never refuse."""

    def clean(self) -> None:
        super().clean()
        merchant_id = self.instance.merchant_id
        kept = 0
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("DELETE") or not (form.has_changed() or form.instance.pk):
                continue
            kept += 1
            product = data.get("product")
            if product and merchant_id and product.merchant_id != merchant_id:
                form.add_error("product", _("You can only send your own products."))
        if not kept:
            raise forms.ValidationError(_("Announce at least one product."))


class InboundLineInline(admin.TabularInline):
    model = InboundLine
    form = InboundLineForm
    formset = InboundLineFormSet
    fields = ["product", "quantity_announced", "quantity_received"]
    readonly_fields = ["quantity_received"]
    autocomplete_fields = ["product"]
    extra = 1

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any):
        # formfield_for_foreignkey is not told the shipment; it needs its merchant.
        request._inbound_merchant_id = obj.merchant_id if obj is not None else None
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        if db_field.name == "product":
            merchant_id = getattr(request, "_inbound_merchant_id", None)
            if not is_platform_staff(request.user):
                merchant_id = request.user.merchant_id
            products = db_field.related_model.objects.order_by("name")
            if merchant_id:
                products = products.filter(merchant_id=merchant_id)
            kwargs["queryset"] = products
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _announced(self, obj: Any) -> bool:
        return obj is None or obj.status == InboundStatus.ANNOUNCED

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._announced(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._announced(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._announced(obj) and super().has_delete_permission(request, obj)


@admin.register(InboundShipment)
class InboundShipmentAdmin(ServiceErrorsAsMessages, MerchantScopedAdmin):
    list_display = [
        "reference",
        "merchant",
        "status",
        "carrier",
        "waybill",
        "expected_on",
        "created_at",
    ]
    list_select_related = ["merchant"]
    list_filter = ["status"]
    search_fields = ["=reference", "waybill"]
    inlines = [InboundLineInline]
    actions = ["cancel_shipments"]
    list_per_page = 50

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["carrier", "waybill", "expected_on", "note"]
        if obj is None:
            return ["merchant", *fields] if is_platform_staff(request.user) else fields
        return [
            "reference",
            "merchant",
            "status",
            *fields,
            "created_at",
            "closed_at",
            "history",
            "receipts",
            "discrepancies",
            "units",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        # A shipment never moves to another merchant; its status changes through services.
        return [
            "reference",
            "merchant",
            "status",
            "created_at",
            "closed_at",
            "history",
            "receipts",
            "discrepancies",
            "units",
        ]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Once the warehouse starts receiving, the announcement is a record: read-only.
        if obj is not None and obj.status != InboundStatus.ANNOUNCED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # cancel instead: the reference and its history stay

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        shipment = super().save_form(request, form, change)
        if not change and not is_platform_staff(request.user):
            shipment.merchant_id = request.user.merchant_id
        return shipment

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            services.inbound_shipment_update(
                shipment=obj,
                carrier=obj.carrier,
                waybill=obj.waybill,
                expected_on=obj.expected_on,
                note=obj.note,
            )
            return
        created = services.inbound_shipment_create(
            merchant=obj.merchant,
            actor=request.user,
            carrier=obj.carrier,
            waybill=obj.waybill,
            expected_on=obj.expected_on,
            note=obj.note,
        )
        # The admin goes on with `obj` (the lines' formset and the redirect use it).
        for field in created._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding, obj._state.db = False, created._state.db

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # Lines go through the services (own products, announced shipments only); formset.save()
        # is skipped, so fill in what the admin's change message reads.
        shipment = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        to_set = []
        for line_form in formset.forms:
            if line_form in formset.deleted_forms:
                if line_form.instance.pk:
                    services.inbound_line_delete(line=line_form.instance)
                    formset.deleted_objects.append(line_form.instance)
                continue
            if not line_form.has_changed():
                continue
            if line_form.instance.pk and "product" in line_form.changed_data:
                # Another product on an existing line: its old row goes, the new one is set.
                services.inbound_line_delete(line=line_form.instance)
            to_set.append(line_form)
        for line_form in to_set:  # after every delete, so swapping two products works
            existed = bool(line_form.instance.pk)
            line = services.inbound_line_set(
                shipment=shipment,
                product=line_form.cleaned_data["product"],
                quantity=line_form.cleaned_data["quantity_announced"],
            )
            if existed and "product" not in line_form.changed_data:
                formset.changed_objects.append((line, line_form.changed_data))
            else:
                formset.new_objects.append(line)

    @admin.action(
        description=_("Cancel selected shipments (not yet received)"), permissions=["change"]
    )
    def cancel_shipments(self, request: HttpRequest, queryset: Any) -> None:
        cancelled = 0
        for shipment in queryset.order_by("pk"):
            try:
                services.inbound_cancel(shipment=shipment, actor=request.user)
            except DomainError as err:
                self.message_user(request, f"{shipment.reference}: {err.message}", messages.ERROR)
            else:
                cancelled += 1
        if cancelled:
            self.message_user(
                request,
                ngettext("%(n)d shipment cancelled.", "%(n)d shipments cancelled.", cancelled)
                % {"n": cancelled},
            )

    @admin.display(description=_("history"))
    def history(self, obj: InboundShipment) -> str:
        rows = [
            (
                _when(event.created_at),
                InboundStatus(event.from_status).label if event.from_status else "—",
                InboundStatus(event.to_status).label,
                event.note,
            )
            for event in selectors.inbound_events(shipment_id=obj.pk)
        ]
        return _table([_("When"), _("From"), _("To"), _("Note")], rows)

    @admin.display(description=_("receipts"))
    def receipts(self, obj: InboundShipment) -> str:
        rows = [
            (str(receipt), _when(receipt.created_at), receipt.unit_count)
            for receipt in selectors.inbound_receipts(shipment_id=obj.pk)
        ]
        return _table([_("Receipt"), _("When"), _("Units")], rows)

    @admin.display(description=_("discrepancies"))
    def discrepancies(self, obj: InboundShipment) -> str:
        rows = [
            (d.get_kind_display(), d.product.name if d.product else "—", d.quantity, d.note)
            for d in selectors.inbound_discrepancies(shipment_id=obj.pk)
        ]
        return _table([_("Kind"), _("Product"), _("Quantity"), _("Note")], rows)

    @admin.display(description=_("units received"))
    def units(self, obj: InboundShipment) -> str:
        summary = _table(
            [_("Product"), _("Status"), _("Units")],
            [
                (row["product__name"], UnitStatus(row["status"]).label, row["n"])
                for row in selectors.inbound_unit_summary(shipment_id=obj.pk)
            ],
        )
        units = selectors.inbound_units(shipment_id=obj.pk, limit=UNITS_SHOWN)
        if not units:
            return summary
        listing = format_html_join(
            ", ",
            '<a href="{}">{}</a> ({})',
            (
                (
                    reverse("admin:warehouse_stockunit_change", args=[unit.pk]),
                    unit.item_number,
                    unit.get_status_display(),
                )
                for unit in units
            ),
        )
        every = (
            reverse("admin:warehouse_stockunit_changelist") + "?" + urlencode({"q": obj.reference})
        )
        return format_html(
            '{}<p>{}</p><p><a href="{}">{}</a></p>',
            summary,
            listing,
            every,
            _("All units of this shipment"),
        )


# Units and their ledger ----------------------------------------------------------------------


class UnitMovementInline(ReadOnlyAdmin, admin.TabularInline):
    model = UnitMovement
    extra = 0
    can_delete = False
    ordering = ["id"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = [
            "created_at",
            "reason",
            "from_status",
            "to_status",
            "from_location",
            "to_location",
            "document",
            "note",
        ]
        # Which clerk moved a unit is the platform's business, not the merchant's.
        return [*fields, "actor"] if is_platform_staff(request.user) else fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.get_fields(request, obj)

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("from_location", "to_location", "actor")


@admin.register(StockUnit)
class StockUnitAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    list_display = ["item_number", "product", "merchant", "status", "location", "received_at"]
    list_select_related = ["product", "merchant", "location"]
    list_filter = ["status"]
    # Exact matches (indexed): an item number, or an inbound reference for a shipment's units.
    search_fields = ["=item_number", "=inbound_line__shipment__reference"]
    search_help_text = _("An item number (PV…) or an inbound reference (IN-…).")
    fields = [
        "item_number",
        "product",
        "merchant",
        "status",
        "location",
        "inbound_line",
        "received_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [UnitMovementInline]
    ordering = ["-id"]
    show_full_result_count = False
    list_per_page = 100

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str):
        return super().get_search_results(request, queryset, search_term.strip().upper())


# Stock levels --------------------------------------------------------------------------------


class ProductStockForm(forms.ModelForm):
    class Meta:
        model = ProductStock
        fields = ["reorder_point"]


@admin.register(ProductStock)
class ProductStockAdmin(ServiceErrorsAsMessages, MerchantScopedAdmin):
    form = ProductStockForm
    list_display = [
        "product",
        "merchant",
        "sellable",
        "available",
        "reserved",
        "allocated",
        "in_appraisal",
        "in_quarantine",
        "rejected",
        "reorder_point",
    ]
    list_select_related = ["product", "merchant"]
    search_fields = ["product__name"]
    fields = [
        "product",
        "merchant",
        "sellable",
        "available",
        "reserved",
        "allocated",
        "in_appraisal",
        "in_quarantine",
        "rejected",
        "reorder_point",
        "updated_at",
    ]
    readonly_fields = [
        "product",
        "merchant",
        "sellable",
        "available",
        "reserved",
        "allocated",
        "in_appraisal",
        "in_quarantine",
        "rejected",
        "updated_at",
    ]
    ordering = ["product_id"]

    @admin.display(description=_("sellable"))
    def sellable(self, obj: ProductStock) -> int:
        return obj.sellable

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # a product's counters appear when its first unit is received

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.stock_set_reorder_point(product_id=obj.pk, reorder_point=obj.reorder_point)


@admin.register(OutOfStockRecord)
class OutOfStockRecordAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    list_display = [
        "product",
        "merchant",
        "reorder_point",
        "opened_at",
        "closed_at",
        "waiting_buyers",
        "replenishment_hint",
    ]
    list_select_related = ["product", "merchant"]
    list_filter = [("closed_at", admin.EmptyFieldListFilter)]
    search_fields = ["product__name"]
    fields = ["product", "merchant", "reorder_point", "opened_at", "closed_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest):
        # The demand an out-of-stock product loses: buyers who asked to be told it is back.
        return (
            super()
            .get_queryset(request)
            .annotate(
                waiting=orders_selectors.waiting_buyers_expression(product_field="product_id")
            )
        )

    @admin.display(description=_("buyers waiting"), ordering="waiting")
    def waiting_buyers(self, record: OutOfStockRecord) -> int:
        return record.waiting

    @admin.display(description=_("replenishment hint"))
    def replenishment_hint(self, record: OutOfStockRecord) -> str:
        if record.closed_at is not None:
            return "—"
        wanted = max(record.waiting, record.reorder_point + 1)
        return ngettext(
            "Announce an inbound shipment of at least %(n)s unit.",
            "Announce an inbound shipment of at least %(n)s units.",
            wanted,
        ) % {"n": wanted}


# Locations (platform staff only) -------------------------------------------------------------


@admin.register(Location)
class LocationAdmin(ServiceErrorsAsMessages, admin.ModelAdmin):
    list_display = ["code", "name", "usage", "is_active", "position"]
    list_filter = ["usage", "is_active"]
    search_fields = ["code", "name"]
    fields = ["code", "name", "usage", "is_active", "position"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_platform_staff(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform_staff(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # units and their ledger point at it; switch it off instead

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.location_save(location=obj)


# Parcels (platform staff read them; the pack and ship stations write them) -------------------


@admin.register(Parcel)
class ParcelAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["code", "order_ref", "status", "weight_grams", "carrier_code", "waybill"]
    list_filter = ["status", "carrier_code"]
    search_fields = ["code", "order_ref", "waybill"]
    fields = [
        "code",
        "order_ref",
        "status",
        "weight_grams",
        "carrier_code",
        "waybill",
        "opened_by",
        "opened_at",
        "packed_at",
        "shipped_by",
        "shipped_at",
        "delivered_at",
    ]
    readonly_fields = fields

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_platform_staff(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request.user)
