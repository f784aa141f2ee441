"""Unit labels: one page per unit, the item number in text and barcode, the verify URL in the QR."""

import re
import time
import zlib

import pytest
from reportlab.pdfbase import pdfmetrics

from accounts import roles
from accounts.services import user_grant_role
from tests.factories import MerchantFactory, ProductFactory, UserFactory
from warehouse import services as warehouse
from warehouse.codes import verification_code
from warehouse.labels import (
    LATIN,
    TEXT_WIDTH,
    qr_modules,
    render_labels,
    verify_url,
)
from warehouse.labels import _wrap as wrap
from warehouse.models import StockUnit
from warehouse.selectors import UnitLabel

PAGE = re.compile(rb"/Type /Page\b(?!s)")
STREAM = re.compile(rb"/Length (\d+)[^>]*>>\s*stream\r?\n", re.S)


def pdf_text(pdf: bytes) -> str:
    """Every content stream of the PDF, inflated: the drawing operators with their strings."""
    out = []
    for match in STREAM.finditer(pdf):
        raw = pdf[match.end() : match.end() + int(match.group(1))]
        try:
            out.append(zlib.decompressobj().decompress(raw).decode("latin-1"))
        except zlib.error:
            out.append(raw.decode("latin-1"))
    return "\n".join(out)


def shown_strings(pdf: bytes) -> list[str]:
    """The Latin text drawn on the pages, in order: the `(...) Tj` operands."""
    return re.findall(r"\((.*?)\) Tj", pdf_text(pdf))


@pytest.fixture
def clerk(db):
    return user_grant_role(user=UserFactory(), role=roles.WAREHOUSE)


def received(product, n: int, clerk) -> list[StockUnit]:
    merchant = product.merchant
    shipment = warehouse.inbound_announce(
        merchant=merchant,
        actor=merchant.applicant,
        carrier="EMS",
        waybill="E1",
        lines=[(product, n)],
    )
    ids = warehouse.inbound_receive(shipment=shipment, counts={product.pk: n}, actor=clerk).unit_ids
    return list(StockUnit.objects.filter(pk__in=ids).order_by("pk"))


def test_verify_url_carries_the_units_code(settings):
    settings.PUBLIC_BASE_URL = "https://provena.example/"
    number = "PV7K3M9Q2TXA"

    assert verify_url(number) == (
        f"https://provena.example/verify/{number}/?c={verification_code(number)}"
    )


def test_qr_matrix_is_a_whole_symbol_with_its_three_finder_patterns():
    modules = qr_modules(verify_url("PV7K3M9Q2TXA"))

    size = len(modules)
    assert all(len(row) == size for row in modules)
    assert (size - 17) % 4 == 0  # version v is 4v + 17 modules wide
    finder = [
        [True] * 7,
        *[[True, *[False] * 5, True]],
        *[[True, False, True, True, True, False, True]] * 3,
        [True, *[False] * 5, True],
        [True] * 7,
    ]
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        assert [row[left : left + 7] for row in modules[top : top + 7]] == finder


def test_long_names_wrap_into_three_lines_and_end_with_an_ellipsis():
    name = "Hada Labo Gokujyun Premium Hyaluronic Acid Lotion 170 ml refill pack, set of three"

    lines = wrap(name, LATIN, 7, TEXT_WIDTH, lines=3)

    assert len(lines) == 3
    assert lines[0] == "Hada Labo Gokujyun"
    assert lines[-1].endswith("…")
    assert all(pdfmetrics.stringWidth(line, LATIN, 7) <= TEXT_WIDTH for line in lines)
    assert wrap("Short name", LATIN, 7, TEXT_WIDTH, lines=3) == ["Short name"]


def test_one_label_page_per_unit_with_item_number_product_and_merchant():
    labels = [
        UnitLabel("PV7K3M9Q2TXA", "Camellia Serum", "Kyoto Beauty Co."),
        UnitLabel("PV0CGB0RCXQC", "Rice Cream", "Kyoto Beauty Co."),
    ]

    pdf = render_labels(labels)

    assert pdf.startswith(b"%PDF-")
    assert len(PAGE.findall(pdf)) == 2
    assert b"/MediaBox [ 0 0 170.0787 113.3858 ]" in pdf  # 60 x 40 mm
    assert shown_strings(pdf) == [
        "PV7K3M9Q2TXA",
        "Camellia Serum",
        "Kyoto Beauty Co.",
        "PV0CGB0RCXQC",
        "Rice Cream",
        "Kyoto Beauty Co.",
    ]


def test_chinese_names_use_a_font_with_chinese_glyphs():
    pdf = render_labels([UnitLabel("PV7K3M9Q2TXA", "资生堂 防晒霜", "东京美妆")])

    assert b"/BaseFont /STSong-Light" in pdf
    assert len(PAGE.findall(pdf)) == 1


@pytest.mark.django_db
def test_receipt_labels_pdf_has_a_page_for_each_unit_in_order(client, clerk):
    product = ProductFactory(name="Camellia Serum", merchant=MerchantFactory(name="Kyoto Beauty"))
    units = received(product, 3, clerk)
    client.force_login(clerk)

    response = client.get(f"/warehouse/receipts/{units[0].receipt_id}/labels.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="RCP-{units[0].receipt_id}.pdf"'
    pdf = response.content
    assert len(PAGE.findall(pdf)) == 3
    numbers = [s for s in shown_strings(pdf) if s.startswith("PV")]
    assert numbers == [u.item_number for u in units]


@pytest.mark.django_db
def test_a_units_label_can_be_printed_again(client, clerk):
    unit = received(ProductFactory(name="Rice Cream"), 2, clerk)[1]
    client.force_login(clerk)

    response = client.get(f"/warehouse/units/{unit.item_number.lower()}/label.pdf")

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'inline; filename="{unit.item_number}.pdf"'
    assert len(PAGE.findall(response.content)) == 1
    assert shown_strings(response.content)[:2] == [unit.item_number, "Rice Cream"]


@pytest.mark.django_db
def test_a_receipt_of_a_thousand_units_renders(client, clerk, record_property):
    units = received(ProductFactory(name="Bulk Tea"), 1000, clerk)
    client.force_login(clerk)

    started = time.perf_counter()
    response = client.get(f"/warehouse/receipts/{units[0].receipt_id}/labels.pdf")
    record_property("seconds_for_1000_labels", round(time.perf_counter() - started, 2))

    assert response.status_code == 200
    assert len(PAGE.findall(response.content)) == 1000
    numbers = [s for s in shown_strings(response.content) if s.startswith("PV")]
    assert numbers == [u.item_number for u in units]
