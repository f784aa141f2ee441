"""Builds a believable catalog of N products fast (bulk inserts), and grows it in place.

Names and descriptions come from word lists with uneven (Zipf-like) word frequencies, so
full-text search and category filters have the selectivity of a real shop: a common word
matches a few per cent of products, a rare one a handful.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from bench.harness import log

SEED = 20260501
BATCH = 5000
CENT = Decimal("0.01")

# 5 roots x 4 mid-level x 3 leaves = 85 categories. "Name|name_zh|HS prefix" for a root,
# then indented "Mid|mid_zh: Leaf|leaf_zh, ..." lines for its children.
TREE_TEXT = """
Beauty|美妆个护|3304
  Skincare|护肤: Serum|精华, Moisturiser|面霜, Sunscreen|防晒
  Makeup|彩妆: Lipstick|口红, Foundation|粉底, Mascara|睫毛膏
  Fragrance|香水: Eau de parfum|浓香水, Eau de toilette|淡香水, Body mist|身体喷雾
  Hair care|护发: Shampoo|洗发水, Conditioner|护发素, Hair oil|护发油
Health|营养保健|2106
  Supplements|膳食补充: Vitamin|维生素, Fish oil|鱼油, Probiotic|益生菌
  Sports nutrition|运动营养: Protein|蛋白粉, Energy bar|能量棒, Electrolyte|电解质
  Personal care|个人护理: Toothpaste|牙膏, Hand cream|护手霜, Lip balm|润唇膏
  Herbal|草本: Ginseng|人参, Herbal tea|草本茶, Honey|蜂蜜
Mother & baby|母婴|1901
  Infant formula|婴儿奶粉: Stage 1 formula|一段, Stage 2 formula|二段, Stage 3 formula|三段
  Baby care|婴儿护理: Nappies|纸尿裤, Baby wash|婴儿洗护, Baby lotion|婴儿润肤
  Feeding|喂养: Bottle|奶瓶, Teat|奶嘴, Baby food|辅食
  Toys|玩具: Plush toy|毛绒玩具, Puzzle|拼图, Bath toy|洗澡玩具
Food & drink|食品酒水|2208
  Snacks|零食: Chocolate|巧克力, Biscuits|饼干, Crisps|薯片
  Drinks|饮品: Coffee|咖啡, Tea|茶叶, Wine|葡萄酒
  Pantry|粮油调味: Olive oil|橄榄油, Pasta|意面, Sauce|酱料
  Sweets|糖果: Candy|糖果, Jam|果酱, Syrup|糖浆
Home & kitchen|家居厨具|7323
  Cookware|炊具: Knife|刀具, Pan|平底锅, Pot|汤锅
  Tableware|餐具: Ceramic bowl|陶瓷碗, Glass|玻璃杯, Cutlery set|刀叉套装
  Storage|收纳: Jar|储物罐, Lunch box|饭盒, Shelf|置物架
  Textiles|家纺: Towel|毛巾, Bedding set|床品套件, Apron|围裙
"""


def _parse_tree(text: str) -> list[tuple[str, str, str, list[tuple[str, str, list[str]]]]]:
    roots: list = []
    for line in text.strip().splitlines():
        if not line.startswith(" "):
            name, name_zh, hs = line.split("|")
            roots.append((name, name_zh, hs, []))
        else:
            mid, leaves = line.strip().split(": ")
            mid_name, mid_zh = mid.split("|")
            roots[-1][3].append((mid_name, mid_zh, leaves.split(", ")))
    return roots


TREE = _parse_tree(TREE_TEXT)


def _words(text: str) -> list[str]:
    return text.split()


# (name, country, currency) - currencies exercise the "≈ ¥" line of the cards.
MERCHANTS = [
    ("Kyoto Craft Trading", "JP", "JPY"),
    ("Alpine Goods GmbH", "DE", "EUR"),
    ("Pacific Wellness Pty", "AU", "AUD"),
    ("Seoul Beauty Lab", "KR", "KRW"),
    ("Hangzhou Select", "CN", "CNY"),
    ("Brooklyn Pantry Co", "US", "USD"),
    ("Lyon Maison", "FR", "EUR"),
    ("Auckland Naturals", "NZ", "CNY"),
]
RATES = {
    "CNY": Decimal("1"),
    "USD": Decimal("7.10"),
    "EUR": Decimal("7.70"),
    "JPY": Decimal("0.047"),
    "KRW": Decimal("0.0052"),
    "AUD": Decimal("4.65"),
}
BRANDS = _words("""Kaori Hinoki Nordlys Aurelle Mizu Santal Verdane Oakhurst Lumen Sora Belmont Kiri
Maison-Blanc Tidewater Haru Alpenrose Kestrel Ember Norrland Yuki Rivage Mellow Bloomfield
Copperleaf Fjordia Sakura-do Linden Wildmoor Hanami Brightwell Solace Tamago Vireo Calder
Wren Silvergate Orchard Aveline Hestia Kumo Pinecrest Lark Driftwood Saffron Meridian Ostara
Kinfolk Ashby Tsubaki Greystone Ivybridge Marigold Hollow Bramble Sunday Juniper Atelier""")
ADJECTIVES = _words("""
Classic Gentle Pure Daily Premium Organic Travel Signature Deep Light Rich Fresh
Original Limited Heritage Everyday Smooth Bright Soft Intense Calming Nourishing Hydrating
Delicate Bold Natural Essential Advanced Mini Family Artisan Handmade Vintage Barista Golden
Silky Velvet Crisp Wild Rustic""")
MATERIALS = _words("""
rose yuzu manuka hinoki ceramide oat cedar honey bamboo matcha ginseng lavender
sea-salt cocoa citrus leather jasmine vanilla sandalwood camellia argan shea coconut almond
chamomile peony lotus rice-bran seaweed charcoal propolis collagen retinol niacinamide
hyaluronic squalane jojoba bergamot fig cherry-blossom oolong hojicha sesame chestnut
walnut blueberry cranberry mango lychee pomegranate ginger turmeric cinnamon cardamom
pistachio hazelnut olive truffle linen cotton merino walnut-wood cast-iron""")
BENEFITS = _words("""brightening soothing firming balancing restoring protective long-lasting gentle
lightweight fast-absorbing fragrance-free non-greasy dermatologist-tested vegan cruelty-free
sugar-free gluten-free small-batch cold-pressed slow-roasted hand-picked stone-ground
dishwasher-safe oven-safe stackable reusable refillable recyclable travel-size""")
PLACES = _words("""Kyoto Hokkaido Provence Tuscany Bavaria Tasmania Jeju Yunnan Hangzhou Oregon
Vermont Normandy Andalusia Otago Sicily Kerala Okinawa Bordeaux Tyrol Seoul""")
SIZES = ["30 ml", "50 ml", "100 ml", "200 ml", "250 g", "500 g", "1 kg", "Set of 2",
         "Set of 3", "Gift box", "Twin pack", "Refill", "Large", "Travel size"]  # fmt: skip
SENTENCES = [
    "A {b} {leaf} made with {m1} and {m2}, {b2} and easy to use every day.",
    "Sourced from {place}, where {brand} has worked with small producers for years.",
    "Customers love its {b} texture and the subtle note of {m1}.",
    "Each unit is received, appraised and shipped under its own item number.",
    "Pairs well with our {m2} range; {b2} and {b3}.",
    "Packed in {place} and imported directly, with full traceability from the maker.",
    "Suitable for gifting: comes in a {b} box with a card describing its origin.",
    "The {m1} is {b2}, blended to a recipe first made in {place}.",
    "Store in a cool, dry place; best within twelve months of opening.",
    "Independent lab tests confirm it is {b} and {b2}.",
]
COVER_FILES = 12


def _zipf_weights(n: int, s: float) -> list[float]:
    return [1 / (rank**s) for rank in range(1, n + 1)]


@dataclass
class BaseData:
    merchants: list  # [(Merchant, currency)]
    leaves: list  # [(Category, hs prefix)] in a fixed order
    leaf_weights: list[float]
    mid_slugs: list[str]


def _category_slug(*names: str) -> str:
    from django.utils.text import slugify

    return "-".join(slugify(n) for n in names)


def write_image_files(media_root: Path) -> list[tuple[str, str]]:
    """A few shared packshots (WebP, like real uploads); each product row points at one."""
    from PIL import Image, ImageDraw

    folder = media_root / "products" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(COVER_FILES):
        hue = (i * 37) % 255
        dark, light = (hue, 90, 120), (235, 230, (hue + 128) % 255)
        img = Image.new("RGB", (800, 800), light)
        ImageDraw.Draw(img).rounded_rectangle([280, 220, 520, 660], radius=36, fill=dark)
        image_name, thumb_name = (
            f"products/bench/pack-{i:02d}.webp",
            f"products/bench/pack-{i:02d}-t.webp",
        )
        img.save(folder / f"pack-{i:02d}.webp", format="WEBP", quality=80)
        img.resize((480, 480)).save(folder / f"pack-{i:02d}-t.webp", format="WEBP", quality=75)
        files.append((image_name, thumb_name))
    return files


def ensure_base_data() -> BaseData:
    """Categories (through catalog.services), approved merchants (accounts.services), rates."""
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile

    from accounts import services as account_services
    from accounts.models import Merchant
    from catalog import services as catalog_services
    from catalog.models import Category

    catalog_services.exchange_rates_ensure_defaults()
    by_slug = {c.slug: c for c in Category.objects.all()}

    def category(names: tuple[str, ...], name_zh: str, parent, position: int):
        slug = _category_slug(*names)
        if slug in by_slug:
            return by_slug[slug]
        by_slug[slug] = catalog_services.category_create(
            name=names[-1], name_zh=name_zh, slug=slug, parent=parent, position=position
        )
        return by_slug[slug]

    leaves, mid_slugs = [], []
    for pos, (root_name, root_zh, hs, mids) in enumerate(TREE):
        root = category((root_name,), root_zh, None, pos)
        for mpos, (mid_name, mid_zh, leaf_names) in enumerate(mids):
            mid = category((root_name, mid_name), mid_zh, root, mpos)
            mid_slugs.append(mid.slug)
            for lpos, pair in enumerate(leaf_names):
                leaf_name, leaf_zh = pair.split("|")
                leaves.append((category((root_name, mid_name, leaf_name), leaf_zh, mid, lpos), hs))

    user_model = get_user_model()
    admin = user_model.objects.filter(email="bench-admin@provena.example").first()
    if admin is None:
        admin = user_model.objects.create_superuser(
            email="bench-admin@provena.example", password=None
        )
    merchants = []
    for i, (name, country, currency) in enumerate(MERCHANTS):
        merchant = Merchant.objects.filter(licence_number=f"BENCH-{i:03d}").first()
        if merchant is None:
            email = f"bench-merchant{i}@provena.example"
            owner = user_model.objects.create_user(email=email, password=None)
            merchant = account_services.merchant_apply(
                applicant=owner,
                name=name,
                country=country,
                licence_number=f"BENCH-{i:03d}",
                licence_document=ContentFile(b"%PDF-1.4\n% bench\n", name="licence.pdf"),
                contact_name="Bench Contact",
                contact_email=email,
                contact_phone="+8613800000000",
            )
            merchant = account_services.merchant_approve(
                merchant=merchant, actor=admin, note="bench"
            )
        merchants.append((merchant, currency))

    # Popularity differs by category (a few big ones, a long tail), in a fixed shuffled order.
    weights = _zipf_weights(len(leaves), 0.7)
    random.Random(SEED).shuffle(weights)
    return BaseData(merchants=merchants, leaves=leaves, leaf_weights=weights, mid_slugs=mid_slugs)


class WordPicker:
    """Words drawn with Zipf-like frequencies, so some are common and most are rare."""

    def __init__(self, rng: random.Random, words: list[str], s: float = 1.0):
        self.rng, self.words = rng, words
        self.cum = list(_cumulative(_zipf_weights(len(words), s)))

    def __call__(self) -> str:
        return self.rng.choices(self.words, cum_weights=self.cum)[0]


def _cumulative(weights: list[float]):
    total = 0.0
    for w in weights:
        total += w
        yield total


def _product_fields(i: int, base: BaseData, rng: random.Random, pick: dict, now) -> dict:
    leaf, hs = rng.choices(base.leaves, weights=base.leaf_weights)[0]
    merchant, currency = base.merchants[rng.randrange(len(base.merchants))]
    brand, m1, m2 = pick["brand"](), pick["material"](), pick["material"]()
    leaf_word = leaf.name
    name = f"{brand} {pick['adjective']()} {m1.replace('-', ' ').title()} {leaf_word}"
    if rng.random() < 0.6:
        name += f" {rng.choice(SIZES)}"
    words = {
        "b": pick["benefit"](),
        "b2": pick["benefit"](),
        "b3": pick["benefit"](),
        "m1": m1.replace("-", " "),
        "m2": m2.replace("-", " "),
        "leaf": leaf_word.lower(),
        "place": rng.choice(PLACES),
        "brand": brand,
    }
    sentences = rng.sample(SENTENCES, rng.randint(3, 6))
    paragraphs = [" ".join(s.format(**words) for s in sentences[:2])]
    paragraphs.append(" ".join(s.format(**words) for s in sentences[2:]))
    # Prices are log-uniform from ¥19 to ¥5,000, then expressed in the merchant's currency.
    cny = Decimal(str(round(math.exp(rng.uniform(math.log(19), math.log(5000))), 2)))
    rate = RATES[currency]
    places = Decimal("1") if currency in {"JPY", "KRW"} else CENT
    price = max((cny / rate).quantize(places, ROUND_HALF_UP), Decimal("1"))
    price_cny = max((price * rate).quantize(CENT, ROUND_HALF_UP), CENT)
    roll = rng.random()
    status = "listed" if roll < 0.92 else ("draft" if roll < 0.97 else "paused")
    listed_at = None if status == "draft" else now - timedelta(seconds=rng.randrange(730 * 86400))
    rated = status != "draft" and rng.random() < 0.45
    return {
        "merchant": merchant,
        "category": leaf,
        "name": name[:200],
        "slug": f"{_slugify(name)[:190]}-{i}",
        "description": "\n\n".join(paragraphs),
        "price": price,
        "currency": currency,
        "price_cny": price_cny,
        "origin_country": merchant.country,
        "hs_code": f"{hs}{rng.randrange(10, 99)}",
        "weight_grams": rng.randrange(40, 3000),
        "status": status,
        "listed_quantity_cap": rng.choice([None, None, None, 5, 10, 50]),
        "rating_avg": Decimal(str(round(rng.uniform(3.0, 5.0), 2))) if rated else None,
        "rating_count": int(rng.lognormvariate(2.5, 1.2)) + 1 if rated else 0,
        "listed_at": listed_at,
    }


def _slugify(text: str) -> str:
    from django.utils.text import slugify

    return slugify(text)


def grow_catalog(base: BaseData, *, start: int, stop: int, images: list[tuple[str, str]]) -> dict:
    """Insert products start..stop-1 (deterministic per index), their images and cover."""
    from django.db import connection, transaction
    from django.utils import timezone

    from catalog.models import Product, ProductImage

    timings = {"products_s": 0.0, "images_s": 0.0, "stock_s": 0.0}
    stock_model = product_stock_model()
    rng = random.Random(SEED * 31 + start)
    pick = {
        "brand": WordPicker(rng, BRANDS, 0.8),
        "adjective": WordPicker(rng, ADJECTIVES, 0.6),
        "material": WordPicker(rng, MATERIALS, 0.9),
        "benefit": WordPicker(rng, BENEFITS, 0.7),
    }
    now = timezone.now()
    for batch_start in range(start, stop, BATCH):
        batch_stop = min(stop, batch_start + BATCH)
        t0 = time.perf_counter()
        products = [
            Product(**_product_fields(i, base, rng, pick, now))
            for i in range(batch_start, batch_stop)
        ]
        with transaction.atomic():
            Product.objects.bulk_create(products, batch_size=1000)
            t1 = time.perf_counter()
            rows = []
            for product in products:
                extra = rng.choices([0, 1, 2, 3], weights=[70, 15, 10, 5])[0]
                for position in range(extra + 1):
                    image, thumb = images[rng.randrange(len(images))]
                    rows.append(
                        ProductImage(
                            product_id=product.pk,
                            image=image,
                            thumbnail=thumb,
                            width=800,
                            height=800,
                            alt=product.name if position == 0 else f"{product.name} ({position})",
                            position=position,
                        )
                    )
            ProductImage.objects.bulk_create(rows, batch_size=2000)
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    UPDATE catalog_product AS p SET cover_id = i.id
                    FROM catalog_productimage AS i
                    WHERE i.product_id = p.id AND i.position = 0
                      AND p.cover_id IS NULL AND p.id BETWEEN %s AND %s
                    """,
                    [products[0].pk, products[-1].pk],
                )
            t2 = time.perf_counter()
            if stock_model is not None:
                stock_model.objects.bulk_create(
                    [
                        stock_model(
                            product_id=p.pk, merchant_id=p.merchant_id, available=a, reserved=r
                        )
                        for p in products
                        if p.status != "draft"
                        for a, r in [_stock_levels(rng)]
                        if a is not None
                    ],
                    batch_size=2000,
                )
        t3 = time.perf_counter()
        timings["products_s"] += t1 - t0
        timings["images_s"] += t2 - t1
        timings["stock_s"] += t3 - t2
        log(f"  inserted products {batch_start + 1:,}-{batch_stop:,}")
    return {k: round(v, 2) for k, v in timings.items()}


def product_stock_model():
    """warehouse.ProductStock (the sellable counters the storefront reads), if the app has it."""
    from django.apps import apps

    try:
        model = apps.get_model("warehouse", "ProductStock")
    except LookupError:
        return None
    fields = {f.name for f in model._meta.get_fields()}
    return model if {"product", "merchant", "available", "reserved"} <= fields else None


def _stock_levels(rng: random.Random) -> tuple[int | None, int]:
    """(available, reserved) counters of a listed product; None: never stocked (no row)."""
    roll = rng.random()
    if roll < 0.15:
        return None, 0
    if roll < 0.30:
        return 0, 0  # sold out
    available = rng.randint(1, 5) if roll < 0.65 else rng.randint(6, 60)
    reserved = rng.randint(0, min(available, 3)) if rng.random() < 0.2 else 0
    return available, reserved


def product_count() -> int:
    from catalog.models import Product

    return Product.objects.count()


def finish_build() -> dict:
    """Search vectors for every product (one call, as the service does it), then statistics."""
    from django.db import connection

    from catalog.services import product_search_vector_refresh

    timings = {}
    t0 = time.perf_counter()
    product_search_vector_refresh()
    timings["search_vectors_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        # VACUUM as well: the vector update rewrote every row, and autovacuum would catch up
        # on a live database; ANALYZE so the planner knows the new size.
        cursor.execute("VACUUM ANALYZE")
    timings["vacuum_analyze_s"] = round(time.perf_counter() - t0, 2)
    return timings
