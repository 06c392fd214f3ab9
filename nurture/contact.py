"""Normalising the ways to reach a person: phone numbers to E.164, email addresses to one spelling.

Both are used for matching leads across channels, so they must be deterministic and idempotent.
"""

from __future__ import annotations

import re

import phonenumbers

__all__ = ["InvalidContact", "normalize_email", "normalize_phone"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidContact(ValueError):
    """A phone number or email address that cannot be used. The message never repeats the value."""


def normalize_phone(raw: str, *, default_region: str = "US") -> str:
    """Return ``raw`` as an E.164 number (``+15125550142``).

    Args:
        raw: what the patient typed: national or international, with any punctuation.
        default_region: ISO 3166 region for numbers written without a country code.

    Raises:
        InvalidContact: the text is not a valid phone number for any region.
    """
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidContact("phone is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidContact("phone is not a valid number for its region")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def normalize_email(raw: str) -> str:
    """Return ``raw`` trimmed, with the domain lower-cased and the local part lower-cased too.

    Local parts are case-sensitive in theory and case-insensitive at every mailbox provider that
    matters, so matching leads treats them as one.

    Raises:
        InvalidContact: the text is not an email address.
    """
    value = raw.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidContact("email is not an email address")
    return value
