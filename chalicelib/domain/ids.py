"""Identifiers in Abaco's shape (hashids, ~13 characters), but from random bits, not a uuid1 timestamp.

Abaco encodes the top 64 bits of a uuid1 (a pure timestamp, guessable); we encode 64 random bits with the
same salt, so ``is_hashid`` keeps its meaning (aliases may not be valid hashids).
"""
from __future__ import annotations

import secrets

from hashids import Hashids

ABACO_SALT = "eJa5wZlEX4eWU"  # Abaco's hashids salt
_HASHIDS = Hashids(salt=ABACO_SALT)


def new_id() -> str:
    return _HASHIDS.encode(secrets.randbits(63))


def is_hashid(value: str) -> bool:
    try:
        return bool(_HASHIDS.decode(value))
    except Exception:  # hashids raises plain exceptions on malformed input
        return False
