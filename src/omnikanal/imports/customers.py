"""The customers kind: people, their identifiers, traits and marketing consent.

Hub fields: external_id, user_id, email, phone, loyalty_card (at least one: they name the person),
first_name, last_name, birth_date, address_line1, address_line2, postcode, city, country,
accepts_email_marketing, accepts_sms_marketing, and ``trait.<name>`` for any other trait.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.customers import service as customers_service
from omnikanal.imports import values
from omnikanal.imports.kinds import BatchOutcome, FirstRows, ImportOptions, RowProblem
from omnikanal.imports.values import BadValue
from omnikanal.kit.time import utcnow
from omnikanal.marketing import service as marketing_service

# Hub field -> identifier type, strongest first (as the identity graph weighs them).
IDENTIFIERS = (
    ("user_id", "user_id"),
    ("external_id", "external_id"),
    ("loyalty_card", "loyalty_card"),
    ("email", "email"),
    ("phone", "phone"),
)
FIELD_OF = {type_: field for field, type_ in IDENTIFIERS}
# The identifiers that name one customer in a file (a phone may be a family's).
NATURAL_KEYS = frozenset({"user_id", "external_id", "loyalty_card", "email"})
NAMES = {"first_name": "first_name", "last_name": "last_name"}
# Hub field -> the key in the profile's ``address`` trait.
ADDRESS = {
    "address_line1": "street",
    "address_line2": "street2",
    "postcode": "postal_code",
    "city": "city",
    "country": "country",
}
CONSENTS = {"accepts_email_marketing": "email", "accepts_sms_marketing": "sms"}
TRAIT_PREFIX = "trait."
MARKETING = "marketing"
IMPORT_SOURCE = "import"
DEFAULT_CHANNEL = "backend"


class _Rejected(Exception):
    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems


def _given(fields: Mapping[str, str], name: str) -> str:
    return (fields.get(name) or "").strip()


def _read(
    session: Session, number: int, fields: Mapping[str, str]
) -> tuple[customers_service.KnownPerson, list[tuple[str, bool]]]:
    problems: list[RowProblem] = []
    identifiers: list[tuple[str, str]] = []
    traits: dict[str, Any] = {}
    for field, type_ in IDENTIFIERS:
        raw = _given(fields, field)
        if not raw:
            continue
        value = customers_service.canonical_identifier(session, type_, raw)
        if value is None:
            problems.append(RowProblem(number, field, f"not a valid {field.replace('_', ' ')}"))
            continue
        identifiers.append((type_, value))
        if type_ not in ("user_id", "external_id"):
            traits[type_] = value
    if not identifiers and not problems:
        reason = "names no one: give external_id, user_id, email, phone or loyalty_card"
        problems.append(RowProblem(number, "", reason))

    def read(field: str, parse: Any) -> Any:
        raw = _given(fields, field)
        if not raw:
            return None
        try:
            return parse(raw)
        except BadValue as exc:
            problems.append(RowProblem(number, field, str(exc)))
            return None

    for field, trait in NAMES.items():
        if (found := read(field, lambda v: values.text(v, max_length=200))) is not None:
            traits[trait] = found
    if (birthday := read("birth_date", values.birth_date)) is not None:
        traits["birthday"] = birthday
    address: dict[str, str] = {}
    for field, key in ADDRESS.items():
        parse = values.country if field == "country" else (lambda v: values.text(v, max_length=200))
        if (found := read(field, parse)) is not None:
            address[key] = found
    if address:
        traits["address"] = address
    for field, raw in fields.items():
        if field.startswith(TRAIT_PREFIX) and len(field) > len(TRAIT_PREFIX) and raw.strip():
            found = read(field, lambda v: values.text(v, max_length=2000))
            if found is not None:
                traits[field.removeprefix(TRAIT_PREFIX)] = found
    consents: list[tuple[str, bool]] = []
    for field, channel in CONSENTS.items():
        if (granted := read(field, values.boolean)) is not None:
            consents.append((channel, granted))
    if problems:
        raise _Rejected(problems)
    return customers_service.KnownPerson(identifiers=identifiers, traits=traits), consents


def _natural_keys(person: customers_service.KnownPerson) -> list[tuple[str, tuple[str, str]]]:
    """(field, identifier) of the identifiers that name one customer (not a phone: a
    family may share one)."""
    return [(FIELD_OF[key[0]], key) for key in person.identifiers if key[0] in NATURAL_KEYS]


class CustomersKind:
    name = "customers"
    fields = frozenset([f for f, _ in IDENTIFIERS] + [*NAMES, "birth_date", *ADDRESS, *CONSENTS])
    field_prefixes: tuple[str, ...] = (TRAIT_PREFIX,)

    follow_up_label = "duplicate customers looked for again"

    def follow_up(self, session: Session) -> None:
        """New or changed people may be duplicates of people already known."""
        customers_service.recompute_duplicates(session)

    def apply(
        self,
        session: Session,
        rows: Sequence[tuple[int, Mapping[str, str]]],
        *,
        options: ImportOptions,
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        people: list[customers_service.KnownPerson] = []
        wishes: list[list[tuple[str, bool]]] = []
        named = FirstRows("customer")
        for number, fields in rows:
            try:
                person, consents = _read(session, number, fields)
            except _Rejected as rejected:
                outcome.problems.extend(rejected.problems)
                continue
            if repeated := named.repeated(number, _natural_keys(person)):
                outcome.problems.append(repeated)
                continue
            people.append(person)
            wishes.append(consents)
        if not people:
            return outcome
        now = utcnow()
        placed = customers_service.import_people(
            session, people, channel=options.channel or DEFAULT_CHANNEL, at=now
        )
        consented = marketing_service.import_consents(
            session,
            [
                marketing_service.ConsentGiven(
                    profile_id=where.profile_id, purpose=MARKETING, channel=channel, granted=granted
                )
                for where, consents in zip(placed, wishes, strict=True)
                for channel, granted in consents
            ],
            source=IMPORT_SOURCE,
            at=now,
        )
        for where in placed:
            status = where.status
            if status == customers_service.PersonStatus.UNCHANGED and where.profile_id in consented:
                status = customers_service.PersonStatus.UPDATED
            if status == customers_service.PersonStatus.CREATED:
                outcome.created += 1
            elif status == customers_service.PersonStatus.UPDATED:
                outcome.updated += 1
            else:
                outcome.unchanged += 1
        return outcome


CUSTOMERS = CustomersKind()
