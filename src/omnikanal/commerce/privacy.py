"""The commerce domain's part: carts, orders, returns and refunds.

Carts are deleted. Orders, their lines, tenders, returns and refunds are bookkeeping
records a retailer must keep for seven years (Bokföringslagen), so erasure keeps them with
the amounts and goods and removes what names the person: the email, the delivery address
(name, phone, street), the profile link, and the person in any free text."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.commerce import repository
from omnikanal.commerce.models import (
    Cart,
    CartLine,
    Order,
    OrderLine,
    Refund,
    Return,
    ReturnLine,
    Tender,
)
from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry, as_document


def _orders(session: Session, person: Person) -> list[Order]:
    emails = sorted(v.lower() for v in person.values("email"))
    return list(repository.orders_of_person(session, sorted(person.profile_ids), emails))


def export(session: Session, person: Person) -> Mapping[str, Any]:
    carts = repository.carts_of(session, sorted(person.profile_ids))
    cart_lines = repository.cart_lines_of(session, [c.id for c in carts])
    orders = _orders(session, person)
    lines, tenders, returns, refunds = repository.order_parts(session, [o.id for o in orders])
    return_lines = repository.return_lines_of(session, [r.id for r in returns])
    return {
        "carts": [
            {
                **as_document(c),
                "lines": [as_document(line) for line in cart_lines if line.cart_id == c.id],
            }
            for c in carts
        ],
        "orders": [
            {
                **as_document(o),
                "lines": [as_document(line) for line in lines if line.order_id == o.id],
                "tenders": [as_document(t) for t in tenders if t.order_id == o.id],
            }
            for o in orders
        ],
        "returns": [
            {
                **as_document(r),
                "lines": [as_document(line) for line in return_lines if line.return_id == r.id],
                "refunds": [as_document(f) for f in refunds if f.return_id == r.id],
            }
            for r in returns
        ],
    }


def erase(session: Session, person: Person) -> int:
    changed = repository.delete_carts(
        session, [c.id for c in repository.carts_of(session, sorted(person.profile_ids))]
    )
    orders = _orders(session, person)
    _, tenders, returns, refunds = repository.order_parts(session, [o.id for o in orders])
    for order in orders:
        order.profile_id = None
        order.anchor_id = None
        order.email = None
        order.delivery_address = None
        order.external_reference = person.scrub(order.external_reference)
        changed += 1
    for tender in tenders:
        tender.reference = person.scrub(tender.reference)
    for refund in refunds:
        refund.reference = person.scrub(refund.reference)
    for returned in returns:
        returned.reason = person.scrub(returned.reason)
    session.flush()
    return changed


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="commerce",
            tables=frozenset(
                model.__tablename__
                for model in (Cart, CartLine, Order, OrderLine, Tender, Return, ReturnLine, Refund)
            ),
            files={
                "carts": "Your carts on every channel and what was in them.",
                "orders": "Your orders from every channel (web, app, stores) with their lines, "
                "how they were paid, the delivery address and email given.",
                "returns": "What you brought back, where, and the refunds given.",
            },
            export=export,
            erase=erase,
        )
    )
