"""The movement ledger: it replays real histories, catches tampering, and cannot be rewritten."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import F

from accounts import roles
from authenticity import services as authenticity
from authenticity.models import Verdict
from tests.factories import (
    ProductFactory,
    appraise,
    staff_user,
    unit_in_status,
    units_available,
    units_receive,
)
from warehouse import services as warehouse
from warehouse.ledger import verify_ledger
from warehouse.models import Location, ProductStock, Reservation, StockUnit, UnitMovement
from warehouse.states import UnitStatus

BASE_DIR = Path(settings.BASE_DIR)


def a_real_history():
    """Two products through most of the spine: receive, appraise (genuine, defective, second
    review), reserve, pick, release, dispose, relocate, lose and find in counts."""
    a, b = ProductFactory(), ProductFactory()
    clerk, first, second = staff_user(), staff_user(roles.APPRAISER), staff_user(roles.APPRAISER)
    units = units_receive(product=a, n=4, clerk=clerk) + units_receive(product=b, n=2, clerk=clerk)
    appraise(units[0], Verdict.GENUINE, appraiser=first)
    appraise(units[1], Verdict.GENUINE, appraiser=first)
    appraise(units[2], Verdict.COUNTERFEIT, appraiser=first)
    appraise(units[2], Verdict.COUNTERFEIT, appraiser=second)
    appraise(units[4], Verdict.GENUINE, appraiser=second)
    appraise(units[5], Verdict.DEFECTIVE, appraiser=second)
    (ra,) = warehouse.stock_reserve(items=[(a.pk, 2)])
    warehouse.unit_pick(item_number=units[0].item_number, reservation_id=ra.pk, actor=clerk)
    warehouse.reservation_release(reservation_id=ra.pk)
    warehouse.stock_reserve(items=[(b.pk, 1)])
    authenticity.unit_destroy(
        item_number=units[2].item_number, actor=clerk, witness=first, method="Shredded"
    )
    authenticity.unit_return_to_merchant(
        item_number=units[5].item_number, actor=clerk, carrier="EMS", waybill="E1"
    )
    warehouse.unit_relocate(item_number=units[1].item_number, location_code="STK-A08", actor=clerk)
    count = warehouse.stock_count_start(location=Location.objects.get(code="STK-A08"), actor=clerk)
    warehouse.stock_count_close(count=count, actor=clerk)  # units[1] lost
    count = warehouse.stock_count_start(location=Location.objects.get(code="STK-A03"), actor=clerk)
    warehouse.stock_count_scan(count=count, item_number=units[1].item_number)
    warehouse.stock_count_close(count=count, actor=clerk)  # found, kept in A03
    return a, b, units


@pytest.mark.django_db
def test_an_empty_warehouse_verifies():
    report = verify_ledger()

    assert (report.ok, report.movements, report.units, report.products) == (True, 0, 0, 0)


@pytest.mark.django_db
def test_a_real_history_verifies():
    _a, _b, units = a_real_history()

    report = verify_ledger()

    assert report.problems == []
    assert report.ok
    assert (report.movements, report.units, report.products) == (
        UnitMovement.objects.count(),
        6,
        2,
    )
    # 6 receipts, 6 verdicts that moved a unit, 1 pick, 2 disposals, 1 relocation, lost, found
    assert report.movements == 6 + 5 + 1 + 2 + 1 + 1 + 1
    assert [
        StockUnit.objects.values_list("status", "location__code").get(pk=u.pk) for u in units
    ] == [
        ("picked", "PCK-01"),
        ("available", "STK-A03"),
        ("destroyed", "SCR-01"),
        ("awaiting_appraisal", "RCV-01"),
        ("available", units[4].location.code),
        ("returned_to_merchant", "OUT-01"),
    ]


@pytest.mark.django_db
def test_a_unit_changed_behind_the_services_back_is_caught():
    product = ProductFactory()
    unit, _other = units_available(product=product, n=2)
    where = unit.location_id

    StockUnit.objects.filter(pk=unit.pk).update(status=UnitStatus.REJECTED)
    report = verify_ledger()

    assert not report.ok
    assert report.problems == [
        f"unit {unit.pk}: is rejected@{where}, ledger says ('available', {where})",
        f"product {product.pk}: available is 2, ledger says 1",
        f"product {product.pk}: rejected is 0, ledger says 1",
    ]


@pytest.mark.django_db
def test_a_unit_moved_behind_the_services_back_is_caught():
    product = ProductFactory()
    (unit,) = units_available(product=product, n=1)
    where, elsewhere = unit.location_id, Location.objects.get(code="STK-A08").pk

    StockUnit.objects.filter(pk=unit.pk).update(location_id=elsewhere)

    assert verify_ledger().problems == [
        f"unit {unit.pk}: is available@{elsewhere}, ledger says ('available', {where})"
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["available", "in_appraisal", "rejected", "allocated"])
def test_a_counter_changed_behind_the_services_back_is_caught(field):
    product = ProductFactory()
    units_available(product=product, n=2)
    expected = ProductStock.objects.values_list(field, flat=True).get(pk=product.pk)

    ProductStock.objects.filter(pk=product.pk).update(**{field: F(field) + 1})

    assert verify_ledger().problems == [
        f"product {product.pk}: {field} is {expected + 1}, ledger says {expected}"
    ]


@pytest.mark.django_db
def test_reserved_must_match_the_active_reservations():
    product = ProductFactory()
    units_available(product=product, n=3)
    (reservation,) = warehouse.stock_reserve(items=[(product.pk, 2)])

    Reservation.objects.filter(pk=reservation.pk).update(quantity=1)

    assert verify_ledger().problems == [f"product {product.pk}: reserved is 2, ledger says 1"]


@pytest.mark.django_db
def test_a_movement_that_does_not_continue_the_chain_is_caught():
    product = ProductFactory()
    (unit,) = units_available(product=product, n=1)
    receiving = Location.objects.get(code="RCV-01")

    # appended, consistent with where the unit is now, but not with where it was
    UnitMovement.objects.create(
        unit=unit,
        from_status=UnitStatus.AWAITING_APPRAISAL,
        to_status=UnitStatus.AVAILABLE,
        from_location=receiving,
        to_location=unit.location,
        reason="relocate",
    )

    assert verify_ledger().problems == [
        f"unit {unit.pk}: moved from awaiting_appraisal@{receiving.pk}, "
        f"was available@{unit.location_id}"
    ]


@pytest.mark.django_db
def test_a_forged_but_consistent_forbidden_transition_is_caught():
    # Someone "sells" a rejected unit: movement, unit row and counters all agree,
    # but rejected -> available is not a transition of the spine.
    product = ProductFactory()
    unit = unit_in_status(UnitStatus.REJECTED, product=product)
    bin_ = Location.objects.get(code="STK-A01")
    UnitMovement.objects.create(
        unit=unit,
        from_status=UnitStatus.REJECTED,
        to_status=UnitStatus.AVAILABLE,
        from_location=unit.location,
        to_location=bin_,
        reason="relocate",
    )
    StockUnit.objects.filter(pk=unit.pk).update(status=UnitStatus.AVAILABLE, location=bin_)
    ProductStock.objects.filter(pk=product.pk).update(rejected=0, available=1)

    assert verify_ledger().problems == [
        f"unit {unit.pk}: forbidden transition rejected -> available"
    ]


@pytest.mark.django_db
def test_a_unit_without_a_receipt_movement_is_caught():
    product = ProductFactory()
    (real,) = units_available(product=product, n=1)
    bin_ = real.location
    smuggled = StockUnit.objects.create(
        item_number="PV000000001Y",
        product=product,
        merchant=product.merchant,
        status=UnitStatus.AVAILABLE,
        location=bin_,
    )
    ProductStock.objects.filter(pk=product.pk).update(available=2)
    assert verify_ledger().problems == [
        f"unit {smuggled.pk}: is available@{bin_.pk}, ledger says None"
    ]

    UnitMovement.objects.create(
        unit=smuggled,
        from_status=UnitStatus.AWAITING_APPRAISAL,
        to_status=UnitStatus.AVAILABLE,
        from_location=bin_,
        to_location=bin_,
        reason="relocate",
    )
    assert verify_ledger().problems == [
        f"unit {smuggled.pk}: first movement starts from 'awaiting_appraisal', not creation"
    ]


@pytest.mark.django_db
def test_problems_are_capped():
    product = ProductFactory()
    units_receive(product=product, n=5)

    StockUnit.objects.update(status=UnitStatus.AVAILABLE)

    assert len(verify_ledger().problems) == 5 + 2
    assert len(verify_ledger(max_problems=3).problems) == 3


@pytest.mark.django_db
def test_a_recorded_movement_cannot_be_saved_again():
    (unit,) = units_receive(product=ProductFactory(), n=1)
    movement = UnitMovement.objects.get(unit=unit)
    movement.note = "edited"

    with pytest.raises(ValueError, match="immutable"):
        movement.save()

    assert UnitMovement.objects.get(pk=movement.pk).note == ""


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "tamper",
    [
        lambda: UnitMovement.objects.update(note="edited"),
        lambda: UnitMovement.objects.filter(reason="receive").delete(),
        lambda: connection.cursor().execute(
            "UPDATE warehouse_unitmovement SET to_status = 'available'"
        ),
        lambda: connection.cursor().execute("DELETE FROM warehouse_unitmovement"),
    ],
    ids=["queryset-update", "queryset-delete", "sql-update", "sql-delete"],
)
def test_postgres_refuses_to_update_or_delete_movements(tamper):
    units_receive(product=ProductFactory(), n=1)
    before = list(UnitMovement.objects.values_list("pk", "to_status", "note"))

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        tamper()

    assert list(UnitMovement.objects.values_list("pk", "to_status", "note")) == before
    assert verify_ledger().ok


# The management command ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_reports_a_sound_ledger():
    a_real_history()
    out = StringIO()

    call_command("verify_ledger", stdout=out)

    text = out.getvalue()
    assert f"{UnitMovement.objects.count()} movements, 6 units, 2 products checked in" in text
    assert "Ledger verified: every unit and counter agrees." in text


@pytest.mark.django_db
def test_the_command_fails_listing_the_problems():
    product = ProductFactory()
    units_available(product=product, n=2)
    ProductStock.objects.filter(pk=product.pk).update(available=5)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("verify_ledger", stdout=out, stderr=err)

    assert str(failed.value) == "The ledger disagrees in 1 place(s)."
    assert failed.value.returncode == 1
    assert err.getvalue() == f"  product {product.pk}: available is 5, ledger says 2\n"
    assert "Ledger verified" not in out.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_manage_py_verify_ledger_exits_non_zero_on_a_broken_ledger():
    # The real process against the test database (committed data: a transactional test).
    product = ProductFactory()
    units_available(product=product, n=1)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db.get("PASSWORD"):
        url = url.replace(f"{db['USER']}@", f"{db['USER']}:{db['PASSWORD']}@")
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    command = [sys.executable, str(BASE_DIR / "manage.py"), "verify_ledger"]

    sound = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    ProductStock.objects.filter(pk=product.pk).update(in_appraisal=3)
    broken = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603

    assert sound.returncode == 0, sound.stderr
    assert "Ledger verified" in sound.stdout
    assert broken.returncode == 1
    assert f"product {product.pk}: in_appraisal is 3, ledger says 0" in broken.stderr
    assert "The ledger disagrees in 1 place(s)." in broken.stderr
