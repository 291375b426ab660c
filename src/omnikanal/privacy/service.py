"""Export: everything the hub holds of a person, one ZIP (GDPR articles 15 and 20); and
reading the access log: who read or changed a person's data, newest first.

Each domain gives its files through its registered part (``<domain>/privacy.py``); the
archive holds one JSON file per file stem and a README saying what each one is."""

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy.orm import Session

from omnikanal.auth.service import StaffActor
from omnikanal.customers import service as customers_service
from omnikanal.errors import NotFound
from omnikanal.kit.pagination import decode_time_cursor, encode_time_cursor
from omnikanal.kit.personal_data import PrivacyRegistry
from omnikanal.kit.time import utcnow
from omnikanal.privacy import access, repository
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.models import AccessLogEntry


class PrivacyErrorCode(StrEnum):
    PROFILE_NOT_FOUND = "profile_not_found"
    REQUEST_NOT_FOUND = "privacy_request_not_found"
    REASON_REQUIRED = "reason_required"


README = "README.txt"


@dataclass(frozen=True)
class Export:
    profile_id: UUID
    archive: bytes

    @property
    def filename(self) -> str:
        return f"omnikanal-export-{self.profile_id}.zip"


def _json(document: Any) -> bytes:
    return orjson.dumps(
        document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    )


def _readme(profile_id: UUID, described: Mapping[str, str], files: list[str]) -> str:
    lines = [
        "Everything omnikanal holds about you",
        "",
        f"Profile: {profile_id}",
        f"Exported: {utcnow().isoformat(timespec='seconds')}",
        "",
        "Each file is JSON (UTF-8); times are UTC, amounts are in minor units (öre, cents).",
        "",
    ]
    for name in files:
        stem = name.removesuffix(".json")
        lines.append(f"{name}: {described.get(stem, 'Part of what we hold about you.')}")
    return "\n".join(lines) + "\n"


def export(
    session: Session,
    *,
    profile_id: UUID,
    registry: PrivacyRegistry,
) -> Export:
    """The person's archive; a merged-away id exports the profile it joined."""
    person = customers_service.person(session, profile_id=profile_id)
    if person is None:
        raise NotFound(PrivacyErrorCode.PROFILE_NOT_FOUND, f"No profile {profile_id}.")
    live = customers_service.live_profile(session, profile_id).id
    documents: dict[str, Any] = {}
    described: dict[str, str] = {}
    for part in registry.parts():
        described.update(part.files)
        if part.export is not None:
            documents.update(part.export(session, person))
    files = [f"{stem}.json" for stem in sorted(documents)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(README, _readme(live, described, files))
        for stem in sorted(documents):
            archive.writestr(f"{stem}.json", _json(documents[stem]))
    return Export(profile_id=live, archive=buffer.getvalue())


def record_export(
    session: Session, *, actor: StaffActor, profile_id: UUID, reason: str | None
) -> None:
    access.record(
        session, actor=actor, action=AccessAction.EXPORT, profile_id=profile_id, reason=reason
    )


def blank_access_reasons(session: Session, *, profile_ids: list[UUID]) -> int:
    return repository.blank_access_reasons(session, profile_ids)


def person_ids(session: Session, profile_id: UUID) -> list[UUID]:
    """Every id the person has had: the live profile and all merged into it, so a
    merged-away id finds what was recorded under the survivor and under each other id."""
    try:
        live = customers_service.live_profile(session, profile_id).id
    except NotFound:  # erased or never known: what was recorded under that id still shows
        return [profile_id]
    return [live, *customers_service.merged_descendants(session, live)]


def access_log(
    session: Session,
    *,
    profile_id: UUID | None = None,
    actor_id: UUID | None = None,
    action: AccessAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[AccessLogEntry], str | None]:
    """A page of entries, newest first, and the cursor of the next page (None at the end)."""
    found = repository.access_log(
        session,
        profile_ids=person_ids(session, profile_id) if profile_id is not None else None,
        actor_id=actor_id,
        action=action.value if action is not None else None,
        since=since,
        until=until,
        before=decode_time_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    shown = list(found[:limit])
    more = len(found) > limit
    return shown, encode_time_cursor(shown[-1].at, shown[-1].id) if more else None
