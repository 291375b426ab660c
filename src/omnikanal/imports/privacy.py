"""The imports domain's part: jobs and error reports hold no personal data (errors say
which row and field, never the value), so there is nothing to export or erase in them.

The files are another matter: an uploaded file (or standard input) is kept in the data
folder only while its job runs, and deleted when it ends; a file that names the person
while an erasure runs is read to its end by its job, which writes what it says as any
import would (an erased address stays on marketing's suppression list)."""

from omnikanal.imports.models import ImportJob, ImportRowError
from omnikanal.kit.personal_data import DomainPart, PrivacyRegistry


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="imports",
            tables=frozenset({ImportJob.__tablename__, ImportRowError.__tablename__}),
        )
    )
