from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from nurture.clock import DailyWindow
from nurture.consent import (
    ConsentEntry,
    ConsentLedger,
    ContactRules,
    KeywordReply,
    classify_reply,
    may_contact,
)
from nurture.touches import Touch
from nurture.vocab import ConsentState, ContactChannel, Purpose, TouchOutcome
from tests.factories import consent

RULES = ContactRules(
    quiet_hours=DailyWindow(start=time(8), end=time(21)),
    state_quiet_hours={"FL": DailyWindow(start=time(8), end=time(20))},
)
NOON_CHICAGO = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def decide(channel: ContactChannel, at: datetime = NOON_CHICAGO, *, ledger: ConsentLedger | None = None,
           purpose: Purpose = Purpose.RESPONSE, tz: str = "America/Chicago", region: str | None = None,
           touches: list[Touch] | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    return may_contact(
        channel=channel, purpose=purpose, at=at, patient_timezone=tz, region=region,
        ledger=ledger or ConsentLedger(), touches=touches or [], rules=RULES,
    )  # fmt: skip


def test_the_latest_entry_of_a_channel_is_its_state() -> None:
    t = NOON_CHICAGO
    ledger = ConsentLedger().record(
        ConsentEntry(channel=ContactChannel.SMS, state=ConsentState.GRANTED, at=t, source="form:sms_opt_in"),
        ConsentEntry(
            channel=ContactChannel.SMS,
            state=ConsentState.DENIED,
            at=t + timedelta(days=1),
            source="sms_keyword",
        ),
    )
    assert ledger.state(ContactChannel.SMS) is ConsentState.DENIED
    assert ledger.state(ContactChannel.EMAIL) is ConsentState.UNKNOWN


def test_a_ledger_records_source_time_and_wording() -> None:
    ledger = consent(ContactChannel.SMS)
    entry = ledger.latest(ContactChannel.SMS)
    assert entry is not None
    assert (entry.source, entry.wording) == ("form:consent", "You may text me.")


def test_unknown_is_not_an_entry() -> None:
    with pytest.raises(ValueError, match="not 'unknown'"):
        ConsentEntry(channel=ContactChannel.SMS, state=ConsentState.UNKNOWN, at=NOON_CHICAGO, source="x")


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", "Stop.", "QUIT", "END", "REVOKE", "OPT OUT", "optout", "CANCEL", "UNSUBSCRIBE",
     "Stop texting me", "PARAR", "Alto", "BAJA", "Cancelar", "no más", "Darme de baja", "DETENER"],
)  # fmt: skip
def test_stop_style_keywords_revoke(text: str) -> None:
    assert classify_reply(text) is KeywordReply.STOP


@pytest.mark.parametrize(
    "text",
    ["Can I cancel my appointment and pick another time?", "end of the week works",
     "para el martes por favor", "I'll stop by tomorrow", "yes", ""],
)  # fmt: skip
def test_ordinary_sentences_are_not_revocations(text: str) -> None:
    assert classify_reply(text) is KeywordReply.OTHER


@pytest.mark.parametrize("text", ["HELP", "help", "Ayuda", "INFO"])
def test_help_keywords(text: str) -> None:
    assert classify_reply(text) is KeywordReply.HELP


def test_revocation_takes_effect_at_once() -> None:
    ledger = consent(ContactChannel.SMS)
    assert decide(ContactChannel.SMS, ledger=ledger).allowed
    revoked = ledger.revoke([ContactChannel.SMS], at=NOON_CHICAGO, source="sms_keyword", wording="STOP")
    decision = decide(ContactChannel.SMS, ledger=revoked)
    assert not decision.allowed
    assert decision.reason == "consent_denied"


def test_texts_need_a_grant_even_to_answer_the_inquiry() -> None:
    assert decide(ContactChannel.SMS).reason == "consent_missing"


def test_a_call_answering_the_inquiry_needs_no_grant_but_a_denial_blocks_it() -> None:
    assert decide(ContactChannel.CALL).allowed
    assert decide(ContactChannel.CALL, ledger=consent(denied=(ContactChannel.CALL,))).reason == "consent_denied"


def test_nurture_needs_an_explicit_grant_on_every_channel() -> None:
    decision = decide(ContactChannel.EMAIL, purpose=Purpose.NURTURE)
    assert (decision.allowed, decision.reason) == (False, "consent_missing")
    assert decide(ContactChannel.EMAIL, purpose=Purpose.NURTURE, ledger=consent(ContactChannel.EMAIL)).allowed


def test_calls_outside_8_to_21_in_the_patients_time_zone_are_refused() -> None:
    # 7:30 in Los Angeles is 9:30 in Chicago: the clinic's clock does not matter, the patient's does.
    at = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    decision = decide(ContactChannel.CALL, at, tz="America/Los_Angeles")
    assert decision.reason == "quiet_hours"
    assert decision.earliest == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


def test_stricter_state_rules_narrow_the_window() -> None:
    at = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)  # 20:30 in New York
    assert decide(ContactChannel.CALL, at, tz="America/New_York").allowed
    assert decide(ContactChannel.CALL, at, tz="America/New_York", region="FL").reason == "quiet_hours"


def test_email_has_no_calling_hours() -> None:
    at = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # 02:00 in Chicago
    assert decide(ContactChannel.EMAIL, at).allowed


def test_texts_are_capped_per_day_and_per_week() -> None:
    ledger = consent(ContactChannel.SMS)
    sent = [Touch(channel=ContactChannel.SMS, outcome=TouchOutcome.TEXTED, at=NOON_CHICAGO - timedelta(hours=3))]
    decision = decide(ContactChannel.SMS, ledger=ledger, touches=sent)
    assert decision.reason == "sms_daily_cap"
    assert decision.earliest == NOON_CHICAGO + timedelta(hours=21)
    week = [
        Touch(channel=ContactChannel.SMS, outcome=TouchOutcome.TEXTED, at=NOON_CHICAGO - timedelta(days=d))
        for d in (1, 2, 3)
    ]
    assert decide(ContactChannel.SMS, ledger=ledger, touches=week).reason == "sms_weekly_cap"
    assert decide(ContactChannel.SMS, ledger=ledger, touches=week[:2]).allowed


def test_replies_from_the_patient_do_not_count_against_the_cap() -> None:
    ledger = consent(ContactChannel.SMS)
    reply = Touch(channel=ContactChannel.SMS, outcome=TouchOutcome.REPLIED, at=NOON_CHICAGO, outbound=False)
    assert decide(ContactChannel.SMS, ledger=ledger, touches=[reply]).allowed
