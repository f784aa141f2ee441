"""Authenticity services where they meet the warehouse: verdicts across lost-and-found units,
dispositions of units that went missing, and the public check of a label (the verdict rules
themselves are in tests/authenticity/test_services.py)."""

import pytest

from accounts import roles
from authenticity import services as authenticity
from authenticity.models import Appraisal, AppraisalCase, VerificationCheck
from core.errors import DomainError
from tests.factories import (
    ProductFactory,
    appraise,
    staff_user,
    unit_in_status,
    units_receive,
    warehouse_state,
)
from warehouse import services as warehouse
from warehouse.codes import verification_code
from warehouse.ledger import verify_ledger
from warehouse.models import StockUnit

pytestmark = pytest.mark.django_db


def lose_and_find(unit: StockUnit) -> StockUnit:
    """A count of its place that misses it, then a count that sees it again."""
    clerk = staff_user()
    place = unit.location
    count = warehouse.stock_count_start(location=place, actor=clerk)
    for other in StockUnit.objects.filter(location=place).exclude(pk=unit.pk):
        warehouse.stock_count_scan(count=count, item_number=other.item_number)
    warehouse.stock_count_close(count=count, actor=clerk)
    unit.refresh_from_db()
    assert unit.status == "lost"
    count = warehouse.stock_count_start(location=place, actor=clerk)
    for other in StockUnit.objects.filter(location=place):
        warehouse.stock_count_scan(count=count, item_number=other.item_number)
    warehouse.stock_count_scan(count=count, item_number=unit.item_number)
    warehouse.stock_count_close(count=count, actor=clerk)
    unit.refresh_from_db()
    return unit


def test_a_lost_unit_cannot_be_appraised_and_resumes_its_second_review_when_found():
    (unit,) = units_receive(product=ProductFactory(), n=1)
    first, second = staff_user(roles.APPRAISER), staff_user(roles.APPRAISER)
    appraise(unit, "counterfeit", appraiser=first)
    clerk, receiving = staff_user(), unit.location
    count = warehouse.stock_count_start(location=receiving, actor=clerk)
    warehouse.stock_count_close(count=count, actor=clerk)  # nobody saw it: lost
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        authenticity.appraisal_record(
            item_number=unit.item_number, appraiser=second, verdict="genuine"
        )
    assert refused.value.code == "not_awaiting_appraisal"
    assert warehouse_state() == before

    # found again at the receiving dock: waiting for its second review again
    count = warehouse.stock_count_start(location=receiving, actor=clerk)
    warehouse.stock_count_scan(count=count, item_number=unit.item_number)
    warehouse.stock_count_close(count=count, actor=clerk)
    unit.refresh_from_db()
    assert (unit.status, unit.location) == ("awaiting_appraisal", receiving)

    case = authenticity.appraisal_record(
        item_number=unit.item_number, appraiser=second, verdict="genuine"
    )

    assert (case.status, case.final_verdict) == ("final", "genuine")
    assert list(Appraisal.objects.filter(case=case).values_list("stage", "appraiser")) == [
        (1, first.pk),
        (2, second.pk),
    ]
    assert AppraisalCase.objects.filter(unit=unit).count() == 1
    unit.refresh_from_db()
    assert unit.status == "available"
    assert verify_ledger().problems == []


def test_a_rejected_unit_lost_and_found_is_still_disposed_of_by_its_policy():
    unit = lose_and_find(unit_in_status("rejected"))
    assert (unit.status, unit.location.code) == ("rejected", "REJ-01")

    record = authenticity.unit_return_to_merchant(
        item_number=unit.item_number, actor=staff_user(), carrier="EMS", waybill="E9"
    )

    unit.refresh_from_db()
    assert (record.kind, record.waybill, unit.status) == ("return", "E9", "returned_to_merchant")
    assert verify_ledger().problems == []


def test_a_lost_rejected_unit_cannot_be_disposed_of():
    unit = unit_in_status("rejected")
    clerk = staff_user()
    count = warehouse.stock_count_start(location=unit.location, actor=clerk)
    for other in StockUnit.objects.filter(location=unit.location).exclude(pk=unit.pk):
        warehouse.stock_count_scan(count=count, item_number=other.item_number)
    warehouse.stock_count_close(count=count, actor=clerk)
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        authenticity.unit_return_to_merchant(
            item_number=unit.item_number, actor=clerk, carrier="EMS", waybill="E9"
        )

    assert refused.value.code == "not_rejected"
    assert warehouse_state() == before


# The public check of a label --------------------------------------------------------------


@pytest.fixture
def genuine():
    return unit_in_status("available")


@pytest.mark.parametrize(
    "code", ["", "WRONG123", "ÄÖÜÄÖÜÄÖ", "密码密码密码密码", "🙂" * 8, "\x00" * 8]
)
def test_a_wrong_code_tells_nothing_and_records_nothing(genuine, code):
    assert authenticity.unit_verify(item_number=genuine.item_number, code=code, client="a") is None
    assert not VerificationCheck.objects.exists()


def test_an_unknown_or_malformed_number_tells_nothing(genuine):
    for number in ("PV000000001Y", "PV000000001Z", "ü", ""):
        code = verification_code(number)
        assert authenticity.unit_verify(item_number=number, code=code, client="a") is None
    assert not VerificationCheck.objects.exists()


def test_the_right_code_typed_untidily_is_recorded(genuine):
    code = verification_code(genuine.item_number)

    result = authenticity.unit_verify(
        item_number=genuine.item_number.lower(), code=f"{code[:4].lower()}-{code[4:]}", client="a"
    )

    assert (result.item_number, result.status, result.verdict, result.genuine) == (
        genuine.item_number,
        "available",
        "genuine",
        True,
    )
    assert VerificationCheck.objects.filter(unit=genuine).count() == 1


def test_five_checks_from_one_client_then_the_sixth_is_flagged(genuine):
    code = verification_code(genuine.item_number)
    results = [
        authenticity.unit_verify(item_number=genuine.item_number, code=code, client="phone-a")
        for _ in range(6)
    ]

    assert [(r.previous_checks, r.flagged) for r in results] == [
        (0, False),
        (1, False),
        (2, False),
        (3, False),
        (4, False),
        (5, True),
    ]


def test_checks_from_two_other_clients_are_flagged(genuine):
    code = verification_code(genuine.item_number)

    def check(client):
        return authenticity.unit_verify(item_number=genuine.item_number, code=code, client=client)

    assert [check(c).flagged for c in ("a", "b", "a", "c")] == [False, False, False, True]
    # the stored client is a hash, never what identified it
    assert set(VerificationCheck.objects.values_list("client_hash", flat=True)).isdisjoint(
        {"a", "b", "c"}
    )


def test_a_rejected_unit_is_never_called_genuine():
    unit = unit_in_status("rejected")

    result = authenticity.unit_verify(
        item_number=unit.item_number, code=verification_code(unit.item_number), client="a"
    )

    assert (result.status, result.verdict, result.genuine) == ("rejected", "defective", False)
    assert [step.text for step in result.custody] == [
        "Received at the Provena warehouse from the merchant",
        "Failed authentication and was withdrawn from sale",
    ]
