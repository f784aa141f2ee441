"""Reads of orders for pages and other apps, each with the joins it needs."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from catalog import selectors as catalog_selectors
from core.money import cents
from logistics import selectors as logistics_selectors
from warehouse import selectors as warehouse_selectors

from .models import Cart, CartLine, Order, OrdererQuota, OrderEvent, OrderLine, Refund, StockNotice
from .states import CANCELLABLE, OrderStatus

ZERO = Decimal(0)


@dataclass
class CartRow:
    product: Any
    quantity: int
    limit: int  # what can be bought now (sellable within the merchant's cap)
    unit_price_cny: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price_cny * self.quantity

    @property
    def short(self) -> bool:
        return self.quantity > self.limit


@dataclass
class CartView:
    cart: Cart | None
    rows: list[CartRow] = field(default_factory=list)
    gone: int = 0  # lines whose product is no longer for sale

    @property
    def count(self) -> int:
        return sum(row.quantity for row in self.rows)

    @property
    def goods(self) -> Decimal:
        return sum((row.total for row in self.rows), ZERO)

    @property
    def merchants(self) -> int:
        return len({row.product.merchant_id for row in self.rows})

    @property
    def weight_grams(self) -> int:
        return sum(row.product.weight_grams * row.quantity for row in self.rows)

    @property
    def ready(self) -> bool:
        return bool(self.rows) and not any(row.short for row in self.rows)


def cart_view(*, cart: Cart | None) -> CartView:
    """The cart's lines with live prices (CNY) and live purchasable quantities: 4 queries."""
    if cart is None:
        return CartView(None)
    lines = list(CartLine.objects.filter(cart=cart).order_by("added_at", "id"))
    products = catalog_selectors.products_for_sale(ids=[line.product_id for line in lines])
    sellable = warehouse_selectors.sellable_quantities(product_ids=list(products))
    rates = catalog_selectors.exchange_rates()
    view = CartView(cart)
    for line in lines:
        product = products.get(line.product_id)
        rate = rates.get(product.currency) if product else None
        if product is None or rate is None:
            view.gone += 1
            continue
        limit = sellable[product.pk]
        if product.listed_quantity_cap is not None:
            limit = min(limit, product.listed_quantity_cap)
        view.rows.append(
            CartRow(product, line.quantity, limit, cents(product.price * rate.cny_per_unit))
        )
    return view


def cart_for_user(*, user: Any) -> Cart | None:
    return Cart.objects.filter(user=user).first()


def cart_count(*, cart_id: int | None = None, user: Any = None) -> int:
    qs = CartLine.objects.all()
    if user is not None and user.is_authenticated:
        qs = qs.filter(cart__user=user)
    elif cart_id:
        qs = qs.filter(cart_id=cart_id, cart__user__isnull=True)
    else:
        return 0
    return sum(qs.values_list("quantity", flat=True))


def quota_used(*, id_index: str, year: int | None = None) -> Decimal:
    year = year or timezone.localdate().year
    row = OrdererQuota.objects.filter(id_index=id_index, year=year).first()
    return row.used if row else ZERO


def orders_for_buyer(*, user: Any) -> QuerySet[Order]:
    return Order.objects.filter(buyer=user).prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
    )


def order_for_buyer(*, user: Any, number: str) -> Order:
    """The buyer's own order with its lines, events, payments and refunds; others 404."""
    order = (
        Order.objects.filter(buyer=user, number=number)
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
            Prefetch("events", queryset=OrderEvent.objects.order_by("id")),
            Prefetch("refunds", queryset=Refund.objects.order_by("id")),
            "payments",
        )
        .first()
    )
    if order is None:
        raise Http404
    return order


def order_display_total(order: Order) -> Decimal | None:
    """The total in the buyer's display currency at the rate snapshotted with the order."""
    if order.display_currency == "CNY":
        return None
    snapshot = order.fx_snapshot.get(order.display_currency)
    if not snapshot:
        return None
    return cents(order.total / Decimal(snapshot["rate"]))


SHIPPING_STATES = frozenset(
    {
        OrderStatus.PACKED,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.REFUNDED,
    }
)


def order_shipments(order: Order) -> list[Any]:
    """The order's parcels in the carriers' hands with their tracking (none before packing)."""
    if order.status not in SHIPPING_STATES:
        return []
    return logistics_selectors.shipments_for_order(order_ref=order.number)


def order_is_cancellable(order: Order) -> bool:
    return order.status in CANCELLABLE


def order_awaits_payment(order: Order) -> bool:
    return order.status == OrderStatus.PENDING_PAYMENT and order.expires_at > timezone.now()


def stock_notice_exists(*, user: Any, product_id: int) -> bool:
    if not user.is_authenticated:
        return False
    return StockNotice.objects.filter(
        user=user, product_id=product_id, notified_at__isnull=True
    ).exists()


def stock_notice_demand(*, product_ids: list[int]) -> dict[int, int]:
    """Buyers waiting per product (the demand an out-of-stock record lost)."""
    from django.db.models import Count

    rows = (
        StockNotice.objects.filter(product_id__in=product_ids, notified_at__isnull=True)
        .values("product_id")
        .annotate(n=Count("id"))
    )
    return {row["product_id"]: row["n"] for row in rows}


def waiting_buyers_expression(*, product_field: str) -> Any:
    """An ORM expression: how many buyers wait for the product in `product_field` (0 if none)."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    waiting = (
        StockNotice.objects.filter(product_id=OuterRef(product_field), notified_at__isnull=True)
        .values("product_id")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(waiting, output_field=IntegerField()), Value(0))


def shipping_options(*, country: str, weight_grams: int) -> list[tuple[Any, Decimal]]:
    return [
        (method, logistics_selectors.shipping_price(method=method, weight_grams=weight_grams))
        for method in logistics_selectors.shipping_methods_for(country=country)
    ]


# Fulfilment (the warehouse stations) -----------------------------------------------------


@dataclass
class PickRow:
    order_number: str
    line: OrderLine
    quantity: int
    picked: int
    packed: int
    bins: list[tuple[str, int]]

    @property
    def first_bin(self) -> str:
        return self.bins[0][0] if self.bins else "~"


def orders_to_fulfil(*, limit: int = 50) -> list[Order]:
    """Paid orders still to pick or pack, the longest-waiting first."""
    from .states import OPEN_FOR_FULFILMENT

    return list(
        Order.objects.filter(status__in=OPEN_FOR_FULFILMENT)
        .order_by("paid_at", "id")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.exclude(status="cancelled").order_by("id"))
        )[:limit]
    )


def orders_to_pack(*, limit: int = 50) -> list[Order]:
    """Orders being picked (the pack station's list), the longest-waiting first.

    Not the allocated ones among `orders_to_fulfil`: behind a backlog of paid orders waiting to
    be picked, its first `limit` are all paid and the pack station listed nothing.
    """
    return list(
        Order.objects.filter(status=OrderStatus.ALLOCATED)
        .order_by("paid_at", "id")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.exclude(status="cancelled").order_by("id"))
        )[:limit]
    )


def orders_packed(*, limit: int = 50) -> list[Order]:
    return list(Order.objects.filter(status=OrderStatus.PACKED).order_by("updated_at")[:limit])


def order_for_fulfilment(*, number: str) -> Order | None:
    return (
        Order.objects.filter(number=(number or "").strip().upper())
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.exclude(status="cancelled").order_by("id"))
        )
        .first()
    )


def pick_rows(*, orders: list[Order]) -> list[PickRow]:
    """Every open line of these orders with its progress and bins, sorted by the first bin."""
    lines = [
        (order.number, line)
        for order in orders
        for line in order.lines.all()
        if line.reservation_id and line.status != "cancelled"
    ]
    progress = warehouse_selectors.reservation_progress(
        reservation_ids=[line.reservation_id for _n, line in lines]
    )
    bins = warehouse_selectors.pick_locations(product_ids={line.product_id for _n, line in lines})
    rows = [
        PickRow(
            number,
            line,
            line.quantity,
            progress[line.reservation_id].picked if line.reservation_id in progress else 0,
            progress[line.reservation_id].packed if line.reservation_id in progress else 0,
            bins.get(line.product_id, []),
        )
        for number, line in lines
    ]
    return sorted(rows, key=lambda row: (row.picked >= row.quantity, row.first_bin))


@dataclass(frozen=True)
class LineBuyer:
    """Who bought an order line (the survey module finds the buyer of an item number by it)."""

    line_id: int
    buyer_id: int
    order_number: str
    product_name: str
    line_status: str


def line_buyers(*, line_ids: list[int]) -> dict[int, LineBuyer]:
    """The buyer, order number and status of each order line (one query)."""
    rows = OrderLine.objects.filter(pk__in=line_ids).values_list(
        "pk", "order__buyer_id", "order__number", "product_name", "status"
    )
    return {row[0]: LineBuyer(*row) for row in rows}
