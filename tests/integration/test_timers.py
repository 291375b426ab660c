import threading
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.kit.time import utcnow
from omnikanal.outbox.registry import HandlerRegistry
from omnikanal.timers import service as timer_service
from omnikanal.timers.models import Timer, TimerStatus
from omnikanal.timers.runner import TimerRunner
from omnikanal.uow import unit_of_work


def runner(factory: sessionmaker[Session], fired: list[str], *, fail: bool = False) -> TimerRunner:
    registry = HandlerRegistry()

    def remind(session: Session, timer: Timer) -> None:
        if fail:
            raise RuntimeError("mail server down")
        fired.append(timer.key)

    registry.on_timer("reminder", remind)
    return TimerRunner(session_factory=factory, registry=registry, max_attempts=2)


def test_due_timers_fire_once_and_future_ones_wait(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        timer_service.schedule(
            session, kind="reminder", key="cart-1", due_at=utcnow(), payload={"cart": 1}
        )
        timer_service.schedule(
            session,
            kind="reminder",
            key="cart-2",
            due_at=utcnow() + timedelta(hours=1),
            payload={"cart": 2},
        )
    fired: list[str] = []
    assert runner(session_factory, fired).run_due() == 1
    assert runner(session_factory, fired).run_due() == 0
    assert fired == ["cart-1"]


def test_rescheduling_moves_the_timer_and_cancel_stops_it(
    session_factory: sessionmaker[Session],
) -> None:
    with unit_of_work(session_factory) as session:
        timer_service.schedule(
            session, kind="reminder", key="c", due_at=utcnow() + timedelta(hours=1), payload={}
        )
        timer_service.schedule(session, kind="reminder", key="c", due_at=utcnow(), payload={})
        timer_service.schedule(session, kind="reminder", key="gone", due_at=utcnow(), payload={})
        assert timer_service.cancel(session, kind="reminder", key="gone")
    fired: list[str] = []
    runner(session_factory, fired).run_due()
    assert fired == ["c"]
    with session_factory() as session:
        assert len(session.scalars(select(Timer)).all()) == 2


def test_two_workers_fire_each_timer_once(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        for n in range(40):
            timer_service.schedule(
                session, kind="reminder", key=f"cart-{n}", due_at=utcnow(), payload={}
            )
    fired: list[str] = []
    lock = threading.Lock()
    registry = HandlerRegistry()

    def remind(session: Session, timer: Timer) -> None:
        with lock:
            fired.append(timer.key)

    registry.on_timer("reminder", remind)
    workers = [
        TimerRunner(session_factory=session_factory, registry=registry, max_attempts=3)
        for _ in range(2)
    ]
    threads = [threading.Thread(target=w.run_due) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(fired) == sorted(f"cart-{n}" for n in range(40))


def test_failures_are_recorded_then_given_up(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        timer_service.schedule(session, kind="reminder", key="x", due_at=utcnow(), payload={})
    failing = runner(session_factory, [], fail=True)
    failing.run_due()
    with unit_of_work(session_factory) as session:
        timer = timer_service.get(session, kind="reminder", key="x")
        assert timer is not None
        assert timer.status == TimerStatus.SCHEDULED
        assert timer.attempts == 1
        assert timer.last_error == "RuntimeError: mail server down"
        timer.due_at = utcnow()
    failing.run_due()
    with session_factory() as session:
        timer = timer_service.get(session, kind="reminder", key="x")
        assert timer is not None
        assert timer.status == TimerStatus.FAILED


def test_a_timer_cancelled_while_it_fires_leaves_no_trace_of_its_work(
    session_factory: sessionmaker[Session],
) -> None:
    """The handler's work commits with the timer marked fired, or not at all: a request
    that cancels the timer while the handler runs wins, and what the handler wrote goes."""
    with unit_of_work(session_factory) as session:
        timer_service.schedule(session, kind="reminder", key="c-9", due_at=utcnow(), payload={})
    registry = HandlerRegistry()

    def remind_after_a_cancel(session: Session, timer: Timer) -> None:
        with unit_of_work(session_factory) as other:  # a request, meanwhile
            assert timer_service.cancel(other, kind="reminder", key="c-9")
        timer_service.schedule(
            session, kind="follow-up", key="c-9", due_at=utcnow(), payload={}
        )  # the handler's own write

    registry.on_timer("reminder", remind_after_a_cancel)
    TimerRunner(session_factory=session_factory, registry=registry, max_attempts=2).run_due()
    with session_factory() as session:
        timers = {t.kind: t for t in session.scalars(select(Timer))}
    assert set(timers) == {"reminder"}
    assert timers["reminder"].status == TimerStatus.CANCELLED
    assert timers["reminder"].attempts == 0  # not a failure to retry
