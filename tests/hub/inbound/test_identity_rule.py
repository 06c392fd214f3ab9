"""The matching rule a coordinator would apply: same email, or same phone and a compatible name, is
the same person; the same phone under another name is possibly the same household."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nurture.consent import ConsentEntry
from nurture.identity import Candidate, MatchKind, decide, merged_consent, names_compatible
from nurture.vocab import ConsentState, ContactChannel
from tests.factories import T0, consent


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Bob", "Smith"), ("Robert", "Smith")),  # a nickname
        (("Liz", "Taylor"), ("Elizabeth", "Taylor")),
        (("Jon", "Doe"), ("John", "Doe")),  # a typo
        (("Catherine", "Ng"), ("Katherine", "Ng")),
        (("José", "Hernández"), ("Jose", "Hernandez")),  # accents
        (("Maya", "Thompson"), ("Maya", "Thomson")),
        (("Ana", "García López"), ("Ana", "Garcia")),  # one of two surnames
        (("Mary Ann", "Lee"), ("Mary", "Lee")),
        (("J", "Walker"), ("James", "Walker")),  # an initial
        (("Daniel", ""), ("Daniel", "Kim")),  # a name given in part
        (("Maya Thompson", ""), ("Maya", "Thompson")),  # a full name in one field
        (("", ""), ("Grace", "Okafor")),  # no name at all: nothing contradicts
    ],
)
def test_names_of_one_person_are_compatible(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert names_compatible(*a, *b)
    assert names_compatible(*b, *a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Maria", "Lopez"), ("Juan", "Lopez")),  # a household sharing a phone
        (("Maria", "Lopez"), ("Mario", "Lopez")),  # one letter apart, still two people
        (("Luis", "Hernández"), ("Carmen", "Hernández")),
        (("Ana", "Ruiz"), ("Ana", "Okafor")),  # same first name, another family
    ],
)
def test_names_of_two_people_are_not(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert not names_compatible(*a, *b)
    assert not names_compatible(*b, *a)


def candidate(lead_id: str, first: str, last: str, **kw: object) -> Candidate:
    values: dict[str, object] = {"lead_id": lead_id, "first_name": first, "last_name": last, "created_at": T0}
    values.update(kw)
    return Candidate(**values)  # type: ignore[arg-type]


def test_the_same_email_is_the_same_person_whatever_the_name() -> None:
    found = decide(first_name="Bobby", last_name="Tables", email="x@example.org",
                   candidates=[candidate("A", "Robert", "Smith", by_email=True)])  # fmt: skip
    assert (found.kind, found.lead_id, found.reason) == (MatchKind.SAME, "A", "email")


def test_the_same_phone_and_a_compatible_name_is_the_same_person() -> None:
    found = decide(first_name="Bob", last_name="Smith", email=None,
                   candidates=[candidate("A", "Robert", "Smith", by_phone=True)])  # fmt: skip
    assert (found.kind, found.lead_id, found.reason) == (MatchKind.SAME, "A", "phone_and_name")


def test_the_same_phone_under_another_name_and_email_is_a_possible_household() -> None:
    found = decide(first_name="Juan", last_name="Lopez", email="juan@example.org",
                   candidates=[candidate("A", "Maria", "Lopez", by_phone=True, email="maria@example.org")])  # fmt: skip
    assert (found.kind, found.lead_id, found.related, found.reason) == (
        MatchKind.HOUSEHOLD, None, ("A",), "phone_other_name",
    )  # fmt: skip


def test_a_household_member_writing_again_finds_their_own_lead_not_the_first() -> None:
    found = decide(first_name="Juan", last_name="Lopez", email=None, candidates=[
        candidate("A", "Maria", "Lopez", by_phone=True, phone_holder=True),
        candidate("B", "Juan", "Lopez", by_phone=True, created_at=T0 + timedelta(days=1)),
    ])  # fmt: skip
    assert (found.kind, found.lead_id) == (MatchKind.SAME, "B")


def test_an_id_in_another_system_wins_then_the_email_then_the_phone() -> None:
    candidates = [
        candidate("A", "Ana", "Ruiz", by_phone=True),
        candidate("B", "Ana", "Ruiz", by_email=True),
        candidate("C", "Ana", "Ruiz", by_external_id=True),
    ]
    assert decide(first_name="Ana", last_name="Ruiz", email="a@example.org", candidates=candidates).lead_id == "C"
    assert decide(first_name="Ana", last_name="Ruiz", email="a@example.org", candidates=candidates[:2]).lead_id == "B"


def test_among_duplicates_the_key_holder_then_the_newest_open_lead_wins_and_the_rest_are_named() -> None:
    found = decide(first_name="Ana", last_name="Ruiz", email="a@example.org", candidates=[
        candidate("old", "Ana", "Ruiz", by_email=True),
        candidate("closed", "Ana", "Ruiz", by_email=True, closed=True, created_at=T0 + timedelta(days=2)),
        candidate("new", "Ana", "Ruiz", by_email=True, created_at=T0 + timedelta(days=1)),
    ])  # fmt: skip
    assert (found.lead_id, sorted(found.related)) == ("new", ["closed", "old"])


def test_merged_consent_keeps_a_denial_from_either_lead_over_a_later_grant() -> None:
    kept = consent(ContactChannel.SMS, at=T0 + timedelta(days=1))  # granted later
    absorbed = consent(ContactChannel.EMAIL, denied=(ContactChannel.SMS, ContactChannel.CALL), at=T0)
    merged = merged_consent(kept, absorbed, at=T0 + timedelta(days=2), source="merge:B")
    assert merged.summary() == {"call": "denied", "sms": "denied", "email": "granted", "voicemail": "unknown"}
    latest = merged.latest(ContactChannel.SMS)
    assert latest is not None
    assert latest.source == "merge:B"
    assert set(kept.entries) | set(absorbed.entries) <= set(merged.entries)  # history kept


def test_merged_consent_keeps_a_grant_neither_lead_denied() -> None:
    grant = ConsentEntry(channel=ContactChannel.SMS, state=ConsentState.GRANTED, at=T0, source="form:x", wording="Yes")
    merged = merged_consent(consent(), consent().record(grant), at=T0, source="merge:B")
    assert merged.state(ContactChannel.SMS) is ConsentState.GRANTED
