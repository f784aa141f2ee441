"""Property: no query string makes a public page fail, and nothing typed is echoed as HTML."""

import string
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, product_rate

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PARAMS = ["q", "category", "price_min", "price_max", "rating", "sort", "page", "per_page"]
MERCHANT_HTML = '<img src=x onerror=alert("merchant")>'
INJECTIONS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "</textarea></select><b>bold</b>",
    "javascript:alert(1)//<iframe>",
    "' OR '1'='1' --",
    "1; DROP TABLE catalog_product; --",
    "leather:* | !serum & (",
    "{{ request }}{% debug %}",
    "%3Cscript%3E",
    "\x00",
    "../../../etc/passwd",
]
# Tags no page contains: if one shows up verbatim, input was echoed unescaped.
html_payloads = st.builds(
    lambda tag, attr: f"<{tag} {attr}=alert(1)>",
    st.text(string.ascii_lowercase, min_size=5, max_size=8).map(lambda t: f"zz{t}"),
    st.sampled_from(["onload", "onerror", "onmouseover", "style"]),
)
values = st.one_of(
    st.text(max_size=40),
    st.text("漢字修护霜夜間美妆한국어カタカナ", max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.sampled_from(INJECTIONS),
    html_payloads,
    st.tuples(st.text(max_size=8), html_payloads, st.text(max_size=8)).map("".join),
    st.sampled_from(
        ["newest", "price_asc", "price_desc", "rating", "relevance", "24", "48", "96", "3", "4"]
    ),
    st.sampled_from(["beauty", "serums", "health", "BEAUTY", "beauty ", "-1", "0", "1e9"]),
)
names = st.one_of(st.sampled_from(PARAMS), st.text(max_size=10))
query_pairs = st.lists(st.tuples(names, values), max_size=8)
# What a server hands Django: the raw bytes of the query string (maybe not even UTF-8), as
# WSGI's latin-1 "bytes in a str".
raw_queries = st.one_of(
    st.text(alphabet="qcategorysp_=&%+;?<>\"'019aAfFzZ é中\x00", max_size=60).map(str.encode),
    st.binary(max_size=40),
).map(lambda raw: raw.decode("iso-8859-1"))


def _payloads(pairs) -> list[str]:
    """Values that would be live HTML if echoed as they are."""
    return [v for _k, v in pairs if "<" in v and ">" in v and any(c.isalpha() for c in v)]


@pytest.fixture
def shop(merchant, rates):
    beauty = CategoryFactory(name="Beauty", name_zh="美妆")
    serums = CategoryFactory(name="Serums", parent=beauty, name_zh="精华")
    CategoryFactory(name="Health")
    serum = ProductFactory(
        merchant=merchant,
        category=serums,
        name="Vitamin C Serum 维C精华",
        description="Brightening. 修护.",
        price=Decimal("12.50"),
        currency="USD",
    )
    ProductImageFactory(product=serum)
    product_rate(serum, avg="4.50", count=3)
    sneaky = ProductFactory(
        merchant=merchant,
        category=beauty,
        name=f"Sneaky {MERCHANT_HTML}",
        description=MERCHANT_HTML,
    )
    return {"serum": serum, "sneaky": sneaky}


def _check(response, pairs=()):
    assert response.status_code != 500
    html = response.content.decode()
    assert MERCHANT_HTML not in html
    for payload in _payloads(pairs):
        assert payload not in html, f"unescaped: {payload!r}"
    return html


@FUZZ
@given(pairs=query_pairs, htmx=st.booleans())
def test_product_list_survives_any_query(client, shop, pairs, htmx):
    headers = {"HX-Request": "true"} if htmx else {}

    response = client.get(f"/products/?{urlencode(pairs)}", headers=headers)

    assert response.status_code == 200
    _check(response, pairs)


@FUZZ
@given(pairs=query_pairs)
def test_home_survives_any_query(client, shop, pairs):
    response = client.get(f"/?{urlencode(pairs)}")

    assert response.status_code == 200
    _check(response, pairs)


@FUZZ
@given(
    slug=st.one_of(st.text(max_size=30), st.sampled_from(["vitamin-c-serum", "sneaky"])),
    pairs=query_pairs,
)
def test_product_detail_survives_any_slug_and_query(client, shop, slug, pairs):
    response = client.get(f"/products/{quote(slug, safe='')}/?{urlencode(pairs)}")

    assert response.status_code in (200, 404)
    _check(response, [*pairs, ("slug", slug)])


@FUZZ
@given(raw=raw_queries)
def test_raw_query_strings_never_fail(client, shop, raw):
    for path in ("/", "/products/", f"/products/{shop['serum'].slug}/"):
        response = client.get(path, QUERY_STRING=raw)

        assert response.status_code == 200
        _check(response)


def test_the_fuzzed_pages_do_show_the_catalogue(client, shop):
    # Guard against a fuzz suite that passes because every page is empty.
    html = _check(client.get("/products/", {"q": "serum"}))

    assert "Vitamin C Serum 维C精华" in html
    assert "Sneaky &lt;img src=x onerror=alert(&quot;merchant&quot;)&gt;" in _check(
        client.get(f"/products/{shop['sneaky'].slug}/")
    )
