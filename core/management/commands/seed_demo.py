"""Fill an empty database with a believable shop. Safe to run again: only adds what is missing."""

import io
import random
import sys
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image, ImageDraw

from accounts import roles
from accounts import services as account_services
from accounts.selectors import buyer_profile_for_user
from catalog import services as catalog_services
from catalog.selectors import category_get, category_tree, product_slugs_with_prefix

PASSWORD = "provena-demo-2026"  # noqa: S105 (demo logins, printed and in README)

STAFF = [
    ("admin@provena.example", "Platform admin", "superuser"),
    ("platform@provena.example", "Platform staff", roles.PLATFORM_ADMIN),
    ("warehouse@provena.example", "Warehouse staff", roles.WAREHOUSE),
    ("appraiser@provena.example", "Appraiser", roles.APPRAISER),
    ("service@provena.example", "Customer service", roles.CUSTOMER_SERVICE),
]
MERCHANTS = [
    ("Kyoto Craft Trading", "JP", "JP-KCT-2021-0042", "JPY", "Aiko Tanaka", "+81312345678"),
    ("Alpine Goods GmbH", "DE", "DE-HRB-998877", "EUR", "Jonas Weber", "+4930123456"),
    ("Pacific Wellness Pty", "AU", "AU-ABN-51824753556", "AUD", "Mia Clarke", "+61291234567"),
    ("Seoul Beauty Lab", "KR", "KR-BRN-2208145678", "KRW", "Ji-woo Park", "+82212345678"),
]
BUYERS = [
    ("li.na@example.com", "李娜", "+8613800138001", "wechat", "Beijing", "北京市", "朝阳区"),
    ("wang.wei@example.com", "王伟", "+8613900139002", "sms", "Shanghai", "上海市", "浦东新区"),
    ("zhang.min@example.com", "张敏", "+8613700137003", "qq", "Guangdong", "广州市", "天河区"),
    ("chen.jie@example.com", "陈杰", "+8618600186004", "sms", "Zhejiang", "杭州市", "西湖区"),
    ("liu.yang@example.com", "刘洋", "+8615800158005", "wechat", "Sichuan", "成都市", "武侯区"),
]
# (name, name_zh, [(child, child_zh, [leaves as (name, name_zh)])], hs_code prefix)
TREE = [
    (
        "Beauty",
        "美妆个护",
        "3304",
        [
            ("Skincare", "护肤", ["Serums|精华", "Moisturisers|面霜", "Sunscreen|防晒"]),
            ("Makeup", "彩妆", ["Lipstick|口红", "Foundation|粉底"]),
            ("Fragrance", "香水", ["Eau de parfum|浓香水", "Eau de toilette|淡香水"]),
        ],
    ),
    (
        "Health",
        "营养保健",
        "2106",
        [
            ("Supplements", "膳食补充", ["Vitamins|维生素", "Fish oil|鱼油", "Probiotics|益生菌"]),
            ("Sports nutrition", "运动营养", ["Protein|蛋白粉", "Energy bars|能量棒"]),
        ],
    ),
    (
        "Mother & baby",
        "母婴",
        "1901",
        [
            ("Infant formula", "婴儿奶粉", ["Stage 1|一段", "Stage 2|二段", "Stage 3|三段"]),
            ("Baby care", "婴儿护理", ["Nappies|纸尿裤", "Baby wash|婴儿洗护"]),
        ],
    ),
    (
        "Food & drink",
        "食品酒水",
        "2208",
        [
            ("Snacks", "零食", ["Chocolate|巧克力", "Biscuits|饼干"]),
            ("Drinks", "饮品", ["Coffee|咖啡", "Tea|茶叶", "Wine|葡萄酒"]),
        ],
    ),
    (
        "Home & kitchen",
        "家居厨具",
        "7323",
        [
            ("Cookware", "炊具", ["Knives|刀具", "Pans|锅具"]),
            ("Tableware", "餐具", ["Ceramics|陶瓷", "Glassware|玻璃器皿"]),
        ],
    ),
    (
        "Fashion & bags",
        "服饰箱包",
        "4202",
        [
            ("Bags", "箱包", ["Handbags|手提包", "Wallets|钱包", "Backpacks|双肩包"]),
            ("Accessories", "配饰", ["Watches|手表", "Sunglasses|太阳镜"]),
        ],
    ),
]
CHECKLISTS = {
    "beauty": [
        "Batch code on the box matches the batch code on the product",
        "Seal intact and untampered",
        "Printing, fonts and colours match the brand's reference",
        "Expiry date at least 6 months away",
    ],
    "fashion-bags": [
        "Stitching even, count per inch matches the reference",
        "Hardware engraving and weight match the reference",
        "Serial / date code present and consistent with the model",
        "Materials and lining match the reference",
    ],
}
ADJECTIVES = [
    "Classic",
    "Gentle",
    "Pure",
    "Daily",
    "Premium",
    "Organic",
    "Travel",
    "Signature",
    "Deep",
    "Light",
    "Rich",
    "Fresh",
    "Original",
    "Limited",
    "Heritage",
    "Everyday",
    "Smooth",
    "Bright",
]
MATERIALS = [
    "Rose",
    "Green tea",
    "Manuka",
    "Hinoki",
    "Ceramide",
    "Oat",
    "Cedar",
    "Yuzu",
    "Honey",
    "Bamboo",
    "Matcha",
    "Ginseng",
    "Lavender",
    "Sea salt",
    "Cocoa",
    "Citrus",
    "Leather",
]
PALETTES = [
    ((15, 92, 86), (211, 236, 229)),
    ((180, 87, 46), (250, 230, 214)),
    ((60, 64, 140), (224, 226, 247)),
    ((140, 40, 80), (246, 220, 232)),
    ((40, 110, 40), (222, 240, 214)),
    ((110, 80, 30), (242, 232, 210)),
]


def draw_product_image(rng: random.Random, title: str, palette_index: int) -> ContentFile:
    """A simple packshot: a coloured bottle, box or jar on a soft background, with the initials."""
    dark, light = PALETTES[palette_index % len(PALETTES)]
    img = Image.new("RGB", (800, 800), light)
    draw = ImageDraw.Draw(img)
    for y in range(800):  # soft vertical gradient
        t = y / 800
        draw.line([(0, y), (800, y)], fill=tuple(int(light[i] * (1 - 0.12 * t)) for i in range(3)))
    shape = rng.choice(["bottle", "box", "jar"])
    if shape == "bottle":
        draw.rounded_rectangle([310, 250, 490, 660], radius=40, fill=dark)
        draw.rectangle([360, 170, 440, 255], fill=tuple(min(255, c + 40) for c in dark))
    elif shape == "box":
        draw.rectangle([250, 260, 550, 640], fill=dark)
        draw.polygon(
            [(250, 260), (330, 200), (630, 200), (550, 260)],
            fill=tuple(min(255, c + 50) for c in dark),
        )
        draw.polygon(
            [(550, 260), (630, 200), (630, 580), (550, 640)],
            fill=tuple(max(0, c - 30) for c in dark),
        )
    else:
        draw.ellipse([260, 300, 540, 660], fill=dark)
        draw.rectangle([290, 250, 510, 330], fill=tuple(min(255, c + 60) for c in dark))
    initials = "".join(word[0] for word in title.split()[:3]).upper()
    draw.rectangle([330, 420, 470, 500], fill=light)
    draw.text((400, 460), initials, fill=dark, anchor="mm", font_size=48)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return ContentFile(buf.getvalue(), name=f"{initials.lower() or 'p'}.png")


# Resident ID numbers with valid check characters, for the demo buyers' cross-border orders.
DEMO_ID_NUMBERS = [
    "110101199003074514",
    "310104198811123419",
    "440305199207150024",
    "510107198505204612",
]


class Progress:
    """A one-line progress bar on stderr (no dependency; quiet when not a terminal)."""

    def __init__(self, total: int, label: str, stream=sys.stderr):
        self.total, self.label, self.stream, self.done = total, label, stream, 0
        self.tty = stream.isatty()

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.tty or self.done == self.total:
            width = 30
            filled = int(width * self.done / max(1, self.total))
            self.stream.write(
                f"\r{self.label:<22} [{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total}"
            )
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()


class Command(BaseCommand):
    help = "Seed demo merchants, categories, 300+ products with images, buyers and staff logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--products", type=int, default=320, help="How many products (default 320)."
        )
        parser.add_argument(
            "--quiet-logins", action="store_true", help="Do not print the demo logins."
        )

    def handle(self, *args, **options):
        rng = random.Random(20261123)  # same shop every time
        user_model = get_user_model()
        catalog_services.exchange_rates_ensure_defaults()

        def user(email: str, name: str, *, superuser: bool = False):
            existing = user_model.objects.filter(email=email).first()
            if existing:
                return existing, False
            maker = (
                user_model.objects.create_superuser if superuser else user_model.objects.create_user
            )
            first, _sep, last = name.partition(" ")
            created = maker(email=email, password=PASSWORD, first_name=first, last_name=last)
            # Demo logins are usable at once: their email counts as verified.
            from allauth.account.models import EmailAddress

            EmailAddress.objects.get_or_create(
                user=created, email=email, defaults={"verified": True, "primary": True}
            )
            return created, True

        for email, name, role in STAFF:
            staff, _created = user(email, name, superuser=role == "superuser")
            if role != "superuser":
                account_services.user_grant_role(user=staff, role=role)
        admin_user = user_model.objects.get(email=STAFF[0][0])

        merchants = []
        for i, (name, country, licence, currency, contact, phone) in enumerate(MERCHANTS):
            email = f"merchant{i + 1}@provena.example"
            owner, _created = user(email, contact)
            merchant = owner.merchant
            if merchant is None:
                from accounts.selectors import merchant_application_pending

                merchant = merchant_application_pending(
                    user=owner
                ) or account_services.merchant_apply(
                    applicant=owner,
                    name=name,
                    country=country,
                    licence_number=licence,
                    licence_document=ContentFile(b"%PDF-1.4\n% demo licence\n", name="licence.pdf"),
                    contact_name=contact,
                    contact_email=email,
                    contact_phone=phone,
                )
                merchant = account_services.merchant_approve(
                    merchant=merchant, actor=admin_user, note="Demo merchant"
                )
            merchants.append((merchant, currency))

        for email, name, phone, channel, province, city, district in BUYERS:
            buyer, _created = user(email, name)
            account_services.buyer_profile_update(
                user=buyer,
                data={
                    "full_name": name,
                    "phone": phone,
                    "preferred_channel": channel,
                    "wechat_id": f"wx_{email.split('@')[0].replace('.', '_')}"
                    if channel == "wechat"
                    else "",
                    "qq": "12345678" if channel == "qq" else "",
                    "marketing_consent": True,
                    "survey_consent": True,
                },
            )
            profile = buyer_profile_for_user(user=buyer)
            if not profile.addresses.exists():
                account_services.address_create(
                    user=buyer,
                    fields={
                        "recipient": name,
                        "phone": phone,
                        "country": "CN",
                        "province": province,
                        "city": city,
                        "district": district,
                        "line1": "1 Demo Road",
                        "postal_code": "100000",
                    },
                    make_default=True,
                )

        leaves = self._categories()
        self._products(rng, merchants, leaves, options["products"])
        self._checklists()
        self._warehouse(rng, [m for m, _c in merchants])
        self._orders(rng, [m for m, _c in merchants])
        if not options["quiet_logins"]:
            self._print_logins()

    def _categories(self) -> list:
        tree = category_tree()
        leaves = []
        for pos, (name, name_zh, hs, children) in enumerate(TREE):
            root = self._category(tree, name, name_zh, None, pos)
            for cpos, (child, child_zh, grandchildren) in enumerate(children):
                mid = self._category(tree, child, child_zh, root, cpos)
                for lpos, pair in enumerate(grandchildren):
                    leaf_name, leaf_zh = pair.split("|")
                    leaves.append((self._category(tree, leaf_name, leaf_zh, mid, lpos), hs, pos))
        return leaves

    def _category(self, tree, name, name_zh, parent, position):
        from django.utils.text import slugify

        slug = slugify(f"{parent.slug}-{name}" if parent and parent.parent_id else name)
        node = tree.by_slug.get(slug)
        if node is not None:
            return category_get(pk=node.id)
        return catalog_services.category_create(
            name=name, name_zh=name_zh, slug=slug, parent=parent, position=position
        )

    def _products(self, rng, merchants, leaves, count) -> None:
        existing = product_slugs_with_prefix(prefix="demo-")
        progress = Progress(count, "Demo products")
        for i in range(count):
            slug = f"demo-{i + 1:04d}"
            if slug in existing:
                progress.step()
                continue
            category, hs, palette = leaves[i % len(leaves)]
            merchant, currency = merchants[i % len(merchants)]
            title = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {category.name}"
            base = Decimal(rng.randrange(39, 1999))
            price = {"JPY": base * 21, "KRW": base * 190, "EUR": base / 8, "AUD": base / 5}.get(
                currency, base
            )
            with transaction.atomic():
                product = catalog_services.product_create(
                    merchant=merchant,
                    category=category,
                    name=title,
                    slug=slug,
                    description=(
                        f"{title} from {merchant.name}. Imported directly, received and "
                        "authenticated unit by unit in the Provena bonded warehouse before it "
                        f"is offered.\n\nMade with {rng.choice(MATERIALS).lower()} and "
                        f"{rng.choice(MATERIALS).lower()}."
                    ),
                    price=price.quantize(
                        Decimal("1") if currency in ("JPY", "KRW") else Decimal("0.01")
                    ),
                    currency=currency,
                    origin_country=merchant.country,
                    hs_code=f"{hs}{rng.randrange(10, 99)}",
                    weight_grams=rng.randrange(80, 2500),
                    status="listed" if i % 17 else "draft",
                )
                catalog_services.product_image_add(
                    product=product, upload=draw_product_image(rng, title, palette), alt=title
                )
            progress.step()

    def _checklists(self) -> None:
        """Appraisal checklists for two top categories (sub-categories inherit them)."""
        from authenticity.services import checklist_template_ensure

        tree = category_tree()
        for slug, items in CHECKLISTS.items():
            node = tree.by_slug.get(slug)
            if node is not None:
                checklist_template_ensure(category_id=node.id, items=items)

    def _warehouse(self, rng: random.Random, merchants: list) -> None:
        """Each merchant sends one shipment of its listed products; appraisers pass most units.

        Leaves a realistic floor: a queue awaiting appraisal, one unit awaiting a second review,
        one rejected unit awaiting disposition, and one product sold out.
        """
        from authenticity import services as authenticity
        from catalog.selectors import products_of_merchant
        from warehouse import services as warehouse
        from warehouse.selectors import inbound_exists_for_merchant, units_awaiting_appraisal

        user_model = get_user_model()
        clerk = user_model.objects.get(email="warehouse@provena.example")
        appraiser = user_model.objects.get(email="appraiser@provena.example")
        todo = [m for m in merchants if not inbound_exists_for_merchant(merchant_id=m.pk)]
        if not todo:
            return
        shipments = []
        for merchant in todo:
            products = [
                p for p in products_of_merchant(merchant_id=merchant.pk) if p.status == "listed"
            ]
            counts = {p.pk: rng.randrange(0, 7) for p in products}
            counts = {pid: n for pid, n in counts.items() if n}
            shipment = warehouse.inbound_announce(
                merchant=merchant,
                actor=merchant.applicant,
                carrier="SF Express",
                waybill=f"SF{rng.randrange(10**11, 10**12)}",
                lines=[(p, counts[p.pk]) for p in products if p.pk in counts],
            )
            warehouse.inbound_receive(shipment=shipment, counts=counts, actor=clerk)
            shipments.append(shipment)
        units = list(units_awaiting_appraisal().values_list("item_number", "product__category_id"))
        keep_waiting = {number for number, _c in units[-12:]}  # they stay in the queue
        checklists: dict[int, list[int]] = {}

        def answers(category_id: int, fail_first: bool = False) -> dict[int, str]:
            if category_id not in checklists:
                template = authenticity.checklist_for_category(category_id=category_id)
                checklists[category_id] = [i.pk for i in template.items.all()] if template else []
            items = checklists[category_id]
            return {pk: "fail" if fail_first and i == 0 else "pass" for i, pk in enumerate(items)}

        progress = Progress(len(units) - len(keep_waiting), "Demo appraisals")
        photo = draw_product_image(rng, "Evidence", 0)
        for index, (number, category_id) in enumerate(units):
            if number in keep_waiting:
                continue
            if index == 3:  # a suspected fake: first verdict given, second review pending
                authenticity.appraisal_record(
                    item_number=number,
                    appraiser=appraiser,
                    verdict="counterfeit",
                    answers=answers(category_id, fail_first=True),
                    notes="Serial font differs from the brand's reference.",
                    photos=[photo],
                )
            elif index == 7:  # a confirmed defect: rejected, waiting to be returned
                authenticity.appraisal_record(
                    item_number=number,
                    appraiser=appraiser,
                    verdict="defective",
                    answers=answers(category_id, fail_first=True),
                    notes="Seal broken, contents leaked.",
                    photos=[photo],
                )
            else:
                authenticity.appraisal_record(
                    item_number=number,
                    appraiser=appraiser,
                    verdict="genuine",
                    answers=answers(category_id),
                )
            progress.step()
        for shipment in shipments:
            warehouse.inbound_close(shipment=shipment, actor=clerk)

    def _orders(self, rng: random.Random, merchants: list) -> None:
        """A few buyers' orders through checkout and the sandbox gateway: paid ones (merchants
        have lines to process) and one still waiting for payment."""
        from django.conf import settings

        from accounts.selectors import addresses_for_user
        from catalog.selectors import products_of_merchant
        from orders import selectors as orders_selectors
        from orders import services as orders
        from orders.payments import get_gateway
        from warehouse.selectors import sellable_quantities

        user_model = get_user_model()
        buyers = [user_model.objects.get(email=email) for email, *_rest in BUYERS[:4]]
        if orders_selectors.orders_for_buyer(user=buyers[0]).exists():
            return
        in_stock = []
        for merchant in merchants:
            products = [
                p
                for p in products_of_merchant(merchant_id=merchant.pk)
                if p.status == "listed" and p.price_cny < 1500
            ]
            sellable = sellable_quantities(product_ids=[p.pk for p in products])
            in_stock.append([p for p in products if sellable[p.pk] >= 2])

        class _Site:  # the sandbox builds its notify URL from the public address
            def build_absolute_uri(self, path: str) -> str:
                return settings.PUBLIC_BASE_URL.rstrip("/") + path

        gateway = get_gateway()
        for i, buyer in enumerate(buyers):
            cart = orders.cart_get_or_create(user=buyer)
            for shelf in rng.sample(in_stock, k=2):
                orders.cart_set_quantity(cart=cart, product_id=rng.choice(shelf).pk, quantity=1)
            profile_name = buyer.get_full_name() or "Demo Buyer"
            order = orders.order_place(
                buyer=buyer,
                cart=cart,
                address_id=addresses_for_user(user=buyer)[0].pk,
                shipping_method="cn-bonded",
                orderer=orders.Orderer(profile_name, DEMO_ID_NUMBERS[i]),
                risk_notice_accepted=True,
            )
            if i == len(buyers) - 1:
                continue  # one order stays waiting for payment
            payment = orders.payment_open(order=order)
            gateway.start(
                payment=payment, subject=order.number, payer_name=profile_name, request=_Site()
            )
            gateway.settle(out_trade_no=payment.out_trade_no, paid=True, payer_name=profile_name)
            orders.payment_sync(order=order)  # the verified status query

    def _print_logins(self) -> None:
        out = self.stdout
        out.write(f"\nDemo logins (password for all: {PASSWORD})\n")
        for email, name, role in STAFF:
            out.write(f"  {role:<18} {email:<32} {name}\n")
        for i, (name, *_rest) in enumerate(MERCHANTS):
            out.write(f"  {'merchant':<18} merchant{i + 1}@provena.example{'':<8} {name}\n")
        for email, name, *_rest in BUYERS:
            out.write(f"  {'buyer':<18} {email:<32} {name}\n")
