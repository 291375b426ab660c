"""One stock (S7): invariants under any sequence of operations, and the last unit sold once."""

import threading
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.errors import OmnikanalError
from omnikanal.inventory import repository, service
from omnikanal.inventory.models import Adjustment, Hold, HoldKind, HoldStatus, Location
from omnikanal.kit.time import utcnow
from omnikanal.uow import unit_of_work

STORE = "gbg-avenyn"
WAREHOUSE = "wh-boras"
SKU = "COAT-38"


def add_store(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        session.add(
            Location(
                code=STORE,
                name="Göteborg",
                kind="store",
                latitude=57.7,
                longitude=11.97,
                offers_pickup=True,
            )
        )


def add_warehouse(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        session.add(
            Location(
                code=WAREHOUSE, name="Borås", kind="warehouse", latitude=57.72, longitude=12.94
            )
        )


def test_stock_keeps_its_invariants_whatever_happens(
    session_factory: sessionmaker[Session],
) -> None:
    add_store(session_factory)
    add_warehouse(session_factory)
    places = st.sampled_from([STORE, WAREHOUSE])

    class StockMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            # Each example its own SKU: the database outlives examples.
            self.sku = f"SKU-{uuid4().hex[:12]}"
            self.holds: list[UUID] = []
            self.refusals: set[str] = set()
            self.clock = utcnow()

        def _try(self, action: object) -> None:
            try:
                with unit_of_work(session_factory) as session:
                    action(session)  # type: ignore[operator]
            except OmnikanalError as exc:
                # Refusals are allowed; they must change nothing (checked by invariants).
                self.refusals.add(exc.code)

        @rule(quantity=st.integers(1, 5), location=places)
        def receive(self, quantity: int, location: str) -> None:
            self._try(
                lambda s: service.adjust(
                    s, location=location, sku=self.sku, quantity=quantity, reason="receipt"
                )
            )

        @rule(quantity=st.integers(1, 2))
        def customer_returns(self, quantity: int) -> None:
            self._try(
                lambda s: service.adjust(
                    s, location=STORE, sku=self.sku, quantity=quantity, reason="return"
                )
            )

        @rule(quantity=st.integers(1, 6), outward=st.booleans())
        def transfer(self, quantity: int, outward: bool) -> None:
            source, destination = (STORE, WAREHOUSE) if outward else (WAREHOUSE, STORE)
            self._try(
                lambda s: service.transfer(
                    s,
                    sku=self.sku,
                    from_location=source,
                    to_location=destination,
                    quantity=quantity,
                    actor="t",
                )
            )

        @rule(quantity=st.integers(1, 5))
        def sell_at_the_till(self, quantity: int) -> None:
            self._try(
                lambda s: service.adjust(
                    s, location=STORE, sku=self.sku, quantity=-quantity, reason="sale"
                )
            )

        @rule(
            quantity=st.integers(1, 3),
            kind=st.sampled_from([HoldKind.RESERVATION, HoldKind.ALLOCATION]),
            location=places,
        )
        def hold(self, quantity: int, kind: str, location: str) -> None:
            def act(s: Session) -> None:
                held = service.hold(
                    s,
                    kind=kind,
                    location=location,
                    sku=self.sku,
                    quantity=quantity,
                    reference="cart:x",
                    now=self.clock,
                )
                self.holds.append(held.id)

            self._try(act)

        @precondition(lambda self: bool(self.holds))
        @rule(data=st.data())
        def release_or_fulfil(self, data: st.DataObject) -> None:
            hold_id = data.draw(st.sampled_from(self.holds))
            fulfil = data.draw(st.booleans())
            self._try(lambda s: (service.fulfil if fulfil else service.release)(s, hold_id=hold_id))

        @rule(minutes=st.integers(1, 30))
        def time_passes(self, minutes: int) -> None:
            self.clock += timedelta(minutes=minutes)
            self._try(lambda s: service.expire_due(s, now=self.clock))

        @rule(counted=st.integers(0, 10))
        def count(self, counted: int) -> None:
            self._try(
                lambda s: service.count(s, location=STORE, sku=self.sku, counted=counted, actor="t")
            )

        @invariant()
        def only_expected_refusals(self) -> None:
            assert self.refusals <= {"insufficient_stock", "hold_not_active"}

        @invariant()
        def books_balance(self) -> None:
            with session_factory() as s:
                for location in (STORE, WAREHOUSE):
                    stock = repository.get_stock(s, location, self.sku)
                    if stock is None:
                        continue
                    assert service.available(stock) >= 0
                    assert stock.on_hand == repository.adjustment_total(s, location, self.sku)
                    for kind, field in (
                        (HoldKind.RESERVATION, stock.reserved),
                        (HoldKind.ALLOCATION, stock.allocated),
                    ):
                        active = s.scalar(
                            select(func.coalesce(func.sum(Hold.quantity), 0)).where(
                                Hold.kind == kind,
                                Hold.status == HoldStatus.ACTIVE,
                                Hold.location == location,
                                Hold.sku == self.sku,
                            )
                        )
                        assert field == active

        @invariant()
        def transfers_move_stock_and_make_none(self) -> None:
            with session_factory() as s:
                moved = s.execute(
                    select(Adjustment.reference, func.sum(Adjustment.quantity), func.count())
                    .where(
                        Adjustment.sku == self.sku,
                        Adjustment.reason.in_(["transfer_in", "transfer_out"]),
                    )
                    .group_by(Adjustment.reference)
                ).all()
                assert all((total, halves) == (0, 2) for _, total, halves in moved)

    run = StockMachine.TestCase
    run.settings = settings(
        max_examples=25,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    run().runTest()


def test_the_last_unit_is_never_sold_twice(session_factory: sessionmaker[Session]) -> None:
    """Twenty buyers on every channel try for ten units at once: exactly ten succeed."""
    add_store(session_factory)
    with unit_of_work(session_factory) as session:
        service.adjust(session, location=STORE, sku=SKU, quantity=10, reason="receipt")
    won: list[int] = []
    refused: list[str] = []

    def buy(buyer: int) -> None:
        try:
            with unit_of_work(session_factory) as session:
                service.hold(
                    session,
                    kind=HoldKind.RESERVATION,
                    location=STORE,
                    sku=SKU,
                    quantity=1,
                    reference=f"cart:{buyer}",
                )
            won.append(buyer)
        except OmnikanalError as exc:
            refused.append(exc.code)

    threads = [threading.Thread(target=buy, args=(b,)) for b in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 10
    assert refused == ["insufficient_stock"] * 10
    with session_factory() as session:
        stock = repository.get_stock(session, STORE, SKU)
        assert stock is not None
        assert (stock.on_hand, stock.reserved, service.available(stock)) == (10, 10, 0)


def test_bad_changes_are_refused(session_factory: sessionmaker[Session]) -> None:
    add_store(session_factory)
    cases: list[tuple[Callable[[Session], object], str]] = [
        (
            lambda s: service.adjust(s, location="nowhere", sku=SKU, quantity=1, reason="receipt"),
            "location_not_found",
        ),
        (
            lambda s: service.adjust(s, location=STORE, sku=SKU, quantity=1, reason="magic"),
            "unknown_reason",
        ),
        (
            lambda s: service.adjust(s, location=STORE, sku=SKU, quantity=-1, reason="sale"),
            "insufficient_stock",
        ),
        (
            lambda s: service.hold(
                s, kind=HoldKind.RESERVATION, location=STORE, sku=SKU, quantity=0, reference=None
            ),
            "invalid_quantity",
        ),
    ]
    for action, code in cases:
        with pytest.raises(OmnikanalError) as caught, unit_of_work(session_factory) as session:
            action(session)
        assert caught.value.code == code


def test_transfers_both_ways_at_once_finish_and_keep_the_total(
    session_factory: sessionmaker[Session],
) -> None:
    """Transfers in opposite directions lock their two rows in the same order: none waits
    for the other forever (PostgreSQL would abort one as a deadlock)."""
    add_store(session_factory)
    add_warehouse(session_factory)
    with unit_of_work(session_factory) as session:
        for location in (STORE, WAREHOUSE):
            service.adjust(session, location=location, sku=SKU, quantity=50, reason="receipt")
    failures: list[BaseException] = []

    def move(source: str, destination: str) -> None:
        try:
            for _ in range(5):
                with unit_of_work(session_factory) as session:
                    service.transfer(
                        session,
                        sku=SKU,
                        from_location=source,
                        to_location=destination,
                        quantity=1,
                        actor="t",
                    )
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [
        threading.Thread(target=move, args=ends)
        for ends in [(STORE, WAREHOUSE), (WAREHOUSE, STORE)] * 4
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with session_factory() as session:
        for location in (STORE, WAREHOUSE):
            stock = repository.get_stock(session, location, SKU)
            assert stock is not None
            assert stock.on_hand == 50 == repository.adjustment_total(session, location, SKU)
