"""Unit labels for a thermal label printer: one 60 x 40 mm page per unit.

Each label carries a QR code of the public verification URL (item number + the HMAC code from
warehouse.codes, so a buyer's phone opens the verify page directly), a Code128 barcode of the
item number for the warehouse scanners, the item number in text, the product and the merchant.
"""

import functools
import itertools
from collections.abc import Iterable
from io import BytesIO

from django.conf import settings
from reportlab import rl_config
from reportlab.graphics.barcode import qrencoder
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from .codes import verification_code
from .selectors import UnitLabel

# Compressed streams as binary, not ASCII85 on top: a fifth smaller, and reportlab's pure-Python
# ASCII85 encoder was a tenth of the time of a large receipt. Only this module uses reportlab.
rl_config.useA85 = 0

WIDTH, HEIGHT = 60 * mm, 40 * mm
MARGIN = 2 * mm
QR_SIZE = 24 * mm  # the symbol; the label's white margin is its quiet zone
QR_MASK = 2
BARCODE_HEIGHT = 9 * mm
TEXT_X = MARGIN + QR_SIZE + 1.5 * mm
TEXT_WIDTH = WIDTH - TEXT_X - MARGIN
LATIN = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
# Names in Chinese: a TrueType font from settings.LABEL_CJK_FONT, embedded (subset), when the
# installation has one; otherwise a standard CID font the printing computer's PDF viewer supplies.
CJK_CID = "STSong-Light"
CJK_EMBEDDED = "ProvenaLabelCJK"


def verify_url(item_number: str) -> str:
    """What the QR code opens: the public verify page with this unit's code filled in."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/verify/{item_number}/?c={verification_code(item_number)}"


@functools.cache
def _cjk_font() -> str:
    path = getattr(settings, "LABEL_CJK_FONT", "")
    if path:
        pdfmetrics.registerFont(TTFont(CJK_EMBEDDED, path))
        return CJK_EMBEDDED
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_CID))
    return CJK_CID


def _font_for(text: str, latin: str) -> str:
    """Helvetica covers Latin-1; anything beyond it (Chinese, kana) needs the CJK font."""
    return latin if all(ord(c) < 256 for c in text) else _cjk_font()


def _fit(text: str, font: str, size: float, width: float) -> str:
    """The text, cut with an ellipsis so it fits the width."""
    return _wrap(text, font, size, width, lines=1)[0] if text else ""


def _wrap(text: str, font: str, size: float, width: float, lines: int) -> list[str]:
    """Up to `lines` lines of the text, broken at spaces where there are some (CJK has none);
    the last line is cut with an ellipsis if the text runs over. Widths are measured once per
    character, so a long name costs one pass."""
    rest = " ".join(text.split())
    out: list[str] = []
    while rest and len(out) < lines:
        advances = [pdfmetrics.stringWidth(ch, font, size) for ch in rest]
        if sum(advances) <= width:
            out.append(rest)
            break
        last = len(out) == lines - 1
        room = width - (pdfmetrics.stringWidth("…", font, size) if last else 0)
        cut, used = 0, 0.0
        while cut < len(rest) and used + advances[cut] <= room:
            used += advances[cut]
            cut += 1
        if last:
            out.append(rest[:cut].rstrip() + "…")
            break
        space = rest.rfind(" ", 0, cut + 1)
        cut = space if space > 0 else max(cut, 1)
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return out


def qr_modules(data: str) -> list[list[bool]]:
    """The QR code's module matrix (True = dark), error correction level M.

    The mask pattern is fixed: every one of the eight decodes, and scoring all eight to pick the
    "best" (reportlab's default) costs ~15 ms a label, 15 s for a receipt of 1,000 units.
    """
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(data)
    qr.version = qr.calculate_version()
    qr.makeImpl(False, QR_MASK)
    return qr.modules


def _qr(canvas: Canvas, data: str) -> None:
    """The dark runs of each row as rectangles of one path, in module units: a few hundred
    `re` operators written as they are (formatting them one by one through the path API was
    most of the time of a large receipt)."""
    modules = qr_modules(data)
    box = QR_SIZE / len(modules)
    ops: list[str] = []
    for r, row in enumerate(modules):
        c = 0
        for dark, run in itertools.groupby(row):
            n = sum(1 for _ in run)
            if dark:
                # A hair taller than a module, so rows merge without hairline gaps on screen.
                ops.append(f"{c} {-(r + 1)} {n} 1.02 re")
            c += n
    canvas.saveState()
    canvas.transform(box, 0, 0, box, MARGIN, HEIGHT - MARGIN)
    canvas.addLiteral("\n".join(ops) + "\nf")
    canvas.restoreState()


def _barcode(canvas: Canvas, item_number: str) -> None:
    probe = Code128(item_number, barWidth=1, barHeight=BARCODE_HEIGHT, quiet=False)
    width = WIDTH - 2 * MARGIN - 4 * mm  # room for the scanner's quiet zones
    barcode = Code128(
        item_number,
        barWidth=width / probe.width,
        barHeight=BARCODE_HEIGHT,
        quiet=False,
        humanReadable=False,
    )
    barcode.drawOn(canvas, (WIDTH - barcode.width) / 2, MARGIN)


def _label(canvas: Canvas, label: UnitLabel) -> None:
    _qr(canvas, verify_url(label.item_number))
    _barcode(canvas, label.item_number)
    top = HEIGHT - MARGIN
    canvas.setFont(LATIN_BOLD, 9)
    canvas.drawString(TEXT_X, top - 3 * mm, label.item_number)
    name_font = _font_for(label.product_name, LATIN)
    y = top - 7.5 * mm
    canvas.setFont(name_font, 7)
    for line in _wrap(label.product_name, name_font, 7, TEXT_WIDTH, lines=3):
        canvas.drawString(TEXT_X, y, line)
        y -= 3 * mm
    merchant_font = _font_for(label.merchant_name, LATIN)
    canvas.setFont(merchant_font, 6)
    canvas.setFillGray(0.3)
    canvas.drawString(
        TEXT_X,
        HEIGHT - MARGIN - QR_SIZE + 0.5 * mm,
        _fit(label.merchant_name, merchant_font, 6, TEXT_WIDTH),
    )
    canvas.setFillGray(0)


def render_labels(labels: Iterable[UnitLabel], *, title: str = "Provena labels") -> bytes:
    """A PDF with one label page per unit, in the order given."""
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=(WIDTH, HEIGHT), pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor("Provena")
    for label in labels:
        _label(canvas, label)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# Parcels: the carrier label (100 x 150 mm, the usual thermal label) and the packing slip (A5) ---

PARCEL_W, PARCEL_H = 100 * mm, 150 * mm
PARCEL_DOCUMENTS = ("label", "slip")
A5_W, A5_H = 148 * mm, 210 * mm


def _text(canvas: Canvas, x: float, y: float, text: str, size: float, bold: bool = False) -> None:
    font = _font_for(text, LATIN_BOLD if bold else LATIN)
    canvas.setFont(font, size)
    canvas.drawString(x, y, text)


def _parcel_label(canvas: Canvas, parcel, order) -> None:
    left, top = 5 * mm, PARCEL_H - 8 * mm
    _text(canvas, left, top, f"{parcel.carrier_code.upper()}  ·  {parcel.waybill}", 11, bold=True)
    barcode = Code128(parcel.waybill, barHeight=22 * mm, barWidth=0.45 * mm, humanReadable=True)
    barcode.drawOn(canvas, left, top - 32 * mm)
    y = top - 42 * mm
    _text(canvas, left, y, "TO", 8, bold=True)
    for line in (
        order.recipient,
        order.phone,
        order.line1,
        f"{order.district} {order.city}".strip(),
        f"{order.province} {order.postal_code} {order.country}".strip(),
    ):
        y -= 6 * mm
        _text(canvas, left, y, line, 11)
    y -= 10 * mm
    _text(canvas, left, y, "FROM  Provena bonded warehouse", 8)
    y -= 5 * mm
    weight = f"{(parcel.weight_grams or 0) / 1000:.2f} kg"
    _text(canvas, left, y, f"Order {order.number}  ·  {weight}  ·  {parcel.code}", 8)
    parcel_code = Code128(parcel.code, barHeight=12 * mm, barWidth=0.4 * mm, humanReadable=True)
    parcel_code.drawOn(canvas, left, 8 * mm)


def _packing_slip(canvas: Canvas, parcel, order, units) -> None:
    left, y = 12 * mm, A5_H - 15 * mm
    _text(canvas, left, y, f"Provena · Order {order.number}", 13, bold=True)
    y -= 7 * mm
    _text(canvas, left, y, f"Parcel {parcel.code} · {parcel.carrier_code} {parcel.waybill}", 9)
    y -= 5 * mm
    _text(canvas, left, y, order.recipient, 9)
    y -= 10 * mm
    _text(canvas, left, y, "Item number", 8, bold=True)
    _text(canvas, left + 40 * mm, y, "Product", 8, bold=True)
    for unit in units:
        y -= 6 * mm
        if y < 25 * mm:
            canvas.showPage()
            y = A5_H - 15 * mm
        _text(canvas, left, y, unit.item_number, 9)
        name_font = _font_for(unit.product.name, LATIN)
        canvas.setFont(name_font, 9)
        canvas.drawString(left + 40 * mm, y, _fit(unit.product.name, name_font, 9, 84 * mm))
    y -= 12 * mm
    for line in (
        "Every item carries its own label. Check it at /verify/ with the code on the label:",
        "a genuine unit shows its appraisal and its chain of custody.",
    ):
        _text(canvas, left, y, line, 8)
        y -= 4.5 * mm


def render_parcel_document(*, kind: str, parcel, order, units) -> bytes:
    """`label` (the carrier's shipping label) or `slip` (the packing slip listing item numbers)."""
    if kind not in PARCEL_DOCUMENTS:
        raise ValueError(kind)
    buffer = BytesIO()
    size = (PARCEL_W, PARCEL_H) if kind == "label" else (A5_W, A5_H)
    canvas = Canvas(buffer, pagesize=size, pageCompression=1)
    canvas.setTitle(f"{parcel.code} {kind}")
    canvas.setAuthor("Provena")
    if kind == "label":
        _parcel_label(canvas, parcel, order)
    else:
        _packing_slip(canvas, parcel, order, units)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
