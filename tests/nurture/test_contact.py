from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nurture.contact import InvalidContact, normalize_email, normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["(512) 555-0142", "512.555.0142", "+1 512 555 0142", "1-512-555-0142", " 5125550142 "],
)
def test_us_numbers_in_any_spelling_become_one_e164_number(raw: str) -> None:
    assert normalize_phone(raw) == "+15125550142"


def test_a_number_with_its_own_country_code_keeps_it() -> None:
    assert normalize_phone("+52 55 1234 5678") == "+525512345678"


@pytest.mark.parametrize("raw", ["", "call me", "555-0142", "+1 000 000 0000"])
def test_unusable_numbers_are_refused_without_echoing_the_value(raw: str) -> None:
    with pytest.raises(InvalidContact) as info:
        normalize_phone(raw)
    assert str(info.value).startswith("phone")
    assert raw.strip() == "" or raw not in str(info.value)


@given(st.from_regex(r"\(?[2-9]\d\d\)?[ .-]?[2-9]\d\d[ .-]?\d{4}", fullmatch=True))
def test_e164_normalisation_is_idempotent(raw: str) -> None:
    try:
        once = normalize_phone(raw)
    except InvalidContact:
        return
    assert normalize_phone(once) == once


def test_emails_are_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Ana.Ruiz@Example.ORG ") == "ana.ruiz@example.org"


@pytest.mark.parametrize("raw", ["ana", "ana@", "@example.org", "ana@example", "a b@example.org"])
def test_non_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidContact, match=r"^email"):
        normalize_email(raw)
