from typing import Annotated

from fastapi import Query

from omnikanal.privacy.access import MAX_REASON_LENGTH

# Why a member of staff reads a person's data, where they say; kept in the access log.
AccessReason = Annotated[
    str | None,
    Query(
        max_length=MAX_REASON_LENGTH,
        description="Why you read this person's data (kept in the access log).",
    ),
]
