"""Ids the hub mints: time-ordered, unguessable, URL- and CRM-safe."""

from __future__ import annotations

import os
from datetime import datetime

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_lead_id(now: datetime) -> str:
    """``nh_`` + 26 Crockford base32 characters: 48 bits of milliseconds, 80 random bits (a ULID).

    Time-ordered ids keep index inserts local; the random part makes them unguessable.
    """
    value = (int(now.timestamp() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "nh_" + "".join(reversed(chars))
