"""Carrier tracking batches, as the fulfilment benchmark pushes them: many parcels per batch,
duplicates and late batches. Found by `make bench` (fulfilment): every event cost a savepoint, an
insert and a save, so 10,000 events took 50 s where the issue asks for under 30."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from logistics import services as logistics
from logistics.carriers import get_carrier
from logistics.models import Shipment, TrackingEvent

pytestmark = pytest.mark.django_db


def _routes(n: int) -> dict[str, list]:
    carrier = get_carrier("simulated")
    now = timezone.now()
    routes = {}
    for i in range(n):
        shipment = Shipment.objects.create(
            carrier_code="simulated",
            waybill=f"SIM{i:012d}",
            parcel_code=f"PKTEST{i:04d}",
            order_ref=f"ORDER{i}",
        )
        routes[shipment.waybill] = carrier.plan(waybill=shipment.waybill, handed_over_at=now)
    return routes


def _statuses() -> dict[str, str]:
    return dict(Shipment.objects.values_list("waybill", "status"))


def test_a_batch_is_stored_in_a_few_queries_without_a_savepoint_per_event():
    routes = _routes(20)
    batch = [step for route in routes.values() for step in route[:2]]  # 40 events
    with CaptureQueriesContext(connection) as queries:
        result = logistics.tracking_ingest(carrier_code="simulated", updates=batch)
    assert (result.outcome, result.stored, result.duplicates) == ("ok", 40, 0)
    sql = [q["sql"] for q in queries.captured_queries]
    # The test's own transaction turns the service's atomic block into one savepoint.
    assert sum(s.startswith("SAVEPOINT") for s in sql) <= 1
    # Lock the shipments, find the stored events, insert the new ones, save each shipment once.
    assert len(sql) <= 3 + len(routes) + 2
    assert set(_statuses().values()) == {routes["SIM000000000000"][1].status}


def test_duplicates_and_late_batches_store_nothing_twice_and_never_go_back():
    routes = _routes(5)
    first = [route[i] for route in routes.values() for i in (0, 1, 2)]
    assert logistics.tracking_ingest(carrier_code="simulated", updates=first).stored == 15
    ahead = _statuses()
    # A re-sent batch mixed with the next step and one event twice in the same batch.
    mixed = first[::-1] + [route[3] for route in routes.values()] + [first[0]]
    result = logistics.tracking_ingest(carrier_code="simulated", updates=mixed)
    assert (result.stored, result.duplicates) == (5, 16)
    moved = _statuses()
    assert all(moved[w] == routes[w][3].status for w in routes)
    assert moved != ahead
    # A late batch of earlier steps: kept if new, the status stays where it was.
    late = [route[1] for route in routes.values()]
    result = logistics.tracking_ingest(carrier_code="simulated", updates=late)
    assert (result.stored, result.duplicates) == (0, 5)
    assert _statuses() == moved
    assert TrackingEvent.objects.count() == 20
