"""A paid cross-border order leaves the warehouse: picked, packed and shipped by scanning.

A clerk with a scanner (keyboard only: the scanner types the code and presses Enter) picks the
order from a list sorted by bin, where a unit in returns quarantine or rejected goods is refused;
packs it (a unit scanned twice is refused), weighs and closes the parcel, which books the simulated
carrier and declares the order to customs with its order, payment and waybill documents; and hands
it to the carrier. The carrier's signed pushes then carry it to the buyer, who follows the tracking
through customs to delivery. When customs rejects the orderer, the parcel must not ship and the
buyer is refunded. The stations fit a phone's width.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.factories import orders as order_factories

from .helpers import PASSWORD, PHONE, assert_no_horizontal_scroll, login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CLERK_EMAIL = "packer@provena.example"
BUYER_EMAIL = "chen.jing@buyer.example"
SERUM = "Yuzu Vitamin C Serum"
SALTS = "Hinoki Bath Salts"
QUOTA_USED_UP = "The orderer's annual cross-border quota is used up (across all platforms)."


@dataclass
class Fulfilment:
    order: object
    serum_units: list  # the two the order takes, in bin STK-A01
    salts_unit: object  # in bin STK-A02
    quarantined: object  # a serum unit back from a buyer, in returns quarantine
    rejected: object  # a salts unit that failed appraisal
    buyer: object


def _verified(user):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


@pytest.fixture
def fulfilment(settings) -> Fulfilment:
    """A paid CN order of 2 serums and 1 bath salts, a clerk, and two units that must not go."""
    from tests.factories.warehouse import staff_user, unit_in_status
    from warehouse.models import StockUnit
    from warehouse.states import UnitStatus

    # The customs decision runs as a task after the closing request commits (eager in tests).
    settings.CUSTOMS_SIMULATED_DELAY_SECONDS = 0
    # Put away first, so the serum keeps the first stock bin and the salts the second.
    serum = order_factories.stocked_product(2, name=SERUM, hs_code="330499", weight_grams=120)
    salts = order_factories.stocked_product(1, name=SALTS, hs_code="330730", weight_grams=400)
    quarantined = unit_in_status(UnitStatus.QUARANTINE, product=serum)
    rejected = unit_in_status(UnitStatus.REJECTED, product=salts)
    _verified(staff_user(email=CLERK_EMAIL, password=PASSWORD))
    buyer = _verified(order_factories.buyer(email=BUYER_EMAIL, password=PASSWORD))
    # The salts line comes first on the order; the pick list still starts at the first bin.
    order = order_factories.pay(order_factories.place(buyer, (salts, 1), (serum, 2)))

    def available(product):
        return list(
            StockUnit.objects.filter(product=product, status=UnitStatus.AVAILABLE).order_by("pk")
        )

    return Fulfilment(
        order=order,
        serum_units=available(serum),
        salts_unit=available(salts)[0],
        quarantined=quarantined,
        rejected=rejected,
        buyer=buyer,
    )


@pytest.fixture
def delivered_waybills(monkeypatch):
    """The simulated carrier draws waybill numbers at random and a number fixes its route: one in
    forty is returned to sender. Re-roll such numbers so the journey always ends in delivery (the
    route itself, exceptions included, is the carrier's own)."""
    from logistics.carriers.simulated import SimulatedCarrier

    draw = SimulatedCarrier.create_waybill

    def create_waybill(self, **kwargs):
        while True:
            waybill = draw(self, **kwargs)
            plan = self.plan(waybill=waybill, handed_over_at=_now())
            if plan[-1].status == "delivered":
                return waybill

    monkeypatch.setattr(SimulatedCarrier, "create_waybill", create_waybill)


def _now():
    from django.utils import timezone

    return timezone.now()


def scan(page: Page, box: str, code: str) -> None:
    """Type a code into the focused scan box and press Enter, as a scanner does; then the next
    page has the focus in its scan box again."""
    field = page.get_by_label(box, exact=True)
    expect(field).to_be_focused()
    page.keyboard.type(code)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def expect_scanned(page: Page, box: str, message: str) -> None:
    expect(page.get_by_role("status")).to_have_text(message)
    expect(page.locator(".scan--bad")).to_have_count(0)
    expect(page.get_by_label(box, exact=True)).to_be_focused()
    expect(page.get_by_label(box, exact=True)).to_have_value("")


def expect_refused(page: Page, box: str, reason: str | re.Pattern) -> None:
    """The red cue on the scan box, the reason in its alert, no success message, the focus kept."""
    expect(page.locator("form.scan--bad")).to_have_count(1)
    expect(page.locator(".scan__feedback")).to_have_text(reason)
    expect(page.get_by_role("status")).to_have_count(0)
    expect(page.get_by_label(box, exact=True)).to_be_focused()
    expect(page.get_by_label(box, exact=True)).to_have_value("")


def pick_progress(page: Page) -> list[list[str]]:
    """The pick list's rows as [bin, product, order, picked]."""
    rows = page.get_by_role("region", name="Pick list, by bin").locator("tbody tr")
    return [[cell.strip() for cell in row.locator("td").all_inner_texts()] for row in rows.all()]


def assert_fits(page: Page) -> None:
    """No sideways scrolling: not the page, and not inside a table's scroll box either (where a
    waybill or a bin list cut off at the edge would go unnoticed)."""
    assert_no_horizontal_scroll(page)
    cut = page.eval_on_selector_all(
        ".table-scroll",
        "boxes => boxes.filter(b => b.scrollWidth > b.clientWidth).map(b => b.innerText)",
    )
    assert not cut, f"cut off at the right edge: {cut}"


def pick_and_pack(page: Page, data: Fulfilment) -> None:
    """The clerk picks and packs every unit of the order, keyboard only, up to the weight box."""
    number = data.order.number
    page.goto("/warehouse/pick/")
    scan(page, "Order number", number)
    for unit in [*data.serum_units, data.salts_unit]:
        scan(page, "Item number", unit.item_number)
    page.goto("/warehouse/pack/")
    scan(page, "Order number", number)
    for unit in [*data.serum_units, data.salts_unit]:
        scan(page, "Item number", unit.item_number)


def close_parcel(page: Page, grams: str) -> None:
    weight = page.get_by_label("Weight (g)")
    expect(weight).to_be_focused()  # nothing is left to scan: the scale's reading goes here
    page.keyboard.type(grams)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_an_order_is_picked_packed_shipped_and_tracked_to_delivery(
    page: Page,
    live_server,
    fulfilment: Fulfilment,
    delivered_waybills,
    browser: Browser,
    browser_context_args,
):
    from logistics.carriers import get_carrier
    from logistics.models import CustomsDeclaration, Shipment, TrackingStatus
    from logistics.services import simulated_carrier_push_due
    from tests.factories.warehouse import warehouse_state
    from warehouse.ledger import verify_ledger
    from warehouse.models import Parcel

    order, data = fulfilment.order, fulfilment
    number = order.number
    serum_1, serum_2 = (u.item_number for u in data.serum_units)
    salts = data.salts_unit.item_number
    login(page, email=CLERK_EMAIL)

    # --- pick: the order's list, sorted by bin ----------------------------------------------
    page.goto("/warehouse/pick/")
    waiting = page.get_by_role("region", name="Paid orders waiting (1)")
    expect(waiting.get_by_role("listitem")).to_contain_text(f"2 \N{MULTIPLICATION SIGN} {SERUM}")
    scan(page, "Order number", number.lower())  # a scanner in lower-case mode still finds it
    expect(page).to_have_url(f"{live_server.url}/warehouse/pick/{number}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pick order {number}")
    expect(page.get_by_label("Item number")).to_be_focused()
    assert pick_progress(page) == [
        ["STK-A01 (2)", SERUM, number, "0 / 2"],
        ["STK-A02 (1)", SALTS, number, "0 / 1"],
    ]
    screenshot(page, "warehouse-pick-list")

    # a unit back from a buyer, in returns quarantine, is refused and nothing changes
    before = warehouse_state()
    scan(page, "Item number", data.quarantined.item_number)
    expect_refused(
        page,
        "Item number",
        f"{data.quarantined.item_number} is “In returns quarantine” and cannot be picked: "
        "take another unit from a bin on the pick list.",
    )
    screenshot(page, "warehouse-pick-refused")
    # and so is a unit that failed appraisal, of the order's other product
    scan(page, "Item number", data.rejected.item_number)
    expect_refused(
        page,
        "Item number",
        f"{data.rejected.item_number} is “Rejected” and cannot be picked: "
        "take another unit from a bin on the pick list.",
    )
    assert warehouse_state() == before
    assert pick_progress(page) == [
        ["STK-A01 (2)", SERUM, number, "0 / 2"],
        ["STK-A02 (1)", SALTS, number, "0 / 1"],
    ]

    # the right units: each one confirmed, the list counts up to everything picked
    scan(page, "Item number", serum_1)
    expect_scanned(page, "Item number", f"Picked {serum_1} for {number} · {SERUM}")
    expect(page.locator(".pick-list tbody tr").first).to_contain_text("1 / 2")
    scan(page, "Item number", serum_2)
    expect_scanned(page, "Item number", f"Picked {serum_2} for {number} · {SERUM}")
    scan(page, "Item number", salts)
    expect_scanned(page, "Item number", f"Picked {salts} for {number} · {SALTS}")
    progress = pick_progress(page)
    assert [row[1:] for row in progress] == [
        [SERUM, number, "2 / 2"],
        [SALTS, number, "1 / 1"],
    ]
    expect(page.locator(".pick-list tr.row--done")).to_have_count(2)
    expect(page.get_by_text("Everything on this list is picked.")).to_be_visible()
    # every unit of both products is on the trolley: no bin is left to go to, and that is fine
    expect(page.locator(".pick-list .bad")).to_have_count(0)
    screenshot(page, "warehouse-pick-done")

    # --- pack: scan the order, then each unit into the parcel --------------------------------
    page.goto("/warehouse/pack/")
    expect(page.get_by_role("region", name="Orders being picked (1)")).to_contain_text(number)
    scan(page, "Order number", number)
    expect(page).to_have_url(f"{live_server.url}/warehouse/pack/{number}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pack order {number} Being picked")
    scan(page, "Item number", serum_1)
    expect_scanned(page, "Item number", f"Packed {serum_1}.")
    scan(page, "Item number", serum_1)  # the same label again
    expect_refused(page, "Item number", f"{serum_1} is already in this parcel.")
    tally = page.get_by_role("region", name="Units of this order")
    expect(tally.locator(".tally dd")).to_have_text(["1 / 2", "0 / 1"])
    expect(page.get_by_role("button", name="Close, book the carrier, print")).to_be_disabled()
    scan(page, "Item number", serum_2)
    expect_scanned(page, "Item number", f"Packed {serum_2}.")
    scan(page, "Item number", salts)
    expect(page.get_by_role("status")).to_have_text(f"Packed {salts}.")
    expect(tally.locator(".tally dd")).to_have_text(["2 / 2", "1 / 1"])
    expect(page.get_by_role("button", name="Close, book the carrier, print")).to_be_enabled()
    screenshot(page, "warehouse-pack-full")

    # weigh and close: the carrier is booked and customs gets the three documents
    close_parcel(page, "760")
    parcel = Parcel.objects.get(order_ref=number)
    expect(page.get_by_role("status")).to_have_text(
        f"Parcel {parcel.code} closed: waybill {parcel.waybill}. Print the label and the slip."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pack order {number} Packed")
    parcels = page.get_by_role("region", name="Parcels")
    expect(parcels.get_by_role("listitem")).to_contain_text(
        f"{parcel.code} Packed, waiting for the carrier simulated {parcel.waybill}"
    )
    expect(parcels.locator(".pill--released")).to_have_text("Released")
    expect(parcels).to_contain_text("Customs declaration: Released")
    declaration = CustomsDeclaration.objects.get(order_ref=number)
    assert declaration.mismatches == []
    assert declaration.order_document["actual_paid"] == declaration.payment_document["amount_paid"]
    assert declaration.payment_document["payer_name"] == order.orderer_name
    assert declaration.waybill_document["logistics_no"] == parcel.waybill
    for link, kind in (("Carrier label (PDF)", "label"), ("Packing slip (PDF)", "slip")):
        href = parcels.get_by_role("link", name=link).get_attribute("href")
        assert href == f"/warehouse/parcels/{parcel.code}/{kind}.pdf"
        pdf = page.request.get(href)
        assert pdf.status == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.body().startswith(b"%PDF-")
    screenshot(page, "warehouse-pack-closed")

    # --- ship: the parcel waits for the driver, who takes it as it is scanned -----------------
    page.goto("/warehouse/ship/")
    waiting = page.get_by_role("region", name="Packed parcels waiting (1)")
    expect(waiting.get_by_role("row").nth(1).get_by_role("cell")).to_have_text(
        [parcel.code, number, f"simulated {parcel.waybill}", "Released"]
    )
    screenshot(page, "warehouse-ship")
    scan(page, "Parcel code", parcel.code)
    expect_scanned(page, "Parcel code", f"Shipped {parcel.code}.")
    expect(page.get_by_role("region", name="Packed parcels waiting (0)")).to_contain_text(
        "No parcel is waiting for the carrier."
    )
    assert verify_ledger().ok

    # --- tracking: the carrier's signed pushes over the next day -----------------------------
    plan = get_carrier("simulated").plan(
        waybill=parcel.waybill,
        handed_over_at=Shipment.objects.get(parcel_code=parcel.code).handed_over_at,
    )
    assert simulated_carrier_push_due(now=_now() + timedelta(days=1)) == len(plan)

    buyer_context = browser.new_context(**browser_context_args)
    try:
        buyer_page = buyer_context.new_page()
        login(buyer_page, email=BUYER_EMAIL)
        buyer_page.goto(f"/orders/{number}/")
        expect(buyer_page.locator(".order-status .status")).to_have_text("Delivered")
        tracking = buyer_page.get_by_role("region", name="Parcels and tracking")
        expect(tracking.get_by_role("heading", level=3)).to_have_text(
            f"Waybill {parcel.waybill} (simulated) Delivered"
        )
        steps = tracking.locator(".tracking li")
        expect(steps).to_have_count(len(plan))
        expect(steps.locator("strong")).to_have_text(
            [str(TrackingStatus(u.status).label) for u in plan]
        )
        expect(steps.filter(has_text="Customs processing")).to_contain_text(
            "Customs clearance in progress (Hangzhou customs)"
        )
        expect(steps.filter(has_text="Released by customs")).to_have_count(1)
        expect(steps.last).to_contain_text("Delivered, signed for by the recipient")
        timeline = buyer_page.get_by_role("region", name="Timeline")
        expect(timeline).to_contain_text("The warehouse is picking your items.")
        expect(timeline).to_contain_text("Packed; the carrier has been booked.")
        expect(timeline).to_contain_text(f"Shipped under waybill {parcel.waybill}.")
        expect(timeline.get_by_role("listitem").last).to_contain_text("Delivered.")
        screenshot(buyer_page, "desktop-order-delivered")
    finally:
        buyer_context.close()
    assert verify_ledger().ok


def test_customs_rejects_the_orderer_so_the_parcel_stays_and_the_buyer_is_refunded(
    page: Page,
    live_server,
    fulfilment: Fulfilment,
    settings,
    browser: Browser,
    browser_context_args,
):
    from core.money import format_money
    from warehouse.ledger import verify_ledger
    from warehouse.models import Parcel, StockUnit

    # The simulated single window knows this orderer's annual quota is used up elsewhere.
    settings.CUSTOMS_SIMULATED_REJECT_IDS = [order_factories.id_number()]
    order, number = fulfilment.order, fulfilment.order.number
    login(page, email=CLERK_EMAIL)
    pick_and_pack(page, fulfilment)
    close_parcel(page, "760")

    # the pack page says customs rejected the order, why, and what to do with the box
    parcel = Parcel.objects.get(order_ref=number)
    must_not_ship = (
        f"Customs rejected order {number}: {QUOTA_USED_UP} Parcel {parcel.code} must not ship: "
        "unpack it and put its units back in stock."
    )
    expect(page.get_by_role("status")).to_have_text(must_not_ship)
    expect(page.locator(".message--error")).to_have_count(1)  # the red cue and the low tone
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pack order {number} Cancelled")
    expect(page.get_by_role("region", name="Units of this order")).to_contain_text(
        "This order is cancelled: its units went back to stock."
    )
    parcels = page.get_by_role("region", name="Parcels")
    expect(parcels.get_by_role("listitem")).to_contain_text(
        f"{parcel.code} Unpacked, units back in stock simulated {parcel.waybill}"
    )
    expect(parcels.locator(".pill--rejected")).to_have_text("Rejected")
    expect(parcels).to_contain_text(f"Customs declaration: Rejected · {QUOTA_USED_UP}")
    # no label to ship the box under
    expect(parcels.get_by_role("link")).to_have_count(0)
    assert page.request.get(f"/warehouse/parcels/{parcel.code}/label.pdf").status == 404
    screenshot(page, "warehouse-pack-customs-rejected")
    items = [u.item_number for u in [*fulfilment.serum_units, fulfilment.salts_unit]]
    assert set(
        StockUnit.objects.filter(item_number__in=items).values_list("status", flat=True)
    ) == {"available"}

    # the ship station refuses the parcel, with the reason
    page.goto("/warehouse/ship/")
    expect(page.get_by_role("region", name="Packed parcels waiting (0)")).to_be_visible()
    scan(page, "Parcel code", parcel.code)
    expect_refused(page, "Parcel code", must_not_ship)
    screenshot(page, "warehouse-ship-refused")
    assert Parcel.objects.get(pk=parcel.pk).status == "cancelled"
    assert verify_ledger().ok

    # the buyer's order is cancelled and refunded in full
    order.refresh_from_db()
    buyer_context = browser.new_context(**browser_context_args)
    try:
        buyer_page = buyer_context.new_page()
        login(buyer_page, email=BUYER_EMAIL)
        buyer_page.goto(f"/orders/{number}/")
        expect(buyer_page.locator(".order-status .status")).to_have_text("Cancelled")
        totals = buyer_page.get_by_role("region", name="Items").locator(".totals")
        expect(totals).to_contain_text(f"Refunded{format_money(order.total, 'CNY')}")
        timeline = buyer_page.get_by_role("region", name="Timeline")
        expect(timeline).to_contain_text(f"Cancelled: Customs rejected the order: {QUOTA_USED_UP}")
        expect(timeline).to_contain_text(f"Refunded: {order.total} CNY.")
        expect(buyer_page.get_by_role("region", name="Parcels and tracking")).to_have_count(0)
        screenshot(buyer_page, "desktop-order-customs-rejected")
    finally:
        buyer_context.close()


@pytest.mark.browser_context_args(
    viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
)
def test_phone_stations_fit_the_width(page: Page, live_server, fulfilment: Fulfilment):
    from warehouse.models import Parcel

    number = fulfilment.order.number
    login(page, email=CLERK_EMAIL)
    page.goto("/warehouse/pick/")
    expect(page.get_by_role("region", name="Paid orders waiting (1)")).to_be_visible()
    assert_fits(page)
    page.goto(f"/warehouse/pick/{number}/")
    expect(page.locator(".pick-list tbody tr")).to_have_count(2)
    assert_fits(page)
    screenshot(page, "phone-pick-list")

    pick_and_pack(page, fulfilment)
    expect(page.get_by_role("region", name="Units of this order").locator("ol li")).to_have_count(3)
    assert_fits(page)
    screenshot(page, "phone-pack")
    close_parcel(page, "760")
    expect(page.get_by_role("region", name="Parcels").locator(".pill--released")).to_be_visible()
    assert_fits(page)
    screenshot(page, "phone-pack-closed")

    page.goto("/warehouse/ship/")
    parcel = Parcel.objects.get(order_ref=number)
    expect(page.get_by_role("region", name="Packed parcels waiting (1)")).to_contain_text(
        parcel.waybill
    )
    assert_fits(page)
    screenshot(page, "phone-ship")
