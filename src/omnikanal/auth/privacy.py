"""Sources, secret keys and staff accounts name channels, stores and staff, never a
customer. Claimed so no table is forgotten."""

from omnikanal.auth.models import SecretKey, Source, StaffAccount
from omnikanal.kit.personal_data import DomainPart, PrivacyRegistry


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="auth",
            tables=frozenset(
                {Source.__tablename__, SecretKey.__tablename__, StaffAccount.__tablename__}
            ),
        )
    )
