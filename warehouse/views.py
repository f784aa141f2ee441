"""The warehouse stations: dashboard, unit history, receiving, labels, cycle counts, and the
pick, pack and ship stations.

Built for a barcode scanner, which types the code and presses Enter: every page has one scan box
with the focus, and every outcome is a message in a live region. Each view parses with a form,
calls a service or a selector, and turns a DomainError into a message (never a 500).
"""

import itertools

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import roles
from catalog.selectors import products_of_merchant
from core.errors import DomainError
from core.permissions import role_required
from logistics import selectors as logistics_selectors
from orders import selectors as orders_selectors
from orders import services as orders_services

from . import selectors, services
from .codes import normalize_item_number
from .forms import (
    CountStartForm,
    DamageForm,
    ItemNumberForm,
    OrderNumberForm,
    ParcelCodeForm,
    ReceiveForm,
    ReferenceForm,
    RelocateForm,
    StockSearchForm,
    WeightForm,
    normalize_reference,
)
from .labels import PARCEL_DOCUMENTS, render_labels, render_parcel_document
from .models import InboundShipment
from .states import STATUS_LOCATION_USAGES

station = role_required(roles.WAREHOUSE)
OPEN_SHIPMENT = ("announced", "receiving")


def _add_error(form, err: DomainError) -> None:
    form.add_error(err.field if err.field in form.fields else None, err.message)


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# Dashboard and units -------------------------------------------------------------------------


@station
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    search = StockSearchForm(request.GET)
    search.is_valid()
    q = search.cleaned_data.get("q") or ""
    page = selectors.stock_page(
        q=q, after=search.cleaned_data.get("after"), size=selectors.STOCK_PAGE_SIZE
    )
    return render(
        request,
        "warehouse/dashboard.html",
        {
            "scan_form": ItemNumberForm(),
            "search": search,
            "q": q,
            "page": page,
            "paged": bool(search.cleaned_data.get("after")),
            "inbound": selectors.inbound_open_list(),
            "out_of_stock": selectors.out_of_stock_open_list(),
        },
    )


@station
@require_safe
def unit_find(request: HttpRequest) -> HttpResponse:
    """The scan box's target: a well-formed item number goes to its unit's page."""
    if "item_number" not in request.GET:
        return render(request, "warehouse/unit_find.html", {"form": ItemNumberForm()})
    form = ItemNumberForm(request.GET)
    if form.is_valid():
        return redirect("warehouse:unit_detail", item_number=form.cleaned_data["item_number"])
    return render(request, "warehouse/unit_find.html", {"form": form}, status=400)


def _unit_not_found(request: HttpRequest, item_number: str) -> HttpResponse:
    number = normalize_item_number(item_number)
    form = ItemNumberForm(data={"item_number": number})
    if form.is_valid():  # well-formed, but no such unit
        form.add_error(
            "item_number", _("No unit has the item number %(number)s.") % {"number": number}
        )
    return render(request, "warehouse/unit_find.html", {"form": form}, status=404)


@station
@require_http_methods(["GET", "POST"])
def unit_detail(request: HttpRequest, item_number: str) -> HttpResponse:
    unit = selectors.unit_get(item_number=item_number)
    if unit is None:
        return _unit_not_found(request, item_number)
    if unit.item_number != item_number:  # typed in lower case, with a dash, an O for a 0...
        return redirect("warehouse:unit_detail", item_number=unit.item_number)
    form = RelocateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            movement = services.unit_relocate(
                item_number=unit.item_number,
                location_code=form.cleaned_data["location"],
                actor=request.user,
                note=form.cleaned_data["note"],
            )
        except DomainError as err:
            _add_error(form, err)
        else:
            messages.success(
                request,
                _("%(number)s moved to %(location)s.")
                % {"number": unit.item_number, "location": movement.to_location.code},
            )
            return redirect("warehouse:unit_detail", item_number=unit.item_number)
    usages = STATUS_LOCATION_USAGES[unit.status]
    return render(
        request,
        "warehouse/unit_detail.html",
        {
            "unit": unit,
            "history": selectors.unit_history(unit=unit),
            "form": form,
            "locations": [loc for loc in selectors.locations_active() if loc.usage in usages],
            "scan_form": ItemNumberForm(autofocus=False),
        },
    )


@station
@require_safe
def unit_label(request: HttpRequest, item_number: str) -> HttpResponse:
    """Reprint one unit's label (a torn or lost label gets the same item number and code)."""
    label = selectors.label_for_unit(item_number=item_number)
    if label is None:
        raise Http404
    return _pdf(render_labels([label], title=label.item_number), f"{label.item_number}.pdf")


# Receiving -----------------------------------------------------------------------------------


@station
@require_safe
def receive_find(request: HttpRequest) -> HttpResponse:
    form = ReferenceForm(request.GET if "reference" in request.GET else None)
    if form.is_bound and form.is_valid():
        return redirect("warehouse:receive", reference=form.cleaned_data["reference"])
    return render(
        request,
        "warehouse/receive_find.html",
        {"form": form, "inbound": selectors.inbound_open_list()},
        status=400 if form.is_bound else 200,
    )


def _shipment_or_response(request: HttpRequest, reference: str):
    """(shipment, None), or (None, the response to return: a redirect or a clear 404)."""
    try:
        canonical = normalize_reference(reference)
    except forms.ValidationError:  # not even shaped like a reference
        canonical = None
    shipment = selectors.inbound_get(reference=canonical) if canonical else None
    if shipment is None:
        form = ReferenceForm(data={"reference": reference})
        if form.is_valid():
            form.add_error(
                "reference",
                _("No inbound shipment has the reference %(reference)s.")
                % {"reference": canonical},
            )
        context = {"form": form, "inbound": selectors.inbound_open_list()}
        return None, render(request, "warehouse/receive_find.html", context, status=404)
    if reference != shipment.reference:
        return None, redirect("warehouse:receive", reference=shipment.reference)
    return shipment, None


def _receive_page(
    request: HttpRequest,
    shipment: InboundShipment,
    *,
    form: ReceiveForm | None = None,
    damage: DamageForm | None = None,
    status: int = 200,
) -> HttpResponse:
    lines = list(shipment.lines.all())
    if form is None:
        products = products_of_merchant(merchant_id=shipment.merchant_id)
        form = ReceiveForm(lines=lines, products=products)
    return render(
        request,
        "warehouse/receive.html",
        {
            "shipment": shipment,
            "is_open": shipment.status in OPEN_SHIPMENT,
            "form": form,
            "damage": damage or DamageForm(lines=lines),
            "receipts": selectors.inbound_receipts(shipment_id=shipment.pk),
            "discrepancies": selectors.inbound_discrepancies(shipment_id=shipment.pk),
        },
        status=status,
    )


@station
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, reference: str) -> HttpResponse:
    shipment, response = _shipment_or_response(request, reference)
    if response is not None:
        return response
    if request.method != "POST":
        return _receive_page(request, shipment)
    form = ReceiveForm(
        request.POST,
        lines=list(shipment.lines.all()),
        products=products_of_merchant(merchant_id=shipment.merchant_id),
    )
    if form.is_valid():
        try:
            received = services.inbound_receive(
                shipment=shipment,
                counts=form.counts(),
                actor=request.user,
                note=form.cleaned_data["note"],
            )
        except DomainError as err:
            form.add_error(None, err.message)
        else:
            n = len(received.unit_ids)
            messages.success(
                request,
                ngettext(
                    "%(n)s unit received into %(ref)s. Print its label and stick it on.",
                    "%(n)s units received into %(ref)s. Print their labels and stick them on.",
                    n,
                )
                % {"n": n, "ref": shipment.reference},
            )
            return redirect("warehouse:receipt_detail", pk=received.receipt.pk)
    return _receive_page(request, shipment, form=form)


@station
@require_POST
def receive_damage(request: HttpRequest, reference: str) -> HttpResponse:
    shipment, response = _shipment_or_response(request, reference)
    if response is not None:
        return response
    damage = DamageForm(request.POST, lines=list(shipment.lines.all()))
    if damage.is_valid():
        try:
            services.inbound_record_damage(
                shipment=shipment,
                product=damage.products[damage.cleaned_data["product"]],
                quantity=damage.cleaned_data["quantity"],
                actor=request.user,
                note=damage.cleaned_data["note"],
            )
        except DomainError as err:
            _add_error(damage, err)
        else:
            messages.success(
                request,
                ngettext(
                    "Recorded: %(n)s damaged item of %(product)s.",
                    "Recorded: %(n)s damaged items of %(product)s.",
                    damage.cleaned_data["quantity"],
                )
                % {
                    "n": damage.cleaned_data["quantity"],
                    "product": damage.products[damage.cleaned_data["product"]].name,
                },
            )
            return redirect("warehouse:receive", reference=shipment.reference)
    return _receive_page(request, shipment, damage=damage)


@station
@require_POST
def receive_close(request: HttpRequest, reference: str) -> HttpResponse:
    shipment, response = _shipment_or_response(request, reference)
    if response is not None:
        return response
    try:
        closed = services.inbound_close(shipment=shipment, actor=request.user)
    except DomainError as err:
        messages.error(request, err.message)
    else:
        found = selectors.inbound_discrepancies(shipment_id=closed.pk)
        messages.success(
            request,
            ngettext(
                "%(ref)s is closed with %(n)s discrepancy recorded.",
                "%(ref)s is closed with %(n)s discrepancies recorded.",
                len(found),
            )
            % {"ref": closed.reference, "n": len(found)},
        )
    return redirect("warehouse:receive", reference=shipment.reference)


@station
@require_safe
def receipt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = selectors.receipt_get(receipt_id=pk)
    if receipt is None:
        raise Http404
    units = selectors.receipt_units(receipt_id=pk)
    groups = [
        (group[0].product, group)
        for _pid, group in (
            (pid, list(g)) for pid, g in itertools.groupby(units, key=lambda u: u.product_id)
        )
    ]
    return render(
        request,
        "warehouse/receipt.html",
        {"receipt": receipt, "groups": groups, "unit_count": len(units)},
    )


@station
@require_safe
def receipt_labels(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = selectors.receipt_get(receipt_id=pk)
    if receipt is None:
        raise Http404
    labels = selectors.labels_for_receipt(receipt_id=pk)
    return _pdf(render_labels(labels, title=f"{receipt} {receipt.shipment}"), f"{receipt}.pdf")


# Cycle counts --------------------------------------------------------------------------------


@station
@require_http_methods(["GET", "POST"])
def count_start(request: HttpRequest) -> HttpResponse:
    form = CountStartForm(request.POST or None, locations=selectors.locations_active())
    if request.method == "POST" and form.is_valid():
        try:
            count = services.stock_count_start(
                location=form.locations[form.cleaned_data["location"]], actor=request.user
            )
        except DomainError as err:
            _add_error(form, err)
        else:
            return redirect("warehouse:count_detail", pk=count.pk)
    return render(
        request,
        "warehouse/count_start.html",
        {"form": form, "counts": selectors.stock_counts_recent()},
    )


@station
@require_http_methods(["GET", "POST"])
def count_detail(request: HttpRequest, pk: int) -> HttpResponse:
    count = selectors.stock_count_get(count_id=pk)
    if count is None:
        raise Http404
    form = ItemNumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.stock_count_scan(
                count=count, item_number=form.cleaned_data["item_number"]
            )
        except DomainError as err:
            _add_error(form, err)
        else:
            if unit.location_id == count.location_id:
                messages.success(
                    request,
                    _("Seen: %(number)s · %(product)s")
                    % {"number": unit.item_number, "product": unit.product.name},
                )
            else:
                messages.warning(
                    request,
                    _(
                        "Seen: %(number)s · %(product)s. The records put it at %(location)s; "
                        "closing the count moves it here if its status allows."
                    )
                    % {
                        "number": unit.item_number,
                        "product": unit.product.name,
                        "location": unit.location.code,
                    },
                )
            return redirect("warehouse:count_detail", pk=count.pk)
    return render(
        request,
        "warehouse/count_detail.html",
        {"count": count, "form": form, "scans": selectors.stock_count_scans(count_id=pk)},
    )


@station
@require_POST
def count_close(request: HttpRequest, pk: int) -> HttpResponse:
    count = selectors.stock_count_get(count_id=pk)
    if count is None:
        raise Http404
    try:
        closed = services.stock_count_close(count=count, actor=request.user)
    except DomainError as err:
        messages.error(request, err.message)
    else:
        messages.success(
            request,
            _(
                "Count closed: %(found)s of %(expected)s expected units found, "
                "%(missing)s missing, %(relocated)s moved here."
            )
            % {
                "found": closed.found,
                "expected": closed.expected,
                "missing": closed.missing,
                "relocated": closed.relocated,
            },
        )
    return redirect(reverse("warehouse:count_detail", kwargs={"pk": pk}))


# Pick, pack and ship (the orders app owns the order; these stations scan units and parcels) -----

BATCH_SIZE = 5


def _scan_outcome(request: HttpRequest, form, call, success: str) -> bool:
    """Run a scan; a refusal becomes the form's error (the red cue), success a message."""
    try:
        call()
    except DomainError as err:
        _add_error(form, err)
        return False
    messages.success(request, success)
    return True


def _scanned_order(request: HttpRequest):
    """The order-number scan box of the pick and pack stations: (form, order or None)."""
    form = OrderNumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        order = orders_selectors.order_for_fulfilment(number=form.cleaned_data["order"])
        if order is None:
            form.add_error("order", _("No order has this number."))
        return form, order
    return form, None


@station
@require_http_methods(["GET", "POST"])
def pick_start(request: HttpRequest) -> HttpResponse:
    """Orders waiting to be picked; scan an order number, or pick the next few as a batch."""
    form, order = _scanned_order(request)
    if order is not None:
        return redirect("warehouse:pick", numbers=order.number)
    waiting = orders_selectors.orders_to_fulfil()
    batch = [o.number for o in waiting[:BATCH_SIZE]]
    return render(
        request,
        "warehouse/pick_start.html",
        {"form": form, "orders": waiting, "batch": ",".join(batch), "batch_count": len(batch)},
    )


@station
@require_http_methods(["GET", "POST"])
def pick(request: HttpRequest, numbers: str) -> HttpResponse:
    """The pick list of one order or a batch, sorted by bin; each scanned unit is assigned to
    the longest-waiting order of the batch that still needs its product."""
    wanted = [n for n in numbers.upper().split(",") if n][:20]
    orders = [o for n in wanted if (o := orders_selectors.order_for_fulfilment(number=n))]
    if not orders:
        raise Http404
    form = ItemNumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        item = form.cleaned_data["item_number"]
        refusal = None
        for order in orders:
            try:
                line = orders_services.fulfil_pick(
                    order_number=order.number, item_number=item, actor=request.user
                )
            except DomainError as err:
                if err.code in ("wrong_product", "nothing_to_pick", "not_pickable") and (
                    len(orders) > 1
                ):
                    refusal = refusal or err
                    continue
                refusal = err
                break
            messages.success(
                request,
                _("Picked %(item)s for %(order)s · %(product)s")
                % {"item": item, "order": order.number, "product": line.product_name},
            )
            return redirect("warehouse:pick", numbers=",".join(o.number for o in orders))
        if refusal is not None:
            _add_error(form, refusal)
    rows = orders_selectors.pick_rows(orders=orders)
    return render(
        request,
        "warehouse/pick.html",
        {
            "form": form,
            "orders": orders,
            "rows": rows,
            "done": all(row.picked >= row.quantity for row in rows),
            "numbers": ",".join(o.number for o in orders),
        },
    )


@station
@require_http_methods(["GET", "POST"])
def pack_start(request: HttpRequest) -> HttpResponse:
    form, order = _scanned_order(request)
    if order is not None:
        return redirect("warehouse:pack", number=order.number)
    ready = orders_selectors.orders_to_pack()
    return render(request, "warehouse/pack_start.html", {"form": form, "orders": ready})


@station
@require_http_methods(["GET", "POST"])
def pack(request: HttpRequest, number: str) -> HttpResponse:
    """Scan the order's units into its parcel, weigh it, print the slip and the carrier label."""
    order = orders_selectors.order_for_fulfilment(number=number)
    if order is None:
        raise Http404
    closing = request.method == "POST" and "weight_grams" in request.POST
    form = ItemNumberForm(request.POST if request.method == "POST" and not closing else None)
    weight = WeightForm(request.POST if closing else None)
    if request.method == "POST" and not closing and form.is_valid():
        item = form.cleaned_data["item_number"]
        if _scan_outcome(
            request,
            form,
            lambda: orders_services.fulfil_pack_scan(
                order_number=order.number, item_number=item, actor=request.user
            ),
            _("Packed %(item)s.") % {"item": item},
        ):
            return redirect("warehouse:pack", number=order.number)
    if closing and weight.is_valid():
        try:
            parcel = orders_services.fulfil_pack_close(
                order_number=order.number,
                weight_grams=weight.cleaned_data["weight_grams"],
                actor=request.user,
            )
        except DomainError as err:
            _add_error(weight, err)
        else:
            # Customs may have answered already (the simulated authority, without a delay).
            refusal = orders_services.customs_rejection_notice(
                declaration=logistics_selectors.declaration_for(order_ref=order.number),
                order_number=order.number,
                parcel_code=parcel.code,
            )
            if refusal:
                messages.error(request, refusal)
            else:
                messages.success(
                    request,
                    _(
                        "Parcel %(parcel)s closed: waybill %(waybill)s. Print the label and the "
                        "slip."
                    )
                    % {"parcel": parcel.code, "waybill": parcel.waybill},
                )
            return redirect("warehouse:pack", number=order.number)
    rows = orders_selectors.pick_rows(orders=[order])
    parcels = selectors.parcels_for_order(order_ref=order.number)
    units = selectors.units_for_reservations(
        reservation_ids=[row.line.reservation_id for row in rows]
    )
    all_packed = bool(rows) and all(row.packed >= row.quantity for row in rows)
    if all_packed and not form.errors:
        # Nothing is left to scan: the scale's reading goes into the weight box next.
        form.fields["item_number"].widget.attrs.pop("autofocus", None)
        weight.fields["weight_grams"].widget.attrs["autofocus"] = True
    return render(
        request,
        "warehouse/pack.html",
        {
            "order": order,
            "form": form,
            "weight": weight,
            "rows": rows,
            "units": units,
            "parcels": parcels,
            "all_packed": all_packed,
            "declaration": logistics_selectors.declaration_for(order_ref=order.number),
        },
    )


@station
@require_safe
def parcel_document(request: HttpRequest, code: str, kind: str) -> HttpResponse:
    """The packing slip or the carrier label of a parcel, as a PDF."""
    parcel = selectors.parcel_get(code=code)
    if parcel is None or not parcel.waybill or kind not in PARCEL_DOCUMENTS:
        raise Http404
    if parcel.status == "cancelled":  # unpacked (customs refused the order): nothing ships
        raise Http404
    order = orders_selectors.order_for_fulfilment(number=parcel.order_ref)
    units = list(parcel.units.select_related("product").order_by("pk"))
    content = render_parcel_document(kind=kind, parcel=parcel, order=order, units=units)
    return _pdf(content, f"{parcel.code}-{kind}.pdf")


@station
@require_http_methods(["GET", "POST"])
def ship(request: HttpRequest) -> HttpResponse:
    """Handover to the carrier: scan each parcel; its units and its order become shipped."""
    form = ParcelCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["parcel"]
        if _scan_outcome(
            request,
            form,
            lambda: orders_services.fulfil_ship(parcel_code=code, actor=request.user),
            _("Shipped %(parcel)s.") % {"parcel": code},
        ):
            return redirect("warehouse:ship")
    waiting = orders_selectors.orders_packed()
    parcels = selectors.parcels_for_orders(order_refs=[o.number for o in waiting])
    declarations = logistics_selectors.declarations_for(order_refs=[o.number for o in waiting])
    rows = [
        (order, parcel, declarations.get(order.number))
        for order in waiting
        for parcel in parcels.get(order.number, [])
        if parcel.status == "packed"
    ]
    return render(request, "warehouse/ship.html", {"form": form, "rows": rows})
