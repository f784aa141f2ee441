"""The appraiser stations: queue, appraise one unit, rejected units; who may use them."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from authenticity import services
from authenticity.models import AppraisalCase, ChecklistItem, UnitDisposition
from catalog.selectors import category_tree_invalidate
from tests.factories import (
    ProductFactory,
    ProductImageFactory,
    UserFactory,
    merchant_staff,
    pdf_upload,
)
from warehouse.models import StockUnit

from .conftest import photo, receive, reject, staff

pytestmark = pytest.mark.django_db

QUEUE = "/authenticity/"
REJECTED = "/authenticity/rejected/"
# User, roles (the session is in the cache); queue count and page; second-review cases, their
# appraisals and appraisers.
QUEUE_QUERIES = 7
# User, roles; witness candidates; page count, page rows, the merchants' policies.
REJECTED_QUERIES = 6


def unit_url(unit) -> str:
    return f"/authenticity/units/{unit.item_number}/"


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _checklist(category, *checks):
    category_tree_invalidate()
    template = services.checklist_template_ensure(category_id=category.pk, items=[])
    for position, (text, required) in enumerate(checks):
        ChecklistItem.objects.create(
            template=template, text=text, required=required, position=position
        )
    return list(template.items.all())


# --- who may use the stations -----------------------------------------------------------------


@pytest.fixture
def people(product, clerk, appraiser):
    return {
        "buyer": UserFactory(),
        "merchant": product.merchant.applicant,
        "customer_service": staff(roles.CUSTOMER_SERVICE),
        "warehouse": clerk,
        "appraiser": appraiser,
        "platform_admin": staff(roles.PLATFORM_ADMIN),
    }


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("queue", {"appraiser", "platform_admin"}),
        ("unit", {"appraiser", "platform_admin"}),
        ("rejected", {"appraiser", "warehouse", "platform_admin"}),
    ],
)
def test_stations_are_for_their_roles_only(client, people, units, path, allowed):
    url = {"queue": QUEUE, "unit": unit_url(units[0]), "rejected": REJECTED}[path]

    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/?next=")

    for who, user in people.items():
        client.force_login(user)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            expected = 200 if who in allowed else 403
            if method == "post" and path == "queue":
                expected = 405 if who in allowed else 403
            assert response.status_code == expected, (who, method)
    assert AppraisalCase.objects.count() == 0


def test_the_site_header_links_the_queue_for_those_who_may_open_it(client, people):
    # Appraisers had no way from the site to their station but typing /authenticity/.
    link = f'<a href="{QUEUE}">Appraisal queue</a>'
    for who, user in people.items():
        client.force_login(user)
        shown = link in client.get("/").content.decode()
        assert shown == (who in {"appraiser", "platform_admin"}), who


# --- the queue --------------------------------------------------------------------------------


def test_queue_lists_units_oldest_first_with_their_wait(
    client, product, units, appraiser, monkeypatch
):
    client.force_login(appraiser)
    later = timezone.now() + timedelta(hours=50)
    monkeypatch.setattr("authenticity.views.timezone.now", lambda: later)

    response = client.get(QUEUE)

    assert response.status_code == 200
    rows = response.context["units"]
    assert [row.obj.item_number for row in rows] == [u.item_number for u in units]
    assert {(row.hours, row.overdue) for row in rows} == {(50, True)}
    html = response.content.decode()
    assert html.count('class="au-row--overdue"') == 3
    assert "Quilted Flap Bag" in html
    assert product.merchant.name in html
    assert units[0].inbound_line.shipment.reference in html
    assert 'Awaiting appraisal <span class="muted">(3)</span>' in html


def test_units_within_the_sla_are_not_overdue(client, units, appraiser):
    client.force_login(appraiser)

    response = client.get(QUEUE)

    assert {(row.hours, row.overdue) for row in response.context["units"]} == {(0, False)}
    assert "au-row--overdue" not in response.content.decode()


def test_second_review_hides_the_first_appraisers_own_cases(client, units, appraiser, appraiser2):
    services.appraisal_record(
        item_number=units[0].item_number, appraiser=appraiser, verdict="inconclusive", notes="?"
    )

    client.force_login(appraiser)
    own = client.get(QUEUE)
    client.force_login(appraiser2)
    other = client.get(QUEUE)

    assert own.context["second"] == []
    assert [row.obj.unit.item_number for row in other.context["second"]] == [units[0].item_number]
    # A unit under second review is not also offered for a first appraisal.
    for response in (own, other):
        assert [r.obj.pk for r in response.context["units"]] == [units[1].pk, units[2].pk]


def test_scanning_opens_the_unit(client, units, appraiser):
    client.force_login(appraiser)
    typed = units[0].item_number.lower()
    typed = f" {typed[:4]}-{typed[4:]} "

    response = client.get(QUEUE, {"item": typed})

    assert response.status_code == 302
    assert response["Location"] == unit_url(units[0])


def test_scanning_a_malformed_number_says_so(client, units, appraiser):
    client.force_login(appraiser)

    response = client.get(QUEUE, {"item": "PV123"})

    assert response.status_code == 200
    assert response.context["scan"].errors["item"] == [
        "“PV123” is not a valid item number; check it and scan again."
    ]


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99999", "1e9", "2"])
def test_queue_pages_are_bounded(client, units, appraiser, page):
    client.force_login(appraiser)

    response = client.get(QUEUE, {"page": page})

    assert response.status_code == 200
    assert response.context["page"].number == 1  # one page of three units


def test_queue_queries_do_not_grow_with_the_queue(
    client, category, clerk, appraiser, appraiser2, django_assert_num_queries
):
    client.force_login(appraiser2)

    def fill(n):
        product = ProductFactory(category=category)
        for unit in receive(product, n, clerk)[:2]:
            services.appraisal_record(
                item_number=unit.item_number, appraiser=appraiser, verdict="inconclusive", notes="?"
            )

    fill(3)
    with django_assert_num_queries(QUEUE_QUERIES):
        small = client.get(QUEUE)
    fill(40)
    with django_assert_num_queries(QUEUE_QUERIES):
        large = client.get(QUEUE)

    assert (len(small.context["units"]), len(small.context["second"])) == (1, 2)
    assert (len(large.context["units"]), len(large.context["second"])) == (39, 4)


# --- appraising one unit ----------------------------------------------------------------------


def test_unit_page_shows_the_unit_its_images_and_checklist(client, product, units, appraiser):
    ProductImageFactory(product=product, alt="front view")
    _checklist(product.category, ("Stitching even", True), ("Dust bag present", False))
    client.force_login(appraiser)

    response = client.get(unit_url(units[0]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Quilted Flap Bag" in html
    assert 'alt="front view"' in html
    assert units[0].inbound_line.shipment.reference in html
    assert 'Stitching even <abbr class="au-required"' in html
    assert "Dust bag present</p>" in html
    assert html.count('type="radio"') == 2 * 3 + 4  # pass/fail/n.a. per check + 4 verdicts
    assert "A second appraiser must confirm it." in html
    assert 'accept="image/*"' in html
    assert 'capture="environment"' in html
    assert response.context["stage"] == 1


def test_a_genuine_verdict_goes_to_stock(client, product, units, appraiser):
    (stitching,) = _checklist(product.category, ("Stitching even", True))
    client.force_login(appraiser)

    response = client.post(
        unit_url(units[0]),
        {"verdict": "genuine", f"check_{stitching.pk}": "pass", "stage": "1"},
    )

    assert response.status_code == 302
    assert response["Location"] == QUEUE
    assert _messages(response) == [f"{units[0].item_number} is genuine and went into stock."]
    units[0].refresh_from_db()
    assert units[0].status == "available"


def test_a_counterfeit_verdict_waits_for_the_second_appraiser(client, units, appraiser):
    client.force_login(appraiser)

    response = client.post(
        unit_url(units[0]),
        {
            "verdict": "counterfeit",
            "notes": "Logo font",
            "stage": "1",
            "photos": [photo(), photo()],
        },
    )

    assert response.status_code == 302
    assert _messages(response) == [
        f"{units[0].item_number}: your verdict (Counterfeit) is recorded. "
        "The unit now waits for a second appraiser."
    ]
    case = AppraisalCase.objects.get(unit=units[0])
    assert case.appraisals.get().photos.count() == 2


def test_a_final_rejection_says_where_the_unit_went(client, units, appraiser):
    client.force_login(appraiser)

    response = client.post(
        unit_url(units[0]),
        {"verdict": "defective", "notes": "Torn", "stage": "1", "camera": photo()},
    )

    assert _messages(response) == [
        f"{units[0].item_number} was rejected (Defective / not as described) and moved to "
        "rejected goods; the merchant is told. It waits on the rejected units page to be "
        "returned or destroyed."
    ]
    units[0].refresh_from_db()
    assert units[0].status == "rejected"


@pytest.mark.parametrize(
    ("post", "field", "message"),
    [
        ({"verdict": "counterfeit", "notes": "Fake", "check": "fail"}, "photos", "Add at least"),
        ({"verdict": "inconclusive"}, "notes", "Say what you found"),
        ({"verdict": "defective", "notes": "x", "photos": "pdf"}, "photos", "not an image"),
        ({"verdict": "genuine", "check": "fail"}, "verdict", "cannot be genuine"),
        ({"verdict": "genuine", "check": ""}, "check", "Answer this check."),
        ({"verdict": "maybe"}, "verdict", "Select a valid choice."),
        ({"verdict": "genuine", "check": "pass", "stage": "7"}, "stage", "Select a valid"),
    ],
)
def test_refusals_are_shown_next_to_their_field(
    client, product, units, appraiser, post, field, message
):
    (stitching,) = _checklist(product.category, ("Stitching even", True))
    client.force_login(appraiser)
    data = {"stage": "1", "check": "pass", **post}
    if "check" in data:
        data[f"check_{stitching.pk}"] = data.pop("check")
    if data.get("photos") == "pdf":
        data["photos"] = pdf_upload("evidence.jpg")

    response = client.post(unit_url(units[0]), data)

    assert response.status_code == 200
    form = response.context["form"]
    key = f"check_{stitching.pk}" if field == "check" else field
    assert list(form.errors) == [key]
    assert message in form.errors[key][0]
    assert not AppraisalCase.objects.exists()
    units[0].refresh_from_db()
    assert units[0].status == "awaiting_appraisal"


def test_the_second_reviewer_sees_the_first_appraisal(
    client, product, units, appraiser, appraiser2
):
    (stitching,) = _checklist(product.category, ("Stitching even", True))
    services.appraisal_record(
        item_number=units[0].item_number,
        appraiser=appraiser,
        verdict="counterfeit",
        answers={stitching.pk: "fail"},
        notes="Serial font differs",
        photos=[photo()],
    )
    client.force_login(appraiser2)

    response = client.get(unit_url(units[0]))

    html = response.content.decode()
    assert response.context["stage"] == 2
    assert "By first@provena.example" in html
    assert "Serial font differs" in html
    assert '<span class="au-answer__mark">Fail</span> Stitching even' in html
    shown = AppraisalCase.objects.get().appraisals.get().photos.get()
    thumb = reverse("authenticity:photo", args=[shown.pk, "thumbnail"])
    assert f'src="{thumb}"' in html
    assert "Final: the unit goes into stock and can be sold." in html

    response = client.post(
        unit_url(units[0]),
        {"verdict": "genuine", f"check_{stitching.pk}": "pass", "stage": "2"},
    )
    assert _messages(response) == [f"{units[0].item_number} is genuine and went into stock."]


def test_the_first_appraiser_cannot_review_their_own_verdict(client, units, appraiser):
    services.appraisal_record(
        item_number=units[0].item_number, appraiser=appraiser, verdict="inconclusive", notes="?"
    )
    client.force_login(appraiser)

    page = client.get(unit_url(units[0]))
    post = client.post(unit_url(units[0]), {"verdict": "genuine", "stage": "2"})

    assert "You gave the first verdict on this unit." in page.content.decode()
    assert 'name="verdict"' not in page.content.decode()
    assert post.status_code == 302
    assert _messages(post) == [
        "A second appraiser must review this unit; you gave the first verdict."
    ]
    assert AppraisalCase.objects.get().appraisals.count() == 1


def test_a_verdict_recorded_meanwhile_is_not_overwritten(client, units, appraiser, appraiser2):
    client.force_login(appraiser2)
    services.appraisal_record(
        item_number=units[0].item_number, appraiser=appraiser, verdict="inconclusive", notes="?"
    )

    # appraiser2's page was loaded before that first verdict: it says stage 1
    response = client.post(unit_url(units[0]), {"verdict": "genuine", "stage": "1"})

    assert response.status_code == 302
    assert response["Location"] == unit_url(units[0])
    assert _messages(response)[0].startswith("Another appraiser recorded a verdict")
    assert AppraisalCase.objects.get().appraisals.count() == 1


def test_a_unit_not_awaiting_appraisal_shows_its_record(client, units, appraiser):
    services.appraisal_record(
        item_number=units[0].item_number, appraiser=appraiser, verdict="genuine"
    )
    client.force_login(appraiser)

    response = client.get(unit_url(units[0]))
    post = client.post(unit_url(units[0]), {"verdict": "genuine", "stage": "1"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "This unit is not awaiting appraisal: it is Available." in html
    assert 'href="#history"' in html
    assert "Appraised genuine" in html  # its movement history
    assert post.status_code == 200
    assert AppraisalCase.objects.count() == 1


def test_unknown_and_untidy_item_numbers(client, units, appraiser):
    client.force_login(appraiser)

    assert client.get("/authenticity/units/PV0000000000/").status_code == 404
    assert client.get("/authenticity/units/%3Cscript%3E/").status_code == 404
    untidy = client.get(f"/authenticity/units/{units[0].item_number.lower()}/")
    assert untidy.status_code == 302
    assert untidy["Location"] == unit_url(units[0])


# --- rejected units ---------------------------------------------------------------------------


@pytest.fixture
def rejected(units, appraiser, appraiser2):
    return {
        "fake": reject(units[0], verdict="counterfeit", first=appraiser, second=appraiser2),
        "broken": reject(units[1], verdict="defective", first=appraiser),
    }


def test_rejected_units_show_the_form_their_policy_requires(client, rejected, clerk, appraiser):
    client.force_login(clerk)

    response = client.get(REJECTED)

    rows = {row.unit.item_number: (row, form) for row, form in response.context["rows"]}
    fake_row, fake_form = rows[rejected["fake"].item_number]
    broken_row, broken_form = rows[rejected["broken"].item_number]
    assert (fake_row.disposition, broken_row.disposition) == ("destroy", "return")
    assert (fake_form.action, broken_form.action) == ("destroy", "return")
    # any other platform staff member may witness, the clerk not their own destruction
    offered = [label for value, label in fake_form.fields["witness"].choices if value]
    assert offered == [u.email for u in services.staff_witness_candidates() if u != clerk]
    assert {"first@provena.example", "second@provena.example"} <= set(offered)
    assert clerk.email not in offered
    html = response.content.decode()
    assert "Policy: destroy" in html
    assert "Policy: return to merchant" in html


def test_destroying_a_rejected_unit(client, rejected, clerk, appraiser):
    client.force_login(clerk)
    number = rejected["fake"].item_number

    response = client.post(
        REJECTED,
        {"action": "destroy", "item_number": number, "witness": appraiser.pk, "method": "Shredded"},
    )

    assert response.status_code == 302
    assert _messages(response) == [f"{number} was destroyed; the record names you and the witness."]
    record = UnitDisposition.objects.get()
    assert (record.kind, record.performed_by, record.witness, record.method) == (
        "destroy",
        clerk,
        appraiser,
        "Shredded",
    )
    assert StockUnit.objects.get(item_number=number).status == "destroyed"


def test_returning_a_rejected_unit(client, rejected, clerk):
    client.force_login(clerk)
    number = rejected["broken"].item_number

    response = client.post(
        REJECTED,
        {"action": "return", "item_number": number, "carrier": "SF Express", "waybill": "SF77"},
    )

    assert _messages(response) == [f"{number} is on its way back to the merchant."]
    assert StockUnit.objects.get(item_number=number).status == "returned_to_merchant"
    assert UnitDisposition.objects.get().waybill == "SF77"


@pytest.mark.parametrize(
    ("post", "field", "message"),
    [
        ({"action": "destroy", "method": "Shredded"}, "witness", "This field is required."),
        ({"action": "destroy", "witness": "self", "method": "x"}, "witness", "Select a valid"),
        ({"action": "destroy", "witness": "other", "method": " "}, "method", "required"),
        ({"action": "return", "carrier": "SF"}, "waybill", "This field is required."),
        ({"action": "return", "carrier": "SF", "waybill": "1"}, None, "policy is to destroy"),
    ],
)
def test_disposition_refusals_are_shown_on_the_units_form(
    client, rejected, clerk, appraiser, post, field, message
):
    client.force_login(clerk)
    number = rejected["fake"].item_number
    data = {"item_number": number, **post}
    if "witness" in data:
        data["witness"] = {"self": clerk.pk, "other": appraiser.pk}[data["witness"]]

    response = client.post(REJECTED, data)

    assert response.status_code == 200
    form = {row.unit.item_number: f for row, f in response.context["rows"]}[number]
    errors = form.errors[field or "__all__"]
    assert message in errors[0]
    assert not UnitDisposition.objects.exists()


def test_rejected_page_queries_do_not_grow_with_units(
    client, product, clerk, appraiser, appraiser2, django_assert_num_queries
):
    client.force_login(clerk)
    units = receive(product, 8, clerk)
    reject(units[0], verdict="defective", first=appraiser)
    with django_assert_num_queries(REJECTED_QUERIES):
        small = client.get(REJECTED)
    other = ProductFactory()
    services.disposition_policy_set(
        merchant=other.merchant, disposition="destroy", counterfeit_disposition="destroy"
    )
    for unit in [*units[1:], *receive(other, 3, clerk)]:
        reject(unit, verdict="defective", first=appraiser)
    with django_assert_num_queries(REJECTED_QUERIES):
        large = client.get(REJECTED)

    assert len(small.context["rows"]) == 1
    assert len(large.context["rows"]) == 11
    assert (
        sorted(row.disposition for row, _f in large.context["rows"])
        == ["destroy"] * 3 + ["return"] * 8
    )


def test_merchant_staff_of_another_role_cannot_dispose(client, rejected, product, appraiser):
    staff_member = merchant_staff(product.merchant)
    client.force_login(staff_member)

    response = client.post(
        REJECTED,
        {
            "action": "destroy",
            "item_number": rejected["fake"].item_number,
            "witness": appraiser.pk,
            "method": "Shredded",
        },
    )

    assert response.status_code == 403
    assert not UnitDisposition.objects.exists()
