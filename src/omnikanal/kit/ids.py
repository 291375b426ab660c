"""Time-ordered ids: appends to B-trees instead of scattering writes (see DESIGN.md)."""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_sequence = 0


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter that keeps the
    ids made in one millisecond in order, then 62 random bits."""
    global _last_ms, _sequence
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms, _sequence = now_ms, 0
        else:
            _sequence += 1
            if _sequence > 0xFFF:  # 4,096 ids in one millisecond: borrow the next one
                _last_ms, _sequence = _last_ms + 1, 0
        ms, sequence = _last_ms, _sequence
    random_bits = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    return uuid.UUID(int=(ms << 80) | (0x7 << 76) | (sequence << 64) | (0b10 << 62) | random_bits)
