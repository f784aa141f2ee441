"""Reads of logistics: which regime and shipping methods serve a country, and the landed cost.

`landed_cost` is the one place that prices a cross-border order: goods, shipping, import taxes and
duties, and the limits the order breaks (each with a message saying which limit and by how much).
Every figure comes from the rule and rate rows in force on the order's day.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.money import cents, format_money

from .models import (
    CustomsDeclaration,
    CustomsRegime,
    DutiableBasis,
    RegimeRule,
    Shipment,
    ShippingMethod,
    TaxRate,
    TrackingEvent,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class CostLine:
    key: int  # the caller's id for the line (the product id)
    hs_code: str
    quantity: int
    unit_price: Decimal  # CNY

    @property
    def goods(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class LineTax:
    key: int
    goods: Decimal
    freight_share: Decimal
    tax: Decimal
    vat_rate: Decimal
    consumption_tax_rate: Decimal


@dataclass(frozen=True)
class LimitProblem:
    code: str  # destination / per_order / annual / no_rule / no_rate
    message: str


@dataclass
class LandedCost:
    regime: CustomsRegime | None
    goods: Decimal = ZERO
    shipping: Decimal = ZERO
    tax: Decimal = ZERO
    duty: Decimal = ZERO
    dutiable: Decimal = ZERO  # CNY value that counts toward the orderer's annual limit
    full_tax: bool = False
    lines: list[LineTax] = field(default_factory=list)
    problems: list[LimitProblem] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.goods + self.shipping + self.tax + self.duty

    @property
    def ok(self) -> bool:
        return not self.problems


def _in_force(on: date) -> Q:
    return Q(effective_from__lte=on) & (Q(effective_to__isnull=True) | Q(effective_to__gte=on))


def regime_for_destination(*, country: str) -> CustomsRegime | None:
    country = (country or "").upper()
    for regime in CustomsRegime.objects.filter(is_active=True):
        if country in regime.destination_set:
            return regime
    return None


def shipping_methods_for(*, country: str) -> list[ShippingMethod]:
    regime = regime_for_destination(country=country)
    if regime is None:
        return []
    return list(ShippingMethod.objects.filter(regime=regime, is_active=True))


def shipping_method_get(*, code: str) -> ShippingMethod | None:
    return ShippingMethod.objects.select_related("regime").filter(code=code, is_active=True).first()


def shipping_price(*, method: ShippingMethod, weight_grams: int) -> Decimal:
    """Base price plus the price of every started kilogram."""
    kilos = max(1, math.ceil(weight_grams / 1000))
    return cents(method.base_price_cny + method.per_kg_cny * kilos)


def rule_in_force(*, regime: CustomsRegime, on: date) -> RegimeRule | None:
    return regime.rules.filter(_in_force(on)).order_by("-effective_from").first()


def _rate_for(rates: Sequence[TaxRate], hs_code: str, country: str) -> TaxRate | None:
    """Longest matching HS prefix; a country-specific row beats a regime-wide one."""
    best, best_key = None, (-1, -1)
    for rate in rates:
        if not hs_code.startswith(rate.hs_prefix):
            continue
        if rate.destination and rate.destination != country:
            continue
        key = (len(rate.hs_prefix), 1 if rate.destination else 0)
        if key > best_key:
            best, best_key = rate, key
    return best


def _split_freight(lines: Sequence[CostLine], shipping: Decimal) -> list[Decimal]:
    """Shipping shared out in proportion to each line's goods; the cents left go to the last."""
    goods = sum((line.goods for line in lines), ZERO)
    if not lines or goods <= 0:
        return [ZERO for _line in lines]
    shares = [cents(shipping * line.goods / goods) for line in lines]
    shares[-1] += shipping - sum(shares, ZERO)
    return shares


def _money(amount: Decimal, currency: str) -> str:
    return format_money(cents(amount), currency)


def landed_cost(
    *,
    country: str,
    lines: Sequence[CostLine],
    method: ShippingMethod | None,
    weight_grams: int,
    cny_per_unit: dict[str, Decimal],
    annual_used: Decimal = ZERO,
    on: date | None = None,
) -> LandedCost:
    """Price an order for `country` and list every limit it breaks (`ok` when none)."""
    on = on or timezone.localdate()
    country = (country or "").upper()
    regime = regime_for_destination(country=country)
    cost = LandedCost(regime=regime, goods=sum((line.goods for line in lines), ZERO))
    if regime is None:
        cost.problems.append(
            LimitProblem(
                "destination",
                _("We cannot deliver cross-border orders to this country yet (%(country)s).")
                % {"country": country or "?"},
            )
        )
        return cost
    if method is not None and method.regime_id != regime.pk:
        method = None
    if method is None:
        cost.problems.append(
            LimitProblem("no_method", _("Choose a shipping method that delivers to this address."))
        )
        return cost
    rule = rule_in_force(regime=regime, on=on)
    if rule is None:
        cost.problems.append(
            LimitProblem("no_rule", _("Cross-border orders are closed for this destination today."))
        )
        return cost
    cost.shipping = shipping_price(method=method, weight_grams=weight_grams)
    # Limits are stated in the regime's currency; amounts are kept in CNY.
    to_regime = Decimal(1) / cny_per_unit.get(regime.currency, Decimal(1))
    per_order_base = cost.goods + (
        cost.shipping if rule.per_order_basis == DutiableBasis.GOODS_AND_FREIGHT else ZERO
    )
    cost.dutiable = cost.goods + (cost.shipping if rule.tax_on_freight else ZERO)

    single_item = sum(line.quantity for line in lines) == 1
    annual_after = annual_used + cost.dutiable
    within_annual = rule.annual_limit is None or annual_after <= rule.annual_limit * (1 / to_regime)
    if rule.per_order_limit is not None and per_order_base * to_regime > rule.per_order_limit:
        if rule.single_item_exception and single_item and within_annual:
            cost.full_tax = True
        else:
            value = per_order_base * to_regime
            cost.problems.append(
                LimitProblem(
                    "per_order",
                    _(
                        "This order comes to %(value)s (%(basis)s), %(over)s over the "
                        "%(limit)s limit for one cross-border order. Remove items or split "
                        "them into separate orders."
                    )
                    % {
                        "value": _money(value, regime.currency),
                        "basis": rule.get_per_order_basis_display().lower(),
                        "over": _money(value - rule.per_order_limit, regime.currency),
                        "limit": _money(rule.per_order_limit, regime.currency),
                    },
                )
            )
    if rule.annual_limit is not None and not within_annual:
        limit_cny = rule.annual_limit / to_regime
        cost.problems.append(
            LimitProblem(
                "annual",
                _(
                    "This order would bring this year's cross-border purchases for this ID "
                    "number to %(after)s, %(over)s over the annual limit of %(limit)s "
                    "(already used: %(used)s)."
                )
                % {
                    "after": _money(annual_after, "CNY"),
                    "over": _money(annual_after - limit_cny, "CNY"),
                    "limit": _money(limit_cny, "CNY"),
                    "used": _money(annual_used, "CNY"),
                },
            )
        )

    rates = list(TaxRate.objects.filter(Q(regime=regime) & _in_force(on)))
    freight = _split_freight(lines, cost.shipping if rule.tax_on_freight else ZERO)
    for line, share in zip(lines, freight, strict=True):
        rate = _rate_for(rates, line.hs_code, country)
        if rate is None:
            cost.problems.append(
                LimitProblem(
                    "no_rate",
                    _(
                        "No import tax rate covers HS code %(hs)s yet; this item cannot be sold "
                        "cross-border for now."
                    )
                    % {"hs": line.hs_code},
                )
            )
            continue
        base = line.goods + share
        ct, vat = rate.consumption_tax_rate, rate.vat_rate
        if cost.full_tax:
            tariff = cents(base * rate.tariff_rate)
            consumption = cents((base + tariff) / (1 - ct) * ct)
            tax = tariff + consumption + cents((base + tariff + consumption) * vat)
        else:
            tax = cents(base * (ct + vat) / (1 - ct) * rule.tax_factor)
        cost.lines.append(LineTax(line.key, line.goods, share, tax, vat, ct))
        cost.tax += tax
    if rule.duty_per_tariff_heading:
        headings = {line.hs_code[:6] for line in lines}
        cost.duty = cents(rule.duty_per_tariff_heading * len(headings) / to_regime)
    return cost


def regime_get(*, code: str) -> CustomsRegime | None:
    return CustomsRegime.objects.filter(code=code).first()


def declaration_for(*, order_ref: str) -> CustomsDeclaration | None:
    return CustomsDeclaration.objects.filter(order_ref=order_ref).first()


def declarations_for(*, order_refs: list[str]) -> dict[str, CustomsDeclaration]:
    return {d.order_ref: d for d in CustomsDeclaration.objects.filter(order_ref__in=order_refs)}


def shipments_for_order(*, order_ref: str) -> list[Shipment]:
    """The order's shipments with their tracking events (2 queries)."""
    return list(
        Shipment.objects.filter(order_ref=order_ref)
        .prefetch_related(
            Prefetch("events", queryset=TrackingEvent.objects.order_by("occurred_at", "id"))
        )
        .order_by("created_at")
    )


def shipment_for_parcel(*, parcel_code: str) -> Shipment | None:
    return Shipment.objects.filter(parcel_code=parcel_code).first()


def tracking_expression(*, order_ref_field: str) -> Any:
    """ORM expression: "<waybill> · <status>" of the order's latest shipment ('' if none)."""
    from django.db.models import OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce, Concat

    latest = Shipment.objects.filter(order_ref=OuterRef(order_ref_field)).order_by("-created_at")
    return Coalesce(
        Subquery(
            latest.annotate(label=Concat("waybill", Value(" · "), "status")).values("label")[:1]
        ),
        Value(""),
    )
