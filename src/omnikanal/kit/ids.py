"""Time-ordered ids: appends to B-trees instead of scattering writes (see DESIGN.md)."""

import uuid

import uuid6


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid6.uuid7().bytes)
