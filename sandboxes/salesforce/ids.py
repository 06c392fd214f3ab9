"""Salesforce ids for the sandbox: 15 case-sensitive characters plus a 3-character case-insensitive
checksum; making, checking and normalizing them, and the org's record type ids.
"""

from __future__ import annotations

from typing import Final

from sandboxes.salesforce.objects import RECORD_TYPES

# --------------------------------------------------------------------------------------------------
# Salesforce ids: 15 case-sensitive characters plus a 3-character case-insensitive checksum.

_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ALNUM: Final = frozenset(_BASE62)
#: The instance ("pod") part of ids this org mints, as in 00Q5g...
_POD: Final = "5g0"


def _checksum(id15: str) -> str:
    out = []
    for chunk in range(3):
        flags = 0
        for pos in range(5):
            if "A" <= id15[chunk * 5 + pos] <= "Z":
                flags |= 1 << pos
        out.append(_SUFFIX[flags])
    return "".join(out)


def make_id(prefix: str, counter: int) -> str:
    """An 18-character id for record number ``counter`` of the type with ``prefix``.

    The counter is written in base 62 with a fixed width, so ids sort in creation order.
    """
    digits = []
    n = counter
    for _ in range(9):
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    if n:
        raise ValueError("record counter overflow")
    id15 = prefix + _POD + "".join(reversed(digits))
    return id15 + _checksum(id15)


def record_type_id(developer_name: str) -> str:
    """The id of the Account record type ``developer_name``."""
    for n, name, _, _ in RECORD_TYPES:
        if name == developer_name:
            return make_id("012", n)
    raise KeyError(developer_name)


def is_person_record_type(record_type_id: str | None) -> bool:
    """Whether ``record_type_id`` (15 or 18 characters) is a person-account record type."""
    if not record_type_id:
        return False
    return any(person and make_id("012", n)[:15] == record_type_id[:15] for n, _, _, person in RECORD_TYPES)


def is_salesforce_id(value: str) -> bool:
    """Whether ``value`` is a well-formed 15- or 18-character id (checksum verified)."""
    if len(value) not in (15, 18) or not set(value) <= _ALNUM:
        return False
    return len(value) == 15 or value[15:].upper() == _checksum(value[:15])


def normalize_id(value: str) -> str:
    """The 18-character form of a well-formed id (the checksum part upper-cased)."""
    if len(value) == 15:
        return value + _checksum(value)
    return value[:15] + value[15:].upper()


def id15(value: str) -> str:
    """The 15-character form Salesforce uses inside some error messages."""
    return value[:15]
