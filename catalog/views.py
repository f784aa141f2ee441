import hashlib

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.views.decorators.http import require_safe

from aftersales.selectors import product_ratings
from core.countries import COUNTRIES
from warehouse.selectors import sellable_quantities, sellable_quantity

from .forms import ProductFilterForm
from .fragments import Slotted, fragment_get, fragment_set
from .selectors import (
    CategoryNode,
    CategoryTree,
    category_tree,
    product_best_rated,
    product_get_for_buyer,
    product_images,
    product_newest,
    product_page,
)

# Looked up by code: Model.get_FOO_display() builds this dict (~250 countries) on every call.
COUNTRY_NAMES = dict(COUNTRIES)

# The pages below cache what they show of the catalog (catalog.fragments: shared by the
# workers, stale the moment any catalog write commits) and render live, on every request,
# the rest: the site header and footer (user, CSRF token, messages), the product page's buy
# box, and stock, which the cached cards leave as slots filled from the warehouse's counters.


def _category_options(tree: CategoryTree, selected: CategoryNode | None) -> SafeString:
    """The <option>s of the category filter: roots, "— " children, "—— " grandchildren.

    Built here, not with three nested {% for %} loops in the template: with ~85 categories the
    template language spent ~2 ms a request on them (a fifth of the list page's CPU); this
    takes ~0.1 ms. Names and slugs are escaped as the template would.
    """
    selected_id = selected.id if selected is not None else None
    out: list[str] = []

    def add(nodes: list[CategoryNode], depth: int) -> None:
        for node in nodes:
            out.append(
                f'<option value="{escape(node.slug)}"'
                f"{' selected' if node.id == selected_id else ''}>"
                f"{'—' * depth + ' ' if depth else ''}{escape(node.display_name)}</option>"
            )
            if depth < 2:  # the filter offers three levels, as it always has
                add(node.children, depth + 1)

    add(tree.roots, 0)
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    name = f"home:{get_language()}"
    version, content = fragment_get(name)
    if content is None:
        newest, best_rated = product_newest(limit=12), product_best_rated(limit=6)
        html = render_to_string(
            "catalog/_home_content.html",
            {
                "tree": category_tree(version=version),
                "newest": newest,
                "best_rated": best_rated,
            },
        )
        content = Slotted.from_html(html)
        fragment_set(name, content, version=version)
    # One stock read for both rows (none for an empty shop).
    sellable = sellable_quantities(product_ids=set(content.ids))
    return render(request, "catalog/home.html", {"content": content.fill(sellable)})


@require_safe
def product_list(request: HttpRequest) -> HttpResponse:
    htmx = bool(request.headers.get("HX-Request"))
    # Everything the page shows of the catalog follows from the query string (the pager's
    # links repeat it as given), the language and whether htmx asks for the results alone.
    query = hashlib.blake2b(request.META.get("QUERY_STRING", "").encode(), digest_size=16)
    name = f"list:{get_language()}:{'results' if htmx else 'page'}:{query.hexdigest()}"
    version, cached = fragment_get(name)
    if cached is None:
        tree = category_tree(version=version)
        # Always bound: an empty query string is a valid, empty filter.
        form = ProductFilterForm(request.GET, tree=tree)
        form.is_valid()
        filters = form.filters()
        params = request.GET.copy()
        params.pop("page", None)
        page = product_page(filters, page=form.page_number(), page_size=form.page_size(), tree=tree)
        context = {
            "form": form,
            "filters": filters,
            "page": page,
            "category_options": _category_options(tree, filters.category),
            "breadcrumbs": tree.ancestors(filters.category.id) if filters.category else [],
            "querystring": params.urlencode(),
        }
        template = "catalog/_product_list_content.html"
        cached = (
            render_to_string(f"{template}#title", context),
            Slotted.from_html(render_to_string(template + ("#results" if htmx else ""), context)),
        )
        if not form.errors:  # a page that explains bad filters echoes them: not kept
            fragment_set(name, cached, version=version)
    title, content = cached
    html = content.fill(sellable_quantities(product_ids=set(content.ids)))
    if htmx:
        return HttpResponse(html)
    return render(request, "catalog/product_list.html", {"title": title, "content": html})


@require_safe
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    name = f"detail:{get_language()}:{slug}"
    version, cached = fragment_get(name)
    if cached is None:
        product = product_get_for_buyer(slug=slug)
        context = {
            "product": product,
            "origin_country": COUNTRY_NAMES.get(product.origin_country, product.origin_country),
            "images": product_images(product_id=product.pk),
            "breadcrumbs": category_tree(version=version).ancestors(product.category_id),
            "ratings": product_ratings(product=product),
        }
        page = {
            part: render_to_string(f"catalog/_product_detail_body.html#{part}", context)
            for part in ("description", "before_buy_box", "after_buy_box")
        }
        # The product is kept with its page: both are current while the version is (a product
        # that stops being listed changes the version, and is then a 404 at once).
        cached = (product, page)
        fragment_set(name, cached, version=version)
    product, page = cached
    # The buy box is rendered here, live, with this request's context: the product, its stock
    # read now, the visitor and the CSRF token.
    return render(
        request,
        "catalog/product_detail.html",
        {"product": product, "sellable": sellable_quantity(product_id=product.pk), "page": page},
    )
