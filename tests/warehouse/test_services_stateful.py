"""Random sequences of warehouse work against a model of what each service must do.

A hypothesis rule-based state machine receives, appraises (with second reviews), reserves,
releases, commits, picks, disposes, relocates and counts (losing and finding units), predicting
every outcome from a plain-Python model; after each step the invariants of the ledger and the
counters are checked against the database. Each example runs in a savepoint rolled back at its
end. Derandomized (a fixed seed), so CI sees the same sequences every run.
"""

from collections import Counter

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts import roles
from authenticity import services as authenticity
from authenticity.models import Verdict
from core.errors import DomainError
from tests.factories import (
    InboundShipmentFactory,
    MerchantFactory,
    ProductFactory,
    image_upload,
    staff_user,
)
from warehouse import services as warehouse
from warehouse.ledger import verify_ledger
from warehouse.models import Location, ProductStock, StockUnit, UnitMovement
from warehouse.selectors import sellable_quantities
from warehouse.services import InsufficientStockError
from warehouse.states import COUNTER_FIELD, STATUS_LOCATION_USAGES, UnitStatus, can_transition

S = UnitStatus
FAILED = [Verdict.DEFECTIVE, Verdict.COUNTERFEIT, Verdict.INCONCLUSIVE]
COUNTABLE = {s for s in S.values if can_transition(s, S.LOST)}
STEPS = settings(
    max_examples=60,
    stateful_step_count=50,
    derandomize=True,  # a fixed seed: the same sequences on every run
    database=None,  # no .hypothesis/ folder in the repository
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


OUTCOMES: Counter[str] = Counter()


def note_outcome(outcome: str) -> None:
    """What the runs actually did, so the test can prove it was not vacuous."""
    OUTCOMES[outcome.split(":")[0] if outcome.startswith("count closed") else outcome] += 1


class World:
    """Who and what every example works with (made once, outside the examples' savepoints)."""

    def __init__(self):
        returns, destroys = MerchantFactory(), MerchantFactory()
        authenticity.disposition_policy_set(
            merchant=destroys, disposition="destroy", counterfeit_disposition="destroy"
        )
        # merchant 0 keeps the default policy: failed units returned, counterfeits destroyed
        self.products = [
            ProductFactory(merchant=returns),
            ProductFactory(merchant=returns),
            ProductFactory(merchant=destroys),
        ]
        self.clerk, self.witness = staff_user(), staff_user()
        self.appraisers = [staff_user(roles.APPRAISER) for _ in range(3)]
        self.locations = list(Location.objects.order_by("position", "code"))


class WarehouseMachine(RuleBasedStateMachine):
    world: World

    def __init__(self):
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.status: dict[int, str] = {}  # unit id -> the status the model expects
        self.product_of: dict[int, int] = {}  # unit id -> product index
        self.before_lost: dict[int, str] = {}
        self.open_case: dict[int, int] = {}  # unit id -> index of the first appraiser
        self.final_verdict: dict[int, str] = {}
        self.reservations: dict[int, dict] = {}
        self.open_counts: dict[int, dict] = {}  # location id -> {"count": .., "seen": set()}

    def teardown(self):
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    # The model ----------------------------------------------------------------------------

    def units_in(self, *statuses: str) -> list[int]:
        return sorted(u for u, s in self.status.items() if s in statuses)

    def reserved(self, p: int) -> int:
        return sum(
            r["quantity"] - r["picked"]
            for r in self.reservations.values()
            if r["product"] == p and r["status"] == "active"
        )

    def sellable(self, p: int) -> int:
        available = sum(1 for u in self.units_in(S.AVAILABLE) if self.product_of[u] == p)
        return available - self.reserved(p)

    def pid(self, p: int) -> int:
        return self.world.products[p].pk

    def unit(self, unit_id: int) -> StockUnit:
        return StockUnit.objects.select_related("location").get(pk=unit_id)

    def refused(self, code: str, call) -> None:
        movements = UnitMovement.objects.count()
        with pytest.raises(DomainError) as err:
            call()
        assert err.value.code == code, str(err.value)
        assert UnitMovement.objects.count() == movements
        note_outcome(f"refused: {code}")

    # Rules ---------------------------------------------------------------------------------

    @initialize()
    def start_empty(self):
        assert not StockUnit.objects.exists()

    @rule(
        p=st.integers(0, 2), n=st.integers(1, 4), announced=st.integers(1, 4), close=st.booleans()
    )
    def receive(self, p, n, announced, close):
        product = self.world.products[p]
        shipment = InboundShipmentFactory(lines=[(product, announced)])
        received = warehouse.inbound_receive(
            shipment=shipment, counts={product.pk: n}, actor=self.world.clerk
        )
        assert len(received.unit_ids) == n
        for unit_id in received.unit_ids:
            self.status[unit_id] = S.AWAITING_APPRAISAL
            self.product_of[unit_id] = p
        if close:
            warehouse.inbound_close(shipment=shipment, actor=self.world.clerk)
            found = list(shipment.discrepancies.values_list("kind", "quantity"))
            if n == announced:
                assert found == []
            else:
                assert found == [("over" if n > announced else "short", abs(n - announced))]

    @precondition(lambda self: self.units_in(S.AWAITING_APPRAISAL))
    @rule(
        data=st.data(),
        # genuine half the time, so there is stock to reserve and pick
        verdict=st.sampled_from([Verdict.GENUINE] * 3 + FAILED),
        appraiser=st.integers(0, 2),
    )
    def appraise(self, data, verdict, appraiser):
        unit_id = data.draw(st.sampled_from(self.units_in(S.AWAITING_APPRAISAL)))
        number = self.unit(unit_id).item_number
        second = unit_id in self.open_case

        def record():
            return authenticity.appraisal_record(
                item_number=number,
                appraiser=self.world.appraisers[appraiser],
                verdict=verdict,
                notes="Found a fault." if verdict in FAILED else "",
                photos=[image_upload(width=64, height=64)]
                if verdict in (Verdict.COUNTERFEIT, Verdict.DEFECTIVE)
                else [],
            )

        if second and self.open_case[unit_id] == appraiser:
            self.refused("same_appraiser", record)
            return
        case = record()
        note_outcome(f"appraised {verdict} at stage {2 if second else 1}")
        final = second or verdict in (Verdict.GENUINE, Verdict.DEFECTIVE)
        assert (case.status == "final") is final
        if not final:
            self.open_case[unit_id] = appraiser
            return
        self.open_case.pop(unit_id, None)
        self.final_verdict[unit_id] = verdict
        self.status[unit_id] = S.AVAILABLE if verdict == Verdict.GENUINE else S.REJECTED

    @precondition(lambda self: any(self.sellable(p) > 0 for p in range(3)))
    @rule(data=st.data())
    def reserve(self, data):
        # mostly products in stock, for a quantity near what is left; sometimes anything
        in_stock = [p for p in range(3) if self.sellable(p) > 0]
        products = st.sampled_from(in_stock) if data.draw(st.integers(0, 3)) else st.integers(0, 2)
        items = data.draw(st.lists(st.tuples(products, st.integers(1, 2)), min_size=1, max_size=3))
        wanted = Counter()
        for p, n in items:
            wanted[p] += n
        short = sorted((self.pid(p), p) for p in wanted if wanted[p] > self.sellable(p))
        call = lambda: warehouse.stock_reserve(  # noqa: E731
            items=[(self.pid(p), n) for p, n in items], order_line_ref=""
        )
        if short:
            note_outcome("refused: insufficient_stock")
            with pytest.raises(InsufficientStockError) as err:
                call()
            _pk, p = short[0]
            assert (err.value.product_id, err.value.wanted, err.value.sellable) == (
                self.pid(p),
                wanted[p],
                max(0, self.sellable(p)),
            )
            return
        reservations = call()
        note_outcome("reserved")
        assert [r.product_id for r in reservations] == sorted(self.pid(p) for p in wanted)
        by_pk = {self.pid(p): p for p in wanted}
        for r in reservations:
            p = by_pk[r.product_id]
            assert r.quantity == wanted[p]
            self.reservations[r.pk] = {
                "product": p,
                "quantity": r.quantity,
                "picked": 0,
                "status": "active",
                "ref": "",
            }

    @precondition(lambda self: self.reservations)
    @rule(data=st.data())
    def release(self, data):
        rid = data.draw(st.sampled_from(sorted(self.reservations)))
        result = warehouse.reservation_release(reservation_id=rid)
        model = self.reservations[rid]
        if model["status"] == "active":
            model["status"] = "released"
        assert result.status == model["status"]

    @precondition(lambda self: self.reservations)
    @rule(data=st.data(), ref=st.sampled_from(["O-1/1", "O-2/1"]))
    def commit(self, data, ref):
        rid = data.draw(st.sampled_from(sorted(self.reservations)))
        model = self.reservations[rid]
        call = lambda: warehouse.reservation_commit(reservation_id=rid, order_line_ref=ref)  # noqa: E731
        if model["status"] == "released":
            self.refused("reservation_released", call)
        elif model["ref"] and model["ref"] != ref:
            self.refused("reservation_taken", call)
        else:
            assert call().order_line_ref == ref
            model["ref"] = ref

    @precondition(lambda self: any(r["status"] == "active" for r in self.reservations.values()))
    @rule(data=st.data())
    def pick(self, data):
        # mostly an active reservation, sometimes a released or fulfilled one
        active = sorted(r for r, m in self.reservations.items() if m["status"] == "active")
        rid = data.draw(
            st.sampled_from(active if data.draw(st.integers(0, 3)) else sorted(self.reservations))
        )
        model = self.reservations[rid]
        # a unit that fits, one of another product, or any unit at all
        pools = [
            [u for u in self.units_in(S.AVAILABLE) if self.product_of[u] == model["product"]],
            [u for u in sorted(self.status) if self.product_of[u] != model["product"]],
            sorted(self.status),
        ]
        pool = pools[data.draw(st.sampled_from([0, 0, 1, 2]))] or pools[2]
        unit_id = data.draw(st.sampled_from(pool))
        number = self.unit(unit_id).item_number
        call = lambda: warehouse.unit_pick(  # noqa: E731
            item_number=number, reservation_id=rid, actor=self.world.clerk
        )
        if model["status"] != "active" or model["picked"] >= model["quantity"]:
            self.refused("nothing_to_pick", call)
        elif self.product_of[unit_id] != model["product"]:
            self.refused("wrong_product", call)
        elif self.status[unit_id] != S.AVAILABLE:
            self.refused("not_available", call)
        else:
            picked = call()
            note_outcome("picked")
            assert (picked.status, picked.reservation_id) == (S.PICKED, rid)
            self.status[unit_id] = S.PICKED
            model["picked"] += 1
            if model["picked"] == model["quantity"]:
                model["status"] = "fulfilled"

    @precondition(lambda self: self.units_in(S.REJECTED))
    @rule(data=st.data(), follow_policy=st.integers(0, 3))
    def dispose(self, data, follow_policy):
        unit_id = data.draw(st.sampled_from(self.units_in(S.REJECTED)))
        number = self.unit(unit_id).item_number
        p = self.product_of[unit_id]
        counterfeit = self.final_verdict[unit_id] == Verdict.COUNTERFEIT
        required_destroy = p == 2 or counterfeit  # merchant 1 destroys all; 0 counterfeits only
        # mostly what the policy asks, sometimes the other way
        destroy = required_destroy if follow_policy else not required_destroy
        if destroy:
            call = lambda: authenticity.unit_destroy(  # noqa: E731
                item_number=number, actor=self.world.clerk, witness=self.world.witness, method="Cut"
            )
        else:
            call = lambda: authenticity.unit_return_to_merchant(  # noqa: E731
                item_number=number, actor=self.world.clerk, carrier="EMS", waybill="E1"
            )
        if destroy != required_destroy:
            self.refused("policy_mismatch", call)
            return
        record = call()
        note_outcome(f"disposed: {record.kind}")
        assert record.kind == ("destroy" if destroy else "return")
        self.status[unit_id] = S.DESTROYED if destroy else S.RETURNED_TO_MERCHANT

    @precondition(lambda self: self.status)
    @rule(data=st.data())
    def relocate(self, data):
        unit_id = data.draw(st.sampled_from(sorted(self.status)))
        allowed = [
            location
            for location in self.world.locations
            if location.usage in STATUS_LOCATION_USAGES[self.status[unit_id]]
        ]
        # mostly a place the unit's status allows, sometimes anywhere
        places = allowed if data.draw(st.integers(0, 2)) else self.world.locations
        location = data.draw(st.sampled_from(places))
        number = self.unit(unit_id).item_number
        call = lambda: warehouse.unit_relocate(  # noqa: E731
            item_number=number, location_code=location.code, actor=self.world.clerk
        )
        if location.usage in STATUS_LOCATION_USAGES[self.status[unit_id]]:
            movement = call()
            assert (movement.to_status, movement.to_location_id) == (
                self.status[unit_id],
                location.pk,
            )
        else:
            self.refused("bad_location", call)

    @precondition(lambda self: self.status)
    @rule(data=st.data())
    def count_start(self, data):
        # mostly a place that holds units and is not being counted, sometimes anywhere
        held = {self.unit(u).location_id for u in self.status} - set(self.open_counts)
        places = [x for x in self.world.locations if x.pk in held]
        if not places or not data.draw(st.integers(0, 3)):
            places = self.world.locations
        location = data.draw(st.sampled_from(places))
        call = lambda: warehouse.stock_count_start(location=location, actor=self.world.clerk)  # noqa: E731
        if location.pk in self.open_counts:
            self.refused("count_open", call)
        else:
            self.open_counts[location.pk] = {"count": call(), "seen": set()}

    @precondition(lambda self: self.open_counts and self.status)
    @rule(data=st.data())
    def count_scan(self, data):
        open_count = self.open_counts[data.draw(st.sampled_from(sorted(self.open_counts)))]
        here = open_count["count"].location_id
        # a unit the ledger puts here, a lost one turning up, or any unit at all
        pools = [
            sorted(u for u in self.status if self.unit(u).location_id == here),
            self.units_in(S.LOST),
            sorted(self.status),
        ]
        pool = pools[data.draw(st.integers(0, 2))] or pools[2]
        unit_id = data.draw(st.sampled_from(pool))
        number = self.unit(unit_id).item_number
        warehouse.stock_count_scan(count=open_count["count"], item_number=number)
        open_count["seen"].add(unit_id)

    @precondition(lambda self: self.open_counts)
    @rule(data=st.data())
    def count_close(self, data):
        location_id = data.draw(st.sampled_from(sorted(self.open_counts)))
        open_count = self.open_counts[location_id]
        location = Location.objects.get(pk=location_id)
        seen = open_count["seen"]
        units = {u: self.unit(u) for u in sorted(self.status)}
        expected = {
            u
            for u, unit in units.items()
            if unit.location_id == location_id and self.status[u] in COUNTABLE
        }
        missing = sorted(expected - seen)
        lost_available = Counter(
            self.product_of[u] for u in missing if self.status[u] == S.AVAILABLE
        )
        call = lambda: warehouse.stock_count_close(  # noqa: E731
            count=open_count["count"], actor=self.world.clerk
        )
        if any(self.sellable(p) < n for p, n in lost_available.items()):
            self.refused("count_reserved_missing", call)
            return
        found_again = sorted(u for u in seen if self.status[u] == S.LOST)
        moved_here = sorted(
            u
            for u in seen
            if self.status[u] != S.LOST
            and units[u].location_id != location_id
            and location.usage in STATUS_LOCATION_USAGES[self.status[u]]
        )
        closed = call()
        note_outcome("count closed")
        if missing:
            note_outcome("lost in a count")
        if found_again:
            note_outcome("found in a count")
        assert (closed.expected, closed.found, closed.missing, closed.relocated) == (
            len(expected),
            len(expected & seen),
            len(missing),
            len(found_again) + len(moved_here),
        )
        for u in missing:
            self.before_lost[u] = self.status[u]
            self.status[u] = S.LOST
        for u in found_again:
            self.status[u] = self.before_lost.pop(u)
        for u in moved_here:
            assert self.unit(u).location_id == location_id
        del self.open_counts[location_id]

    # Invariants -----------------------------------------------------------------------------

    @invariant()
    def the_ledger_replays(self):
        report = verify_ledger()
        assert report.problems == []
        assert report.units == len(self.status)

    @invariant()
    def every_unit_is_where_the_model_and_its_movements_say(self):
        rows = StockUnit.objects.values_list("pk", "status", "location__usage", "reservation_id")
        # the latest movement of each unit wins
        last = dict(UnitMovement.objects.order_by("id").values_list("unit_id", "to_status"))
        for unit_id, status, usage, reservation_id in rows:
            assert status == self.status[unit_id] == last[unit_id]
            assert usage in STATUS_LOCATION_USAGES[status]
            # only picked units belong to a reservation, and they were available when picked
            assert (reservation_id is not None) == (status == S.PICKED)
            if reservation_id is not None:
                pick = UnitMovement.objects.filter(unit_id=unit_id, reason="pick").get()
                assert pick.from_status == S.AVAILABLE

    @invariant()
    def counters_match_the_model(self):
        stock = {
            row["product_id"]: row
            for row in ProductStock.objects.values(
                "product_id", "available", "reserved", "allocated", "in_appraisal", "rejected"
            )
        }
        for p in range(len(self.world.products)):
            row = stock.get(self.pid(p))
            if row is None:
                assert p not in self.product_of.values()
                continue
            counts = Counter(
                COUNTER_FIELD[s] for u, s in self.status.items() if self.product_of[u] == p
            )
            assert row["reserved"] == self.reserved(p)
            assert 0 <= row["reserved"] <= row["available"]
            for field in ("available", "allocated", "in_appraisal", "rejected"):
                assert row[field] == counts[field], field
        sellable = sellable_quantities(product_ids=[self.pid(p) for p in range(3)])
        assert sellable == {self.pid(p): self.sellable(p) for p in range(3)}
        assert all(n >= 0 for n in sellable.values())


@pytest.mark.django_db
def test_random_warehouse_work_keeps_every_invariant():
    WarehouseMachine.world = World()
    OUTCOMES.clear()

    run_state_machine_as_test(WarehouseMachine, settings=STEPS)

    # The sequences did real work of every kind, refusals included (each refusal code is also
    # pinned by its own test in test_services_*.py, so only the common ones are required here).
    print(dict(sorted(OUTCOMES.items())))  # noqa: T201 (shown with -s)
    assert set(OUTCOMES) >= {
        "reserved",
        "picked",
        "appraised genuine at stage 1",
        "appraised counterfeit at stage 1",
        "appraised counterfeit at stage 2",
        "appraised inconclusive at stage 2",
        "disposed: return",
        "count closed",
        "lost in a count",
        "found in a count",
        "refused: insufficient_stock",
        "refused: bad_location",
        "refused: not_available",
        "refused: policy_mismatch",
    }
    # Item numbers are random, so how often picks and reservations succeed varies by run
    # (14 to 30 seen); the floor proves the reservation paths ran, not a rate.
    assert OUTCOMES["picked"] + OUTCOMES["reserved"] >= 10
