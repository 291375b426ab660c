"""The inbox's read side: whether a position is resolved, and how far behind resolution is."""

from datetime import timedelta
from uuid import uuid4

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.events import service
from omnikanal.events.models import InboxMessage
from omnikanal.kit.time import utcnow


def append(factory: sessionmaker[Session], count: int, *, age: timedelta) -> list[int]:
    arrived = utcnow() - age
    with factory() as session:
        rows = [
            InboxMessage(
                source_id=uuid4(),
                channel="web",
                location=None,
                message_id=f"m-{i}",
                seen_at=arrived,
                sent_at=None,
                received_at=arrived,
                message={"type": "track", "event": "Product Viewed"},
            )
            for i in range(count)
        ]
        session.add_all(rows)
        session.commit()
        return [row.position for row in rows]


def test_a_position_is_resolved_once_nothing_at_or_below_it_waits(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        assert service.is_resolved(session, position=0)
        assert service.resolution_lag(session) == service.ResolutionLag(0, 0.0)
    positions = append(session_factory, 3, age=timedelta(seconds=30))
    assert positions == sorted(positions)
    assert len(set(positions)) == 3
    with session_factory() as session:
        lag = service.resolution_lag(session)
        assert lag.messages == 3
        assert 29 <= lag.seconds < 60
        assert not service.is_resolved(session, position=positions[0])
        # The first is resolved; the others are above the position asked about.
        session.execute(delete(InboxMessage).where(InboxMessage.position == positions[0]))
        session.commit()
        assert service.is_resolved(session, position=positions[0])
        assert not service.is_resolved(session, position=positions[2])
        session.execute(delete(InboxMessage))
        session.commit()
    # Positions are never reused, even after the inbox emptied.
    (later,) = append(session_factory, 1, age=timedelta(0))
    assert later > positions[2]
    with session_factory() as session:
        assert session.scalar(select(InboxMessage.position)) == later
