"""The console: merchants see verdicts and evidence on their own units only; records stay."""

import pytest
from django.urls import reverse

from accounts import roles
from authenticity import services
from authenticity.models import (
    AppraisalCase,
    ChecklistTemplate,
    DispositionPolicy,
    UnitDisposition,
)
from tests.factories import CategoryFactory, ProductFactory, merchant_staff

from .conftest import receive, reject, staff

pytestmark = pytest.mark.django_db

CASES = "/admin/authenticity/appraisalcase/"
POLICIES = "/admin/authenticity/dispositionpolicy/"
CHECKLISTS = "/admin/authenticity/checklisttemplate/"
DISPOSITIONS = "/admin/authenticity/unitdisposition/"


@pytest.fixture
def world(clerk, appraiser, appraiser2):
    category = CategoryFactory(name="Bags")
    a, b = ProductFactory(category=category), ProductFactory(category=category)
    a_units, b_units = receive(a, 2, clerk), receive(b, 2, clerk)
    a_fake = reject(a_units[0], verdict="counterfeit", first=appraiser, second=appraiser2)
    b_fake = reject(b_units[0], verdict="counterfeit", first=appraiser, second=appraiser2)
    for unit in (a_fake, b_fake):
        services.unit_destroy(
            item_number=unit.item_number, actor=clerk, witness=appraiser, method="Shredded"
        )
    services.appraisal_record(
        item_number=a_units[1].item_number, appraiser=appraiser, verdict="genuine"
    )
    services.disposition_policy_set(
        merchant=b.merchant, disposition="destroy", counterfeit_disposition="destroy"
    )
    return {
        "a": a.merchant,
        "b": b.merchant,
        "a_staff": merchant_staff(a.merchant),
        "a_case": AppraisalCase.objects.get(unit=a_fake),
        "a_genuine": AppraisalCase.objects.get(unit=a_units[1]),
        "b_case": AppraisalCase.objects.get(unit=b_fake),
        "b_disposition": UnitDisposition.objects.get(unit=b_fake),
        "a_disposition": UnitDisposition.objects.get(unit=a_fake),
        "b_policy": DispositionPolicy.objects.get(merchant=b.merchant),
        "platform": staff(roles.PLATFORM_ADMIN, email="root@provena.example"),
    }


def _ids(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


def test_merchant_staff_see_only_their_cases(client, world):
    client.force_login(world["a_staff"])

    response = client.get(CASES)

    assert response.status_code == 200
    assert _ids(response) == {world["a_case"].pk, world["a_genuine"].pk}
    assert world["b_case"].unit.item_number not in response.content.decode()


def test_another_merchants_records_are_404_by_url(client, world):
    client.force_login(world["a_staff"])

    for path in (
        f"{CASES}{world['b_case'].pk}/change/",
        f"{CASES}{world['b_case'].pk}/history/",
        f"{DISPOSITIONS}{world['b_disposition'].pk}/change/",
        f"{POLICIES}{world['b_policy'].pk}/change/",
    ):
        assert client.get(path).status_code == 404, path


def test_a_merchant_sees_the_evidence_but_not_who_appraised(client, world, appraiser):
    client.force_login(world["a_staff"])

    response = client.get(f"{CASES}{world['a_case'].pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Found a problem" in html  # the first appraiser's notes
    assert "Confirmed" in html  # the second's
    photos = world["a_case"].appraisals.all()
    for appraisal in photos:
        thumb = reverse("authenticity:photo", args=[appraisal.photos.get().pk, "thumbnail"])
        assert f'src="{thumb}"' in html
    assert f"Provena staff #{appraiser.pk}" in html
    assert appraiser.email not in html
    assert "Shredded" in html  # the disposition
    assert 'name="_save"' not in html  # a record, not a form


def test_platform_staff_see_every_case_and_the_people(client, world, appraiser):
    client.force_login(world["platform"])

    listing = client.get(CASES)
    detail = client.get(f"{CASES}{world['b_case'].pk}/change/")

    assert _ids(listing) == {world["a_case"].pk, world["a_genuine"].pk, world["b_case"].pk}
    assert appraiser.email in detail.content.decode()
    assert "Provena staff #" not in detail.content.decode()


def test_cases_cannot_be_added_changed_or_deleted(client, world):
    client.force_login(world["platform"])
    case = world["a_case"]

    assert client.get(f"{CASES}add/").status_code == 403
    assert (
        client.post(f"{CASES}{case.pk}/change/", {"status": "awaiting_second"}).status_code == 403
    )
    assert client.post(f"{CASES}{case.pk}/delete/", {"post": "yes"}).status_code == 403
    case.refresh_from_db()
    assert (case.status, case.final_verdict) == ("final", "counterfeit")


def test_dispositions_are_scoped_through_their_case(client, world):
    client.force_login(world["a_staff"])

    response = client.get(DISPOSITIONS)

    assert _ids(response) == {world["a_disposition"].pk}


def test_merchants_read_their_policy_but_only_the_platform_sets_it(client, world):
    client.force_login(world["a_staff"])
    assert client.get(POLICIES).status_code == 200
    assert client.get(f"{POLICIES}add/").status_code == 403

    client.force_login(world["platform"])
    response = client.post(
        f"{POLICIES}add/",
        {"merchant": world["a"].pk, "disposition": "destroy", "counterfeit_disposition": "return"},
    )

    assert response.status_code == 302
    policy = DispositionPolicy.objects.get(merchant=world["a"])
    assert (policy.disposition, policy.counterfeit_disposition) == ("destroy", "return")
    client.force_login(world["a_staff"])
    listing = client.get(POLICIES)
    assert _ids(listing) == {policy.pk}


def test_checklists_are_kept_by_the_platform_and_read_by_appraisers(client, world, appraiser):
    category = CategoryFactory(name="Watches")
    client.force_login(world["platform"])
    response = client.post(
        f"{CHECKLISTS}add/",
        {
            "category": category.pk,
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-0-text": "Movement engraved",
            "items-0-text_zh": "机芯刻字",
            "items-0-required": "on",
            "items-0-position": "0",
        },
    )
    assert response.status_code == 302
    template = ChecklistTemplate.objects.get(category=category)
    assert list(template.items.values_list("text", "text_zh", "required")) == [
        ("Movement engraved", "机芯刻字", True)
    ]

    # merchants never see checklists; an appraiser given console access reads them
    client.force_login(world["a_staff"])
    assert client.get(CHECKLISTS).status_code == 403
    appraiser.is_staff = True  # platform admins grant console access in the user admin
    appraiser.save(update_fields=["is_staff"])
    client.force_login(appraiser)
    assert client.get(CHECKLISTS).status_code == 200
    assert client.get(f"{CHECKLISTS}add/").status_code == 403
    assert client.get(f"{CASES}{world['b_case'].pk}/change/").status_code == 200
