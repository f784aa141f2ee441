"""One unit's way from the receiving dock to a buyer's phone: receive, appraise, verify.

A clerk receives an announced shipment with a scanner (keyboard only) and prints the labels; an
appraiser passes one unit and calls another counterfeit, which a second appraiser confirms; a
visitor checks the genuine unit's label on /verify/; the product page counts only the unit that
passed.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from .helpers import login, png_upload, screenshot, verified_buyer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ITEM_NUMBER = re.compile(r"^PV[0-9A-Z]{10}$")
CHECKS = ("Batch number on the box matches the bottle", "Tamper seal intact and printed")
CUSTODY = [
    "Received at the Provena warehouse from the merchant",
    "Examined by a Provena appraiser and found genuine; put into stock",
]


@dataclass
class Inbound:
    shipment: object
    product: object
    clerk: str
    appraiser: str
    reviewer: str


@pytest.fixture
def inbound(catalog) -> Inbound:
    from accounts import roles
    from accounts.services import user_grant_role
    from authenticity.services import checklist_template_ensure
    from warehouse.services import inbound_announce

    def staff(email: str, role: str) -> str:
        user_grant_role(user=verified_buyer(email), role=role)
        return email

    serum = catalog.serum
    checklist_template_ensure(category_id=serum.category_id, items=CHECKS)
    # Four announced, three arrive: the count typed at the dock is what gets received.
    shipment = inbound_announce(
        merchant=catalog.merchant,
        actor=catalog.merchant.applicant,
        carrier="SF Express",
        waybill="SF1402233847",
        lines=[(serum, 4)],
    )
    return Inbound(
        shipment=shipment,
        product=serum,
        clerk=staff("dock@provena.example", roles.WAREHOUSE),
        appraiser=staff("first.eye@provena.example", roles.APPRAISER),
        reviewer=staff("second.eye@provena.example", roles.APPRAISER),
    )


def logout(page: Page) -> None:
    page.get_by_role("banner").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("banner").get_by_role("link", name="Log in")).to_be_visible()


def label_link(item_number: str) -> tuple[str, str]:
    """The QR code's target as a path on this server, and the code printed under it."""
    from warehouse.labels import verify_url

    url = urlsplit(verify_url(item_number))
    return f"{url.path}?{url.query}", parse_qs(url.query)["c"][0]


def answer_checklist(page: Page, answers: dict[str, str]) -> None:
    for check, answer in answers.items():
        page.get_by_role("radiogroup", name=check).get_by_role("radio", name=answer).check()


def record_verdict(page: Page, verdict: str, *, notes: str = "", photo=None) -> None:
    form = page.locator("#appraise")
    form.get_by_role("radio", name=re.compile(f"^{verdict}")).check()
    if notes:
        form.get_by_role("textbox", name="Notes").fill(notes)
    if photo is not None:
        form.get_by_label("Photos", exact=True).set_input_files(photo)
    form.get_by_role("button", name="Record verdict").click()


def scan_into_queue(page: Page, item_number: str) -> None:
    """Type the item number into the queue's scan box and press Enter, as a scanner does."""
    page.goto("/authenticity/")
    expect(page.get_by_label("Scan or type an item number")).to_be_focused()
    page.keyboard.type(item_number)
    page.keyboard.press("Enter")


def test_units_are_received_appraised_and_verified_by_anyone(
    page: Page, live_server, inbound: Inbound, tmp_path
):
    from warehouse.models import StockUnit

    reference = inbound.shipment.reference
    serum = inbound.product
    evidence = tmp_path / "seal.png"
    evidence.write_bytes(png_upload("seal.png", (180, 60, 60)).getvalue())

    # --- the clerk at the dock, with a scanner: keyboard only ------------------------------
    login(page, email=inbound.clerk)
    page.goto("/warehouse/receive/")
    open_shipments = page.get_by_role("region", name="Open inbound shipments")
    expect(open_shipments.get_by_role("listitem")).to_have_count(1)
    expect(open_shipments.get_by_role("listitem")).to_contain_text(reference)
    expect(page.get_by_label("Inbound reference")).to_be_focused()
    page.keyboard.type(reference)
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/warehouse/receive/{reference}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{reference} Announced")
    row = page.get_by_role("row", name=re.compile(serum.name))
    expect(row.get_by_role("cell")).to_have_text(["4", "0", ""])
    # The first count box has the focus: the clerk types the count and presses Enter.
    expect(page.get_by_label(serum.name)).to_be_focused()
    page.keyboard.type("3")
    page.keyboard.press("Enter")

    # the receipt lists three new item numbers, one per unit
    expect(page.get_by_role("status")).to_have_text(
        f"3 units received into {reference}. Print their labels and stick them on."
    )
    expect(page.get_by_text("3 units, each under its own item number.")).to_be_visible()
    numbers = page.get_by_role("region", name=f"{serum.name} (3)").get_by_role("listitem")
    expect(numbers).to_have_count(3)
    shown = [text.strip() for text in numbers.all_inner_texts()]
    assert all(ITEM_NUMBER.match(number) for number in shown), shown
    received = StockUnit.objects.filter(product=serum).values_list("item_number", flat=True)
    assert sorted(shown) == sorted(received)
    screenshot(page, "warehouse-receipt")

    # the labels open as a PDF
    labels = page.get_by_role("link", name="Print labels (PDF)")
    expect(labels).to_be_focused()
    pdf = page.request.get(labels.get_attribute("href"))
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")

    # the shipment now shows what was received, and still takes the missing unit
    page.get_by_role("link", name="Back to the shipment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{reference} Receiving")
    expect(row.get_by_role("cell")).to_have_text(["4", "3", ""])
    genuine, fake, waiting = shown
    logout(page)

    # --- the first appraiser passes one unit and calls another counterfeit ----------------
    login(page, email=inbound.appraiser)
    page.get_by_role("banner").get_by_role("link", name="Appraisal queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Appraisal queue")
    expect(page.get_by_role("heading", name="Awaiting appraisal (3)")).to_be_visible()
    scan_into_queue(page, genuine.lower())  # a scanner in lower-case mode still finds it
    expect(page).to_have_url(f"{live_server.url}/authenticity/units/{genuine}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Appraise {genuine}")
    answer_checklist(page, dict.fromkeys(CHECKS, "Pass"))
    record_verdict(page, "Genuine")
    expect(page.get_by_role("status")).to_have_text(f"{genuine} is genuine and went into stock.")
    expect(page.get_by_role("heading", name="Awaiting appraisal (2)")).to_be_visible()

    scan_into_queue(page, fake)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Appraise {fake}")
    answer_checklist(page, {CHECKS[0]: "Pass", CHECKS[1]: "Fail"})
    record_verdict(page, "Counterfeit", notes="Seal print is blurred; wrong font.", photo=evidence)
    expect(page.get_by_role("status")).to_have_text(
        f"{fake}: your verdict (Counterfeit) is recorded. "
        "The unit now waits for a second appraiser."
    )
    # nobody reviews their own verdict; the unit left the first-verdict queue
    expect(page.get_by_role("heading", name="Awaiting second review (0)")).to_be_visible()
    expect(page.get_by_role("heading", name="Awaiting appraisal (1)")).to_be_visible()
    queue = page.get_by_role("table")
    expect(queue.get_by_role("link", name=waiting)).to_be_visible()
    expect(page.get_by_role("link", name=fake)).to_have_count(0)
    logout(page)

    # --- the second appraiser confirms the counterfeit ------------------------------------
    login(page, email=inbound.reviewer)
    page.get_by_role("banner").get_by_role("link", name="Appraisal queue").click()
    expect(page.get_by_role("heading", name="Awaiting second review (1)")).to_be_visible()
    case_row = page.get_by_role("row", name=re.compile(fake))
    expect(case_row).to_contain_text("Counterfeit")
    expect(case_row).to_contain_text(inbound.appraiser)
    case_row.get_by_role("link", name=fake).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Second review {fake}")
    first = page.get_by_role("region", name="The first appraisal")
    expect(first.get_by_role("heading", level=3)).to_have_text("First appraisal: Counterfeit")
    expect(first).to_contain_text("Seal print is blurred; wrong font.")
    expect(first.get_by_role("img", name="Evidence photo 1")).to_be_visible()
    answer_checklist(page, {CHECKS[0]: "Pass", CHECKS[1]: "Fail"})
    record_verdict(page, "Counterfeit", notes="Agreed: seal is a reprint.", photo=evidence)
    expect(page.get_by_role("status")).to_contain_text(
        f"{fake} was rejected (Counterfeit) and moved to rejected goods"
    )
    expect(page.get_by_role("heading", name="Awaiting second review (0)")).to_be_visible()

    # it waits on the rejected units page, to be destroyed (the default for counterfeits)
    page.get_by_role("navigation", name="Authenticity station").get_by_role(
        "link", name="Rejected units"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rejected units (1)")
    rejected = page.get_by_role("listitem").filter(has_text=fake)
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text("Counterfeit")
    expect(rejected).to_contain_text("Policy: destroy")
    expect(rejected).to_contain_text(f"{serum.name} · Kyoto Atelier Co.")
    expect(page.get_by_text(genuine)).to_have_count(0)
    screenshot(page, "authenticity-rejected")
    logout(page)

    # --- anyone checks the genuine unit's label ------------------------------------------
    qr_path, code = label_link(genuine)
    page.goto("/verify/")
    page.get_by_label("Item number").fill(genuine)
    page.get_by_label("Code").fill(code)
    page.get_by_label("Code").press("Enter")

    expect(page).to_have_url(f"{live_server.url}{qr_path}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Genuine")
    expect(page.get_by_text("found it genuine", exact=False)).to_be_visible()
    expect(page.get_by_role("link", name=serum.name)).to_have_attribute(
        "href", f"/products/{serum.slug}/"
    )
    expect(page.get_by_text("Kyoto Atelier Co.")).to_be_visible()
    custody = page.get_by_role("region", name="Where this unit has been").get_by_role("listitem")
    expect(custody).to_have_text([re.compile(re.escape(step)) for step in CUSTODY])
    expect(page.get_by_text("This is the first time this label has been checked.")).to_be_visible()
    screenshot(page, "verify-genuine")

    # scanning the QR code again tells how often the label was checked
    page.goto(qr_path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Genuine")
    expect(page.get_by_text(re.compile(r"checked 1 time before, first on"))).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)  # two checks are no copied label

    # the counterfeit's own label says it never went on sale
    page.goto(label_link(fake)[0])
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Failed authentication and withdrawn from sale"
    )

    # a wrong code reveals nothing about the unit
    wrong = code[:-1] + ("1" if code.endswith("0") else "0")
    page.goto(f"/verify/{genuine}/?c={wrong}")
    expect(page.get_by_role("alert")).to_contain_text(
        "We could not verify this item number and code."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify an item")
    for secret in (serum.name, "Kyoto Atelier Co.", "Genuine", "Where this unit has been"):
        expect(page.get_by_text(secret)).to_have_count(0)
    expect(page.get_by_text("checked", exact=False)).to_have_count(0)

    # --- the shop counts only the unit that passed ---------------------------------------
    page.goto(f"/products/{serum.slug}/")
    expect(page.get_by_text("1 authenticated unit in stock")).to_be_visible()
