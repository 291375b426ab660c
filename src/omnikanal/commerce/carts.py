"""Carts that follow the person, not the device (S2).

A cart is made for whatever identifies the buyer (an app's anonymous id, a user id, an
email) and belongs to that person's profile; any of the person's identifiers finds it
again. When two profiles turn out to be one person, their carts become one: the union of
the lines, the larger quantity of each, so no line is lost. Lines are priced from the
price book whenever the cart is read.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth.service import StaffActor
from omnikanal.catalog import service as catalog_service
from omnikanal.catalog.pricing import Quote, vat_included
from omnikanal.commerce import repository
from omnikanal.commerce.models import Cart, CartLine, CartStatus
from omnikanal.commerce.service import (
    CartsMerged,
    CartUpdated,
    CommerceErrorCode,
    Counter,
    activity,
    live_profile_id,
    on_timeline,
    person_family,
)
from omnikanal.customers import service as customers_service
from omnikanal.customers.identity import IdentifierKey
from omnikanal.customers.service import Placement
from omnikanal.errors import Conflict, NotFound, RuleViolation
from omnikanal.events import service as events_service
from omnikanal.experiments import exposures as experiment_exposures
from omnikanal.kit.ids import new_id
from omnikanal.kit.limits import MAX_QUANTITY
from omnikanal.kit.time import utcnow
from omnikanal.uow import record_event


@dataclass(frozen=True)
class LineState:
    sku: str
    quantity: int
    unit_price_when_added: int
    added_at: datetime


@dataclass(frozen=True)
class CartState:
    """A cart as the person sees it: with the lines of their other carts not yet merged."""

    cart: Cart
    profile_id: UUID
    lines: list[LineState]
    merged_cart_ids: list[UUID]


@dataclass(frozen=True)
class PricedLine:
    sku: str
    name: str
    image_url: str | None
    quantity: int
    quote: Quote
    line_total: int
    vat_amount: int
    unit_price_when_added: int
    added_at: datetime

    @property
    def price_changed(self) -> bool:
        return self.quote.unit_price != self.unit_price_when_added


@dataclass(frozen=True)
class PricedCart:
    state: CartState
    channel: str
    lines: list[PricedLine]
    total: int
    vat_by_rate: dict[int, int]


def union_of(carts_lines: Sequence[Sequence[LineState]]) -> list[LineState]:
    """Merged carts keep every SKU once, with the larger quantity (first cart on ties)."""
    chosen: dict[str, LineState] = {}
    for lines in carts_lines:
        for line in lines:
            kept = chosen.get(line.sku)
            if kept is None or line.quantity > kept.quantity:
                chosen[line.sku] = line
    return sorted(chosen.values(), key=lambda line: (line.added_at, line.sku))


def _state(line: CartLine) -> LineState:
    return LineState(line.sku, line.quantity, line.unit_price_when_added, line.added_at)


def _person_carts(session: Session, profile_id: UUID) -> tuple[UUID, Sequence[Cart]]:
    family = person_family(session, profile_id)
    return family[0], repository.active_carts(session, family)


def _lines_by_cart(session: Session, carts: Sequence[Cart]) -> dict[UUID, list[CartLine]]:
    by_cart: dict[UUID, list[CartLine]] = {cart.id: [] for cart in carts}
    for line in repository.cart_lines(session, list(by_cart)):
        by_cart[line.cart_id].append(line)
    return by_cart


def person_cart(session: Session, *, profile_id: UUID) -> CartState | None:
    """The person's active cart, as one even before their carts are merged (read only)."""
    live, carts = _person_carts(session, profile_id)
    if not carts:
        return None
    by_cart = _lines_by_cart(session, carts)
    lines = union_of([[_state(line) for line in by_cart[cart.id]] for cart in carts])
    return CartState(carts[0], live, lines, [cart.id for cart in carts[1:]])


def consolidate(session: Session, *, profile_id: UUID) -> Cart | None:
    """Make the person's active carts one (on a merge, and lazily by the next cart
    change): the most recently changed shows the union of the lines (the larger quantity
    of each), and each joined cart keeps its own lines, so an unmerge can give them back
    (``split_on_unmerge``). Safe to run again (it finds one cart and does nothing)."""
    live, carts = _person_carts(session, profile_id)
    if len(carts) <= 1:
        return carts[0] if carts else None
    survivor = _follow(session, carts[0].id, lock=True)
    others = carts[1:]
    by_cart = _lines_by_cart(session, carts)
    kept = {line.sku: line.quantity for line in by_cart[survivor.id]}
    for other in others:
        for line in by_cart[other.id]:
            if line.sku not in kept:
                repository.copy_line(session, line, to_cart=survivor.id)
            elif line.quantity > kept[line.sku]:
                repository.set_line_quantity(
                    session, cart_id=survivor.id, sku=line.sku, quantity=line.quantity
                )
            kept[line.sku] = max(line.quantity, kept.get(line.sku, 0))
        other.status = CartStatus.MERGED
        other.merged_into = survivor.id
        other.updated_at = utcnow()
    survivor.profile_id = live
    survivor.updated_at = utcnow()
    session.flush()
    record_event(
        session,
        CartsMerged(cart_id=survivor.id, merged_cart_ids=[c.id for c in others], profile_id=live),
    )
    return survivor


def split_on_unmerge(
    session: Session, *, profile_id: UUID, restored_profile_id: UUID, returned: Sequence[UUID]
) -> None:
    """An unmerge gave ``restored_profile_id`` back its identifiers (``returned``): the
    carts they made are its again, each with the lines it brought, and the lines copied
    from them leave the cart they had joined; the other side's carts likewise. A joined
    cart that was checked out since is not split: the order stands."""
    ours = set(returned)
    for cart in repository.carts_anchored_in(session, list(ours)):
        if cart.merged_into is not None:
            parent = repository.get_cart(session, cart.merged_into, lock=True)
            if parent is not None and parent.anchor_id not in ours:
                _give_back(session, cart, joined=parent, owner=restored_profile_id)
            continue
        if cart.status != CartStatus.ACTIVE:
            continue
        cart.profile_id = restored_profile_id
        for other in repository.carts_joined_into(session, cart.id):
            if other.anchor_id not in ours:
                _give_back(session, other, joined=cart, owner=profile_id)
    session.flush()


def _give_back(session: Session, cart: Cart, *, joined: Cart, owner: UUID) -> None:
    if joined.status != CartStatus.ACTIVE:
        return
    copies = {line.sku: line for line in repository.cart_lines(session, [joined.id])}
    for line in repository.cart_lines(session, [cart.id]):
        copy = copies.get(line.sku)
        if copy is not None and copy.id != line.id and copy.added_at == line.added_at:
            repository.delete_line(session, cart_id=joined.id, sku=line.sku)
    cart.status = CartStatus.ACTIVE
    cart.merged_into = None
    cart.profile_id = owner
    cart.updated_at = utcnow()


def find_cart(session: Session, *, cart_id: UUID) -> CartState:
    """A cart by id; a merged-away cart answers with the cart it joined."""
    cart = _follow(session, cart_id)
    if cart.status != CartStatus.ACTIVE:
        lines = [_state(line) for line in repository.cart_lines(session, [cart.id])]
        return CartState(cart, live_profile_id(session, cart.profile_id), lines, [])
    state = person_cart(session, profile_id=cart.profile_id)
    assert state is not None  # the cart itself is active
    return state


def _follow(session: Session, cart_id: UUID, *, lock: bool = False) -> Cart:
    cart = repository.get_cart(session, cart_id, lock=lock)
    seen: set[UUID] = set()
    while cart is not None and cart.merged_into is not None and cart.id not in seen:
        seen.add(cart.id)
        cart = repository.get_cart(session, cart.merged_into, lock=lock)
    if cart is None:
        raise NotFound(CommerceErrorCode.CART_NOT_FOUND, f"No cart {cart_id}.")
    return cart


def active_cart_for_change(session: Session, *, cart_id: UUID) -> Cart:
    """The cart to change, locked, with the person's other carts merged into it first."""
    cart = _follow(session, cart_id, lock=True)
    if cart.status != CartStatus.ACTIVE:
        raise Conflict(
            CommerceErrorCode.CART_NOT_ACTIVE, f"Cart {cart.id} is {cart.status}; it cannot change."
        )
    merged = consolidate(session, profile_id=cart.profile_id)
    assert merged is not None
    if merged.id != cart.id:
        merged = _follow(session, merged.id, lock=True)
    return merged


def close_for_order(
    session: Session, *, cart_id: UUID, order_id: UUID
) -> tuple[Cart, list[CartLine]]:
    """Close the person's cart for the order being placed, and its lines. Usually three
    statements: the cart closed (and locked), the person's family, and the cart's lines
    with any other active cart of theirs. When there is another, the cart opens again and
    their carts become one first (``active_cart_for_change``), as any cart change does."""
    closed = repository.close_active_cart(session, cart_id, order_id=order_id)
    if closed is not None:
        family = person_family(session, closed.profile_id)
        lines, others = repository.cart_with_others(session, cart_id, family)
        if not others:
            return closed, lines
        repository.reopen_cart(session, cart_id)
    cart = active_cart_for_change(session, cart_id=cart_id)
    lines = list(repository.cart_lines(session, [cart.id]))
    if not repository.close_cart(session, cart.id, order_id=order_id):
        raise Conflict(CommerceErrorCode.CART_NOT_ACTIVE, f"Cart {cart.id} is checked out already.")
    return cart, lines


def open_cart(
    session: Session,
    *,
    actor: StaffActor,
    counter: Counter,
    currency: str,
    user_id: str | None,
    anonymous_id: str | None,
    email: str | None,
    items: Sequence[tuple[str, int]],
) -> tuple[CartState, bool]:
    """The person's active cart with ``items`` added, made when they have none; True when
    it was made now."""
    now = utcnow()
    keys = customers_service.identifiers_for(
        session,
        user_id=user_id,
        anonymous_id=anonymous_id,
        traits={"email": email} if email else {},
    )
    if not keys:
        raise RuleViolation(
            CommerceErrorCode.IDENTIFIER_REQUIRED,
            "A cart belongs to a person: give an anonymous_id, user_id or email.",
            errors=[{"field": "anonymous_id", "message": "an identifier is required"}],
        )
    cart, known = _known_cart(session, keys, channel=counter.channel)
    created = False
    if cart is None:
        placement = customers_service.place(
            session, identifiers=keys, channel=counter.channel, at=now
        )
        # A known person without carts has none to join (just read).
        cart = None if known else consolidate(session, profile_id=placement.profile_id)
        if cart is None:
            cart = _new_cart(session, placement, counter=counter, currency=currency, at=now)
            created = True
    if cart.currency != currency:
        raise Conflict(
            CommerceErrorCode.CURRENCY_MISMATCH,
            f"The person's cart {cart.id} is in {cart.currency}, not {currency}.",
        )
    lines = _add_items(session, actor, counter, cart, items)
    live = live_profile_id(session, cart.profile_id)
    return CartState(cart, live, union_of([[_state(line) for line in lines]]), []), created


def _known_cart(
    session: Session, keys: Sequence[IdentifierKey], *, channel: str
) -> tuple[Cart | None, bool]:
    """A returning person's cart without placing them again: when their identifiers are
    all known and theirs, their one active cart (made on this channel, so they were seen
    on it); and whether they are known and have no cart at all."""
    owner = customers_service.sole_owner(session, identifiers=keys)
    if owner is None:
        return None, False
    found = repository.active_carts(session, person_family(session, owner))
    if len(found) == 1 and found[0].channel == channel:
        return found[0], True
    return None, not found


def _new_cart(
    session: Session, placement: Placement, *, counter: Counter, currency: str, at: datetime
) -> Cart:
    cart = Cart(
        id=new_id(),
        profile_id=placement.profile_id,
        anchor_id=placement.anchor_id,
        channel=counter.channel,
        currency=currency,
        created_at=at,
        updated_at=at,
    )
    session.add(cart)
    session.flush()
    return cart


def _add_items(
    session: Session,
    actor: StaffActor,
    counter: Counter,
    cart: Cart,
    items: Sequence[tuple[str, int]],
) -> Sequence[CartLine]:
    """Add the items at today's prices in one statement (Segment's Product Added for
    each); the cart's lines after."""
    if not items:
        return repository.cart_lines(session, [cart.id])
    wanted: dict[str, int] = {}
    fields: dict[str, str] = {}
    for index, (sku, quantity) in enumerate(items):
        _positive(quantity)
        wanted[sku] = wanted.get(sku, 0) + quantity
        fields[sku] = f"items[{index}].quantity"
    skus = list(wanted)
    quotes = catalog_service.quotes(
        session,
        skus=skus,
        channel=counter.channel,
        currency=cart.currency,
        variants=variants_for(session, cart.profile_id),
    )
    fitting = {
        sku: (wanted[sku], quotes[sku].unit_price) for sku in skus if wanted[sku] <= MAX_QUANTITY
    }
    changed = (
        repository.add_to_lines(session, cart_id=cart.id, units=fitting, at_most=MAX_QUANTITY)
        if fitting
        else set()
    )
    for sku in skus:
        if sku not in changed:
            raise RuleViolation(
                CommerceErrorCode.INVALID_QUANTITY,
                f"A cart line holds at most {MAX_QUANTITY} units of {sku}.",
                errors=[
                    {"field": fields[sku], "message": f"the line would pass {MAX_QUANTITY} units"}
                ],
            )
    cart.updated_at = utcnow()
    lines = repository.cart_lines(session, [cart.id])
    _items_added(
        session, actor, counter, cart, lines, {s: (wanted[s], quotes[s].unit_price) for s in skus}
    )
    return lines


def _items_added(
    session: Session,
    actor: StaffActor,
    counter: Counter,
    cart: Cart,
    lines: Sequence[CartLine],
    added: Mapping[str, tuple[int, int]],
) -> None:
    record_event(
        session,
        CartUpdated(
            cart_id=cart.id,
            profile_id=cart.profile_id,
            channel=counter.channel,
            skus=[line.sku for line in lines],
        ),
    )
    names = catalog_service.listings(session, skus=list(added))
    live = live_profile_id(session, cart.profile_id)
    events_service.record_activities(
        session,
        [
            activity(
                actor,
                counter,
                profile_id=live,
                anchor_id=cart.anchor_id,
                event="Product Added",
                properties={
                    "cart_id": str(cart.id),
                    "product_id": sku,
                    "sku": sku,
                    "name": names[sku].name,
                    "quantity": quantity,
                    "price": unit_price,
                    "currency": cart.currency,
                },
                message_id=f"cart-{cart.id}-{new_id()}",
                at=cart.updated_at,
            )
            for sku, (quantity, unit_price) in added.items()
        ],
    )


def add_item(
    session: Session,
    *,
    actor: StaffActor,
    counter: Counter,
    cart: Cart,
    sku: str,
    quantity: int,
    field: str = "quantity",
) -> None:
    """Add units of a SKU at today's price on this channel (Segment's Product Added); the
    line holds at most ``MAX_QUANTITY`` units, however they were added."""
    _positive(quantity)
    quote = catalog_service.price(
        session,
        sku=sku,
        channel=counter.channel,
        currency=cart.currency,
        variants=variants_for(session, cart.profile_id),
    )
    if quantity > MAX_QUANTITY or not repository.add_to_line(
        session,
        cart_id=cart.id,
        sku=sku,
        quantity=quantity,
        unit_price=quote.unit_price,
        at_most=MAX_QUANTITY,
    ):
        raise RuleViolation(
            CommerceErrorCode.INVALID_QUANTITY,
            f"A cart line holds at most {MAX_QUANTITY} units of {sku}.",
            errors=[{"field": field, "message": f"the line would pass {MAX_QUANTITY} units"}],
        )
    _changed(session, actor, counter, cart, "Product Added", sku, quantity, quote.unit_price)


def set_quantity(
    session: Session, *, actor: StaffActor, counter: Counter, cart: Cart, sku: str, quantity: int
) -> None:
    """Set a line's quantity; 0 removes it. The difference goes on the timeline."""
    if quantity < 0:
        _positive(quantity)
    current = {line.sku: line for line in repository.cart_lines(session, [cart.id])}
    line = current.get(sku)
    if line is None:
        if quantity == 0:
            raise NotFound(CommerceErrorCode.LINE_NOT_FOUND, f"Cart {cart.id} holds no {sku}.")
        add_item(session, actor=actor, counter=counter, cart=cart, sku=sku, quantity=quantity)
        return
    difference = quantity - line.quantity
    if difference > 0:
        add_item(session, actor=actor, counter=counter, cart=cart, sku=sku, quantity=difference)
        return
    if difference == 0:
        return
    if quantity == 0:
        repository.delete_line(session, cart_id=cart.id, sku=sku)
    else:
        repository.set_line_quantity(session, cart_id=cart.id, sku=sku, quantity=quantity)
    _changed(
        session,
        actor,
        counter,
        cart,
        "Product Removed",
        sku,
        -difference,
        line.unit_price_when_added,
    )


def _positive(quantity: int) -> None:
    if quantity <= 0:
        raise RuleViolation(
            CommerceErrorCode.INVALID_QUANTITY,
            f"Quantity must be positive, not {quantity}.",
            errors=[{"field": "quantity", "message": "must be positive"}],
        )


def _changed(
    session: Session,
    actor: StaffActor,
    counter: Counter,
    cart: Cart,
    event: str,
    sku: str,
    quantity: int,
    unit_price: int,
) -> None:
    now = utcnow()
    cart.updated_at = now
    session.flush()
    skus = [line.sku for line in repository.cart_lines(session, [cart.id])]
    record_event(
        session,
        CartUpdated(
            cart_id=cart.id, profile_id=cart.profile_id, channel=counter.channel, skus=skus
        ),
    )
    on_timeline(
        session,
        actor=actor,
        counter=counter,
        profile_id=cart.profile_id,
        anchor_id=cart.anchor_id,
        event=event,
        properties={
            "cart_id": str(cart.id),
            "product_id": sku,
            "sku": sku,
            "name": catalog_service.listings(session, skus=[sku])[sku].name,
            "quantity": quantity,
            "price": unit_price,
            "currency": cart.currency,
        },
        message_id=f"cart-{cart.id}-{new_id()}",
        at=now,
    )


def variants_for(session: Session, profile_id: UUID | None) -> Mapping[str, str]:
    """The person's experiment variants, asked only while a live promotion is limited to
    one (the catalog in memory knows without a query)."""
    if profile_id is None or not catalog_service.variant_promotions(session):
        return {}
    return experiment_exposures.variants_of(session, profile_id=profile_id)


def priced(session: Session, state: CartState, *, channel: str) -> PricedCart:
    """The cart with today's prices on ``channel``; lines whose price moved say so."""
    lines: list[PricedLine] = []
    vat_by_rate: dict[int, int] = {}
    skus = [line.sku for line in state.lines]
    products = catalog_service.listings(session, skus=skus)
    quotes = catalog_service.quotes(
        session,
        skus=skus,
        channel=channel,
        currency=state.cart.currency,
        variants=variants_for(session, state.cart.profile_id),
    )
    for line in state.lines:
        product, quote = products[line.sku], quotes[line.sku]
        line_total = quote.unit_price * line.quantity
        vat = vat_included(line_total, quote.vat_rate_bp)
        vat_by_rate[quote.vat_rate_bp] = vat_by_rate.get(quote.vat_rate_bp, 0) + vat
        lines.append(
            PricedLine(
                sku=line.sku,
                name=product.name,
                image_url=product.image_url,
                quantity=line.quantity,
                quote=quote,
                line_total=line_total,
                vat_amount=vat,
                unit_price_when_added=line.unit_price_when_added,
                added_at=line.added_at,
            )
        )
    return PricedCart(
        state=state,
        channel=channel,
        lines=lines,
        total=sum(line.line_total for line in lines),
        vat_by_rate=vat_by_rate,
    )
