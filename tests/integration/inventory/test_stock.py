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
from omnikanal.inventory.models import Hold, HoldKind, HoldStatus, Location
from omnikanal.kit.time import utcnow
from omnikanal.uow import unit_of_work

STORE = "gbg-avenyn"
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


def test_stock_keeps_its_invariants_whatever_happens(
    session_factory: sessionmaker[Session],
) -> None:
    add_store(session_factory)

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

        @rule(quantity=st.integers(1, 5))
        def receive(self, quantity: int) -> None:
            self._try(
                lambda s: service.adjust(
                    s, location=STORE, sku=self.sku, quantity=quantity, reason="receipt"
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
        )
        def hold(self, quantity: int, kind: str) -> None:
            def act(s: Session) -> None:
                held = service.hold(
                    s,
                    kind=kind,
                    location=STORE,
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
                stock = repository.get_stock(s, STORE, self.sku)
                if stock is None:
                    return
                assert service.available(stock) >= 0
                assert stock.on_hand == repository.adjustment_total(s, STORE, self.sku)
                for kind, field in (
                    (HoldKind.RESERVATION, stock.reserved),
                    (HoldKind.ALLOCATION, stock.allocated),
                ):
                    active = s.scalar(
                        select(func.coalesce(func.sum(Hold.quantity), 0)).where(
                            Hold.kind == kind,
                            Hold.status == HoldStatus.ACTIVE,
                            Hold.sku == self.sku,
                        )
                    )
                    assert field == active

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
