"""Normalising the ways to reach a person: phone numbers to E.164, email addresses to one spelling.

Both are used for matching leads across channels, so they must be deterministic and idempotent.
Before anything else the text is put in Unicode NFKC form (full-width letters and digits become
plain ones) and invisible format characters are removed — zero-width spaces and joiners, the
byte-order mark, soft hyphens and the bidirectional controls (a right-to-left override makes
``moc.elpmaxe@ana`` display as something else). An email address in which one part mixes writing
systems (a Cyrillic ``а`` among Latin letters, Unicode's "mixed script" test as the
``confusable-homoglyphs`` package implements it) is refused with its own reason: it looks like
another person's address, and the CRMs refuse it later anyway.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from confusable_homoglyphs import confusables

from nurture.errors import SkipRecord

__all__ = ["InvalidContact", "clean_text", "normalize_email", "normalize_phone"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PARTS = re.compile(r"[.@+_\-]")


class InvalidContact(SkipRecord, ValueError):
    """A phone number or email address that cannot be used. The message never repeats the value.

    Attributes:
        code: ``invalid_contact``, or ``mixed_script_email`` for a look-alike address.
    """

    def __init__(self, message: str, *, code: str = "invalid_contact") -> None:
        super().__init__(message, code=code)


def clean_text(raw: str) -> str:
    """``raw`` in NFKC form without invisible format characters (zero-width, bidi controls, BOM)."""
    return "".join(c for c in unicodedata.normalize("NFKC", raw) if unicodedata.category(c) != "Cf")


def normalize_phone(raw: str, *, default_region: str = "US") -> str:
    """Return ``raw`` as an E.164 number (``+15125550142``).

    Args:
        raw: what the patient typed: national or international, with any punctuation.
        default_region: ISO 3166 region for numbers written without a country code.

    Raises:
        InvalidContact: the text is not a valid phone number for any region.
    """
    try:
        parsed = phonenumbers.parse(clean_text(raw), default_region)
    except phonenumbers.NumberParseException:
        raise InvalidContact("phone is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidContact("phone is not a valid number for its region")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def normalize_email(raw: str) -> str:
    """Return ``raw`` cleaned (:func:`clean_text`), trimmed and lower-cased (domain and local part).

    Local parts are case-sensitive in theory and case-insensitive at every mailbox provider that
    matters, so matching leads treats them as one.

    Raises:
        InvalidContact: the text is not an email address, or one part of it mixes writing systems
            (``code`` ``mixed_script_email``).
    """
    value = clean_text(raw).strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidContact("email is not an email address")
    if any(part and confusables.is_mixed_script(part) for part in _PARTS.split(value)):
        raise InvalidContact(
            "email mixes writing systems within one part (look-alike letters, such as a Cyrillic a "
            "among Latin ones); ask the patient to type it again",
            code="mixed_script_email",
        )
    return value
