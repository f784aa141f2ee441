"""Replays the movement ledger and proves that units and counters agree with it.

Streams movements ordered by (unit, id) with a server-side cursor, so a million rows take one pass
and bounded memory.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .models import ProductStock, Reservation, ReservationStatus, StockUnit, UnitMovement
from .states import COUNTER_FIELD, COUNTER_FIELDS, can_transition


@dataclass
class LedgerReport:
    movements: int = 0
    units: int = 0
    products: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_ledger(*, max_problems: int = 100) -> LedgerReport:
    report = LedgerReport()

    def problem(text: str) -> None:
        if len(report.problems) < max_problems:
            report.problems.append(text)

    replayed: dict[int, tuple[str, int]] = {}  # unit id -> (status, location id)
    rows = UnitMovement.objects.order_by("unit_id", "id").values_list(
        "unit_id", "from_status", "to_status", "from_location_id", "to_location_id"
    )
    for unit_id, from_status, to_status, from_loc, to_loc in rows.iterator(chunk_size=20000):
        report.movements += 1
        previous = replayed.get(unit_id)
        if previous is None:
            if from_status:
                problem(f"unit {unit_id}: first movement starts from {from_status!r}, not creation")
        else:
            status, location = previous
            if from_status != status or from_loc != location:
                problem(
                    f"unit {unit_id}: moved from {from_status}@{from_loc}, was {status}@{location}"
                )
            if from_status != to_status and not can_transition(from_status, to_status):
                problem(f"unit {unit_id}: forbidden transition {from_status} -> {to_status}")
        replayed[unit_id] = (to_status, to_loc)

    expected: dict[int, Counter] = defaultdict(Counter)
    units = StockUnit.objects.values_list("id", "product_id", "status", "location_id")
    for unit_id, product_id, status, location_id in units.iterator(chunk_size=20000):
        report.units += 1
        if replayed.get(unit_id) != (status, location_id):
            problem(
                f"unit {unit_id}: is {status}@{location_id}, ledger says {replayed.get(unit_id)}"
            )
        if counter := COUNTER_FIELD.get(status):
            expected[product_id][counter] += 1
    if len(replayed) != report.units:
        orphans = set(replayed) - set(StockUnit.objects.values_list("id", flat=True))
        for unit_id in sorted(orphans)[:10]:
            problem(f"unit {unit_id}: has movements but no unit row")

    reserved = Counter()
    for product_id, quantity, picked in Reservation.objects.filter(
        status=ReservationStatus.ACTIVE
    ).values_list("product_id", "quantity", "picked"):
        reserved[product_id] += quantity - picked
    for row in ProductStock.objects.values("product_id", *COUNTER_FIELDS).iterator(chunk_size=5000):
        report.products += 1
        product_id = row["product_id"]
        want = expected.pop(product_id, Counter())
        want["reserved"] = reserved.pop(product_id, 0)
        for name in COUNTER_FIELDS:
            if row[name] != want[name]:
                problem(f"product {product_id}: {name} is {row[name]}, ledger says {want[name]}")
    for product_id, counts in expected.items():
        if any(counts.values()):
            problem(f"product {product_id}: has units {dict(counts)} but no stock row")
    for product_id, n in reserved.items():
        if n:
            problem(f"product {product_id}: reservations of {n} but no stock row")
    return report
