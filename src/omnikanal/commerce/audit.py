"""The price audit (S4): lines where a channel charged something other than the price book.

Every order line keeps what the channel charged and what ``price(sku, channel, time)``
said at that moment, so the audit is one query over the lines, however old they are.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from omnikanal.commerce import repository


@dataclass(frozen=True)
class AuditRow:
    channel: str
    sku: str
    currency: str
    lines: int
    mismatched: int
    # Charged minus the book price, over all units: negative when sold too cheap.
    difference: int


@dataclass(frozen=True)
class Mismatch:
    order_number: str
    order_id: str
    channel: str
    location: str | None
    sku: str
    quantity: int
    charged: int
    book_price: int
    currency: str
    placed_at: datetime


@dataclass(frozen=True)
class PriceAudit:
    since: datetime
    until: datetime
    channel: str | None
    lines_checked: int
    mismatched: int
    rows: list[AuditRow]
    mismatches: list[Mismatch]


def price_audit(
    session: Session, *, since: datetime, until: datetime, channel: str | None, limit: int = 200
) -> PriceAudit:
    summary = [
        AuditRow(
            channel=row.channel,
            sku=row.sku,
            currency=row.currency,
            lines=int(row.lines),
            mismatched=int(row.mismatched or 0),
            difference=int(row.difference or 0),
        )
        for row in repository.audit_summary(session, since=since, until=until, channel=channel)
    ]
    mismatches = [
        Mismatch(
            order_number=number,
            order_id=str(line.order_id),
            channel=line.channel,
            location=location,
            sku=line.sku,
            quantity=line.quantity,
            charged=line.unit_price,
            book_price=line.book_unit_price,
            currency=line.currency,
            placed_at=line.placed_at,
        )
        for line, number, location in repository.audit_mismatches(
            session, since=since, until=until, channel=channel, limit=limit
        )
    ]
    return PriceAudit(
        since=since,
        until=until,
        channel=channel,
        lines_checked=sum(row.lines for row in summary),
        mismatched=sum(row.mismatched for row in summary),
        rows=[row for row in summary if row.mismatched],
        mismatches=mismatches,
    )
