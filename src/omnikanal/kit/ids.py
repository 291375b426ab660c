"""Time-ordered ids: appends to B-trees instead of scattering writes (see DESIGN.md)."""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_sequence = 0

_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_RANDOM_BITS = 0x3FFF_FFFF_FFFF_FFFF


def _stamps(count: int) -> list[int]:
    """The time-and-counter part of ``count`` ids, in order: 48 bits of Unix milliseconds
    and a 12-bit counter for the ids made in one millisecond."""
    global _last_ms, _sequence
    stamps = []
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms, _sequence = now_ms, -1
        for _ in range(count):
            _sequence += 1
            if _sequence > 0xFFF:  # 4,096 ids in one millisecond: borrow the next one
                _last_ms, _sequence = _last_ms + 1, 0
            stamps.append((_last_ms << 80) | (_sequence << 64) | _VERSION_AND_VARIANT)
    return stamps


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter that keeps the
    ids made in one millisecond in order, then 62 random bits."""
    (stamp,) = _stamps(1)
    return uuid.UUID(int=stamp | (int.from_bytes(os.urandom(8), "big") & _RANDOM_BITS))


def new_ids(count: int) -> list[uuid.UUID]:
    """``count`` ids as ``new_id`` makes them, in order, with one read of the system's
    random source for all of them (bulk loads make tens of thousands)."""
    random = os.urandom(8 * count)
    return [
        _uuid(stamp | (int.from_bytes(random[8 * i : 8 * i + 8], "big") & _RANDOM_BITS))
        for i, stamp in enumerate(_stamps(count))
    ]


def _uuid(value: int) -> uuid.UUID:
    """``uuid.UUID(int=value)`` without its checks, for a value known to fit 128 bits
    (``UUID.__init__`` in Python was a third of making an id in bulk)."""
    made = object.__new__(uuid.UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", uuid.SafeUUID.unknown)
    return made
