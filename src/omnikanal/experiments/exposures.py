"""Which variants a person was shown, for pricing: a promotion limited to a variant is
priced for that variant's people only. Apart from ``service`` so that commerce may ask it
without depending on everything the experiments depend on."""

from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import service as customers_service
from omnikanal.experiments import repository


def variants_of(session: Session, *, profile_id: UUID) -> dict[str, str]:
    """The person's variant in each running experiment they were shown one of: the
    surviving profile's own exposure first, then the earliest of the profiles merged in."""
    family = customers_service.family(session, profile_id=profile_id)
    found: dict[str, str] = {}
    rows = repository.running_variants_of(session, family)
    for key, variant, _owner in sorted(rows, key=lambda r: r[2] != family[0]):
        found.setdefault(key, variant)
    return found
