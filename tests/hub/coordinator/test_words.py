"""Words and clinic time (hub.words): every code a person may see has a label, rule ids read as
words whatever their shape, and times are the clinic's, relative to a pinned now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.coordinator import words
from hub.coordinator.words import ClinicTime

NOW = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # Tuesday 10:00 in Austin
CLINIC = ClinicTime("America/Chicago", NOW)


@pytest.mark.parametrize("kind", [k for k, enum in words.KINDS.items() if enum is not None])
def test_every_code_of_the_domain_has_an_english_label(kind: str) -> None:
    enum = words.KINDS[kind]
    assert enum is not None
    missing = [c.value for c in enum if c.value not in words.CATALOGUES["en"][kind]]  # type: ignore[attr-defined]
    assert missing == []


def test_a_code_the_catalogue_does_not_know_is_still_words() -> None:
    assert words.label("reason", "capacity_someday_new") == "Capacity someday new"
    assert words.label("reason", "intent_ready_to_schedule") == "Ready to schedule"
    assert words.label("channel", None) == "—"
    assert words.label("language", "vi") == "Vietnamese"


@pytest.mark.parametrize(
    ("rule", "shown"),
    [
        ("urgent:en:chest pain", "Urgent (red flag) — “chest pain” (English)"),
        ("insurance_authorization:es:seguro*", "Insurance or authorization — “seguro…” (Spanish)"),
        ("red_flag.chest_pain:en:chest ~ pain*", "Urgent (red flag): chest pain — “chest … pain…” (English)"),
        ("intent.insurance_authorization:en:=blue =cross", "Insurance or authorization — “blue cross” (English)"),
        ("need.clinical_concern:en:pain", "Clinical concern — “pain” (English)"),
        ("intent.clinical_question:en:should i", "Clinical question — “should I” (English)"),
        ("opt_out.sms:en:stop texting me", "Opt-out: text message — “stop texting me” (English)"),
        ("something_new", "Something new"),
    ],
)
def test_a_triage_rule_id_reads_as_words_in_every_shape(rule: str, shown: str) -> None:
    assert words.rule_label(rule) == shown


def test_accounts_read_as_people() -> None:
    assert words.actor_label("user:1:ada") == "ada"
    assert words.actor_label("cli") == "the command line"
    assert words.actor_label("salesforce:pull") == "Salesforce"


def test_times_are_the_clinics_and_due_times_say_how_far() -> None:
    assert CLINIC.time(NOW) == "10:00\u202fAM"
    assert CLINIC.at(NOW - timedelta(days=1)) == "yesterday, 10:00\u202fAM"
    assert CLINIC.at(datetime(2026, 11, 20, 15, 0, tzinfo=UTC)) == "Fri, Nov 20, 9:00\u202fAM"
    assert CLINIC.due(NOW + timedelta(minutes=12)) == "due in 12 minutes, 10:12\u202fAM"
    assert CLINIC.due(NOW - timedelta(hours=2)) == "overdue by 2 hours, due 8:00\u202fAM"
    assert CLINIC.due(NOW + timedelta(days=1, hours=4)) == "due in 28 hours, tomorrow, 2:00\u202fPM"
    assert CLINIC.due(NOW) == "due now, 10:00\u202fAM"


def test_spanish_times_come_from_the_same_place() -> None:
    spanish = ClinicTime("America/Chicago", NOW, "es")
    assert spanish.time(NOW + timedelta(hours=4)) == "14:00"
    assert spanish.relative(NOW - timedelta(minutes=12)) == "hace 12 minutos"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Shorter than minimum length 1.", "This cannot be empty."),
        ("Must be greater than or equal to 1 and less than or equal to 10080.", "Enter a number from 1 to 10080."),
        ("Not a valid integer.", "Enter a whole number, like 15."),
        ("Missing data for required field.", "This is required."),
        ("user:1:ada saved version 2 since you opened it", "ada saved version 2 since you opened it"),
        ("no template has the id 'nope'", "no template has the id 'nope'"),
    ],
)
def test_validation_messages_are_plain_words(raw: str, shown: str) -> None:
    assert words.message(raw) == shown
