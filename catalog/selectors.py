"""Reads of the catalog, each with the joins it needs and a query count pinned by tests."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import Count, F, Q, QuerySet, Window
from django.http import Http404
from django.utils import timezone
from django.utils.translation import get_language

from .fragments import catalog_version, catalog_version_bump
from .models import Category, ExchangeRate, ListingStatus, Product, ProductImage

SORTS = ("newest", "price_asc", "price_desc", "rating", "relevance")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass
class CategoryNode:
    id: int
    name: str
    name_zh: str
    slug: str
    parent_id: int | None
    position: int
    children: list["CategoryNode"] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        if self.name_zh and (get_language() or "").startswith("zh"):
            return self.name_zh
        return self.name


@dataclass
class CategoryTree:
    roots: list[CategoryNode]
    by_id: dict[int, CategoryNode]
    by_slug: dict[str, CategoryNode]

    def descendant_ids(self, node_id: int) -> list[int]:
        out, stack = [], [self.by_id[node_id]]
        while stack:
            node = stack.pop()
            out.append(node.id)
            stack.extend(node.children)
        return out

    def ancestors(self, node_id: int) -> list[CategoryNode]:
        chain, node = [], self.by_id.get(node_id)
        while node is not None:
            chain.append(node)
            node = self.by_id.get(node.parent_id) if node.parent_id else None
        return list(reversed(chain))


def _build_tree() -> CategoryTree:
    rows = Category.objects.order_by("position", "name").values_list(
        "id", "name", "name_zh", "slug", "parent_id", "position"
    )
    nodes = [CategoryNode(*row) for row in rows]
    by_id = {n.id: n for n in nodes}
    roots = []
    for node in nodes:
        parent = by_id.get(node.parent_id) if node.parent_id else None
        (parent.children if parent else roots).append(node)
    return CategoryTree(roots=roots, by_id=by_id, by_slug={n.slug: n for n in nodes})


# This worker's tree and the catalog version it was built under (see category_tree).
_tree_memo: tuple[str, CategoryTree] | None = None


def category_tree(*, version: str | None = None) -> CategoryTree:
    """The whole category tree, kept in this worker while the catalog version stays the same.

    Every catalog write changes the version (catalog.services), so a changed category is seen
    on the next request; a current tree costs one cache read of the version (none when the
    caller already holds it), not the unpickling of the tree from the shared cache.
    """
    global _tree_memo
    version = version or catalog_version()
    memo = _tree_memo
    if memo is not None and memo[0] == version:
        return memo[1]
    tree = _build_tree()
    _tree_memo = (version, tree)
    return tree


def category_get(*, pk: int) -> Category:
    return Category.objects.get(pk=pk)


def product_slugs_with_prefix(*, prefix: str) -> set[str]:
    return set(Product.objects.filter(slug__startswith=prefix).values_list("slug", flat=True))


def products_of_merchant(*, merchant_id: int, ids: list[int] | None = None) -> list[Product]:
    """A merchant's products (any listing status), optionally only these ids."""
    qs = Product.objects.filter(merchant_id=merchant_id)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return list(qs.order_by("pk"))


def products_by_ids(*, ids: list[int]) -> dict[int, Product]:
    return Product.objects.select_related("merchant", "cover").in_bulk(ids)


def products_for_sale(*, ids: list[int]) -> dict[int, Product]:
    """The listed products among these ids, with merchant and cover (for carts and checkout)."""
    return (
        Product.objects.select_related("merchant", "cover")
        .filter(status=ListingStatus.LISTED)
        .in_bulk(ids)
    )


def category_tree_invalidate() -> None:
    """Every worker rebuilds its tree (and every cached catalog page) on its next request."""
    catalog_version_bump()


@dataclass(frozen=True)
class ProductFilters:
    q: str = ""
    category: CategoryNode | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    rating_min: Decimal | None = None
    sort: str = "newest"


def _search_terms(q: str) -> list[str]:
    return TOKEN.findall(q.lower())[:8]


def _full_text(filters: ProductFilters) -> bool:
    """PostgreSQL full-text search (words with no CJK characters); else LIKE matching."""
    return bool(_search_terms(filters.q)) and settings.IS_POSTGRES and not CJK.search(filters.q)


def _ranked(filters: ProductFilters) -> bool:
    """Ordered by full-text rank: every match is read to rank it, whatever the page."""
    return filters.sort == "relevance" and _full_text(filters)


def product_list_queryset(
    filters: ProductFilters, *, tree: CategoryTree | None = None
) -> QuerySet[Product]:
    """Listed products matching the filters, in the requested order."""
    qs = Product.objects.filter(status=ListingStatus.LISTED)
    if filters.category is not None:
        ids = (tree or category_tree()).descendant_ids(filters.category.id)
        qs = qs.filter(category_id__in=ids)
    if filters.price_min is not None:
        qs = qs.filter(price_cny__gte=filters.price_min)
    if filters.price_max is not None:
        qs = qs.filter(price_cny__lte=filters.price_max)
    if filters.rating_min is not None:
        qs = qs.filter(rating_avg__gte=filters.rating_min)
    sort = filters.sort
    terms = _search_terms(filters.q)
    if terms:
        if _full_text(filters):
            # Every word must match; the last may be a prefix ("leath" finds "leather").
            raw = " & ".join([*terms[:-1], f"{terms[-1]}:*"])
            query = SearchQuery(raw, search_type="raw", config="simple")
            qs = qs.filter(search_vector=query)
            if sort == "relevance":
                qs = qs.annotate(rank=SearchRank(F("search_vector"), query)).order_by(
                    "-rank", "-id"
                )
        else:
            for term in terms:
                qs = qs.filter(Q(name__icontains=term) | Q(description__icontains=term))
    if sort == "relevance" and not _ranked(filters):
        sort = "newest"
    if sort == "price_asc":
        qs = qs.order_by("price_cny", "id")
    elif sort == "price_desc":
        qs = qs.order_by("-price_cny", "-id")
    elif sort == "rating":
        qs = qs.order_by(F("rating_avg").desc(nulls_last=True), "-rating_count", "-id")
    elif sort == "newest":
        qs = qs.order_by("-listed_at", "-id")
    return qs.select_related("merchant", "cover").only(
        "id",
        "name",
        "slug",
        "price",
        "currency",
        "price_cny",
        "rating_avg",
        "rating_count",
        "updated_at",
        "listed_at",
        "merchant__name",
        "merchant__slug",
        "cover__thumbnail",
        "cover__alt",
    )


@dataclass
class ProductPage:
    products: list[Product]
    number: int
    page_size: int
    count: int
    count_capped: bool

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def start_index(self) -> int:
        return 0 if not self.products else (self.number - 1) * self.page_size + 1

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.products) - 1 if self.products else 0

    def page_range(self) -> list[int | None]:
        """Page numbers around the current one, with None for gaps: [1, None, 4, 5, 6, None, 20]."""
        last, cur = self.num_pages, self.number
        shown = sorted({1, last, *range(max(1, cur - 2), min(last, cur + 2) + 1)})
        out: list[int | None] = []
        for i, n in enumerate(shown):
            if i and n - shown[i - 1] > 1:
                out.append(None)
            out.append(n)
        return out


def product_page(
    filters: ProductFilters, *, page: int, page_size: int, tree: CategoryTree | None = None
) -> ProductPage:
    """One page of listed products: 2 queries (a capped count and the page) whatever N is.

    A search by relevance ranks every match before it can return a page: there the first query
    ranks and counts the matches (COUNT(*) OVER ()) on the product table alone, returning the
    page's ids, and the second reads those products with their merchant and cover. Joining for
    every match, or counting them in a query of their own, took twice as long.
    """
    qs = product_list_queryset(filters, tree=tree)
    cap = settings.CATALOG_COUNT_CAP
    if _ranked(filters):
        # Pages past the cap are not served (as below); past the last match, see the fallback.
        number = min(max(1, page), max(1, -(-cap // page_size)))
        offset = (number - 1) * page_size
        ranked = list(
            qs.select_related(None)
            .annotate(total=Window(Count("*")))
            .values_list("pk", "total")[offset : offset + page_size]
        )
        if ranked or number == 1:
            found = {p.pk: p for p in qs.filter(pk__in=[pk for pk, _ in ranked])} if ranked else {}
            total = ranked[0][1] if ranked else 0
            return ProductPage(
                # A product unlisted between the two queries is left out.
                products=[found[pk] for pk, _ in ranked if pk in found],
                number=number,
                page_size=page_size,
                count=min(total, cap),
                count_capped=total > cap,
            )
    # Counting stops at the cap: a count over 100,000 rows per request is work nobody reads.
    count = qs.order_by().values("pk")[: cap + 1].count()
    capped = count > cap
    count = min(count, cap)
    last = max(1, -(-count // page_size))
    number = min(max(1, page), last)
    offset = (number - 1) * page_size
    products = list(qs[offset : offset + page_size]) if count else []
    return ProductPage(
        products=products, number=number, page_size=page_size, count=count, count_capped=capped
    )


def product_newest(*, limit: int = 12) -> list[Product]:
    return list(product_list_queryset(ProductFilters(sort="newest"))[:limit])


def product_best_rated(*, limit: int = 12) -> list[Product]:
    qs = product_list_queryset(ProductFilters(sort="rating")).filter(rating_count__gt=0)
    return list(qs[:limit])


def product_get_for_buyer(*, slug: str) -> Product:
    """A listed product with its category and its merchant's name (one query); else a 404.

    The merchant's name only (`merchant_name`), not the merchant: the product is cached with
    its page (catalog.views.product_detail), and the merchant's row holds contact details.
    """
    qs = (
        Product.objects.select_related("category")
        .annotate(merchant_name=F("merchant__name"))
        .defer("search_vector")  # read by searches only, kilobytes a row
    )
    try:
        return qs.get(slug=slug, status=ListingStatus.LISTED)
    except Product.DoesNotExist:
        raise Http404 from None


def product_images(*, product_id: int) -> list[ProductImage]:
    """A product's images in gallery order (position, then upload order)."""
    return list(ProductImage.objects.filter(product_id=product_id).order_by("position", "id"))


@dataclass(frozen=True)
class RateSnapshot:
    currency: str
    cny_per_unit: Decimal
    source: str
    as_of: datetime


def exchange_rates() -> dict[str, RateSnapshot]:
    """Every known rate to CNY (CNY itself is 1), as the snapshot an order stores."""
    rates = {
        r.currency: RateSnapshot(r.currency, r.cny_per_unit, r.source, r.updated_at)
        for r in ExchangeRate.objects.all()
    }
    rates.setdefault("CNY", RateSnapshot("CNY", Decimal(1), "identity", timezone.now()))
    return rates
