from typing import Annotated

from fastapi import Depends, Query, Request

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor
from omnikanal.errors import RuleViolation
from omnikanal.kit.personal_data import PrivacyRegistry
from omnikanal.openapi import Answer, answers
from omnikanal.privacy.access import MAX_REASON_LENGTH
from omnikanal.privacy.service import PrivacyErrorCode

# Admins export; support agents too, saying why (recorded in the access log).
ExportingStaff = Annotated[StaffActor, Depends(require_roles(Role.AGENT))]
# Erasure and its requests are for admins only.
Eraser = Annotated[StaffActor, Depends(require_roles(Role.ADMIN))]


def privacy_registry(request: Request) -> PrivacyRegistry:
    registry: PrivacyRegistry = request.app.state.privacy_registry
    return registry


Registry = Annotated[PrivacyRegistry, Depends(privacy_registry)]


@answers(
    {
        422: Answer(
            why="An agent exports only with a `reason` (it goes into the access log); or a "
            "parameter is invalid."
        )
    }
)
def export_reason(
    actor: ExportingStaff,
    reason: Annotated[
        str | None,
        Query(max_length=500, description="Why (required of agents; kept in the access log)."),
    ] = None,
) -> str | None:
    given = (reason or "").strip() or None
    if actor.role != Role.ADMIN and given is None:
        raise RuleViolation(
            PrivacyErrorCode.REASON_REQUIRED,
            "An agent exporting a person's data must say why: add ?reason=.",
            errors=[{"field": "reason", "message": "required for agents"}],
        )
    return given


ExportReason = Annotated[str | None, Depends(export_reason)]


# Why a member of staff reads a person's data, where they say; kept in the access log.
AccessReason = Annotated[
    str | None,
    Query(
        max_length=MAX_REASON_LENGTH,
        description="Why you read this person's data (kept in the access log).",
    ),
]
