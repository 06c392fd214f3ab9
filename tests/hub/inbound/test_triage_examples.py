"""The inquiries of issue 20, each with the decision a careful front-desk coordinator makes, through
the path ``nurturehub leads add`` takes (the hub's inquiry JSON, intake, policy, cadence)."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.inbound.inquiry_schema import inquiry_from_json
from hub.inbound.intake import Intake
from hub.lifecycle.leads import CommitResult
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.store.crypto import Vault, new_key
from nurture.lead import Lead
from nurture.vocab import ConsentState, ContactChannel, Intent, Need, NextActionKind, Score, Stage
from tests.factories import T0

AUSTIN = ZoneInfo("America/Chicago")


class Desk:
    """Sends inquiries as ``leads add --json`` would, one person per phone number."""

    def __init__(self, store: Store, config: HubConfig) -> None:
        ids = count(1)
        self.store, self.config = store, config
        self.intake = Intake(
            store,
            config,
            destinations=("salesforce",),
            id_factory=lambda _: f"nh_{next(ids):04d}",
            vault=Vault(new_key()),
        )
        self.phones = count(200)

    def send(self, at: Any = T0, **data: Any) -> CommitResult:
        data.setdefault("phone", f"512-555-0{next(self.phones):03d}")
        inquiry = inquiry_from_json(data, config=self.config, received_at=at, source="cli")
        result = self.intake.submit(inquiry, actor="cli:test", now=at)
        assert result.ok, result.violations
        return result

    def lead(self, text: str, **data: Any) -> Lead:
        result = self.send(text=text, **data)
        assert result.lead is not None
        return result.lead

    def steps(self, lead_id: str) -> dict[str, tuple[str | None, str]]:
        with self.store.tx() as s:
            return {
                r.step_key: (r.channel, r.owner_queue)
                for r in repo.follow_ups(s, lead_id)
                if r.status in ("planned", "task_requested")
            }


@pytest.fixture
def desk(store: Store, config: HubConfig) -> Desk:
    return Desk(store, config)


def test_ending_my_life_is_urgent_and_gets_the_crisis_script(desk: Desk) -> None:
    lead = desk.lead("I have been having thoughts of ending my life.")
    assert lead.urgent and lead.intent is Intent.CLINICAL_QUESTION
    assert lead.next_action is not None
    assert (lead.next_action.kind, lead.next_action.owner_queue) == (
        NextActionKind.ROUTE_CLINICAL_QUESTION,
        "Clinical Triage",
    )
    assert lead.next_action.due_at == T0  # due now
    with desk.store.tx() as s:
        rows = repo.follow_ups(s, lead.id)
    assert {r.template for r in rows} == {"crisis_callback"}  # 988 and 911 guidance, EN and ES
    assert all(r.label.startswith("Urgent clinical callback") for r in rows)


def test_a_swelling_throat_is_urgent(desk: Desk) -> None:
    assert desk.lead("Severe allergic reaction, my throat is swelling").urgent


def test_an_urgent_spanish_lead_with_sms_consent_leaves_the_nurture_cadence(desk: Desk) -> None:
    lead = desk.lead(
        "Me duele mucho el pecho desde hace una hora",
        consent={"sms": {"granted": True, "wording": "Acepto recibir mensajes"}},
    )
    assert lead.urgent and lead.preferred_language == "es"
    steps = desk.steps(lead.id)
    # Calls only: no texts, emails or "close as unreachable"; re-attempts, then an escalation.
    assert set(steps) == {"urgent_call_1", "urgent_call_2", "urgent_call_3", "urgent_escalate"}
    assert all(channel == "call" for channel, _ in steps.values())
    assert steps["urgent_escalate"][1] == "Clinical Lead"
    assert steps["urgent_call_1"][1] == "Clinical Triage"


def test_an_urgent_inquiry_at_night_goes_to_the_after_hours_queue_at_once(desk: Desk) -> None:
    night = T0 + timedelta(hours=12)  # 22:00 in Austin: the clinic is closed
    lead = desk.send(at=night, text="my 3 week old has a fever of 100.8").lead
    assert lead is not None and lead.urgent
    assert lead.next_action is not None
    assert (lead.next_action.owner_queue, lead.next_action.due_at) == ("After-hours Nurse Line", night)
    assert desk.steps(lead.id)["urgent_call_1"][1] == "After-hours Nurse Line"


@pytest.mark.parametrize(
    ("text", "intent", "score"),
    [
        ("hi can i get an appt this week", Intent.READY_TO_SCHEDULE, Score.A),
        ("Can I get a telehealth visit? I live 2 hours away.", Intent.READY_TO_SCHEDULE, Score.A),
        ("Do you take Aetna PPO? I want to know before I schedule.", Intent.INSURANCE_AUTHORIZATION, Score.C),
        ("Signed up for the webinar on sleep apnea, just learning for now.", Intent.NOT_READY_YET, Score.D),
    ],
)
def test_what_a_coordinator_sorts_without_hesitation(desk: Desk, text: str, intent: Intent, score: Score) -> None:
    lead = desk.lead(text)
    assert (lead.intent, lead.score) == (intent, score)


def test_an_insurance_question_goes_to_the_insurance_desk(desk: Desk) -> None:
    lead = desk.lead("Do you take Aetna PPO? I want to know before I schedule.")
    assert Need.INSURANCE in lead.needs
    assert lead.next_action is not None
    assert (lead.next_action.kind, lead.next_action.owner_queue) == (NextActionKind.VERIFY_INSURANCE, "Insurance Desk")


def test_a_spanish_only_parent_goes_to_the_bilingual_team(desk: Desk) -> None:
    lead = desk.lead("Hola, necesito una cita para mi hijo. Hablo solo español.")
    assert lead.intent is Intent.LANGUAGE_SUPPORT
    assert lead.preferred_language == "es" and Need.LANGUAGE in lead.needs
    assert lead.next_action is not None and lead.next_action.owner_queue == "Bilingual Team"


def test_a_newsletter_unsubscribe_from_a_stranger_is_kept_on_the_suppression_list(desk: Desk) -> None:
    email = "reader@example.org"
    result = desk.send(
        channel="newsletter_reply",
        email=email,
        phone=None,
        text="Thanks for the newsletter. Please remove me from this list.",
        consent={"email": {"granted": True, "wording": "Email me news"}},
    )
    assert result.lead is None  # no lead is opened for someone who asked to hear nothing
    assert result.recorded is not None
    assert result.recorded["suppressed"] == {"contacts": ["email"], "channels": ["email"]}
    # ... and a later inquiry from that address inherits the denial.
    later = desk.send(at=T0 + timedelta(days=2), email=email, phone=None, text="I'd like an appointment")
    assert later.lead is not None
    assert later.lead.consent.state(ContactChannel.EMAIL) is ConsentState.DENIED


def test_a_newsletter_unsubscribe_from_a_lead_revokes_email_only(desk: Desk) -> None:
    first = desk.lead(
        "Do you treat sleep apnea?", email="ana@example.org", consent={"email": {"granted": True, "wording": "x"}}
    )
    result = desk.send(
        at=T0 + timedelta(days=1),
        channel="newsletter_reply",
        email="ana@example.org",
        phone=None,
        text="Thanks for the newsletter. Please remove me from this list.",
    )
    assert result.lead is not None and result.lead.id == first.id
    assert result.lead.consent.state(ContactChannel.EMAIL) is ConsentState.DENIED
    assert result.lead.stage is Stage.NEW and result.lead.intent is Intent.SERVICE_FIT  # still wants an answer


def test_found_another_provider_closes_the_lead_as_declined(desk: Desk) -> None:
    lead = desk.lead("Not interested anymore, found another provider.")
    assert (lead.stage, lead.score) == (Stage.DECLINED, Score.E)
    assert lead.next_action is not None and lead.next_action.kind is NextActionKind.CLOSE_DECLINED
    assert desk.steps(lead.id) == {}


def test_a_decline_closes_an_open_lead_and_withdraws_its_calls(desk: Desk) -> None:
    lead = desk.lead("I'd like to book a physical")
    assert "day0_call" in desk.steps(lead.id)
    later = desk.send(at=T0 + timedelta(hours=2), phone=lead.phone, text="no thanks, not interested anymore")
    assert later.lead is not None and later.lead.stage is Stage.DECLINED
    assert desk.steps(lead.id) == {}


def test_a_callback_asked_for_after_5pm_is_the_next_action_at_5pm(desk: Desk) -> None:
    lead = desk.lead(
        "Missed call, voicemail: please call me back about scheduling, after 5pm is best.", channel="gbp_call"
    )
    assert lead.next_action is not None
    assert lead.next_action.kind is NextActionKind.CALL_BACK_REQUESTED_TIME
    due = lead.next_action.due_at.astimezone(AUSTIN)
    assert (due.date().isoformat(), due.hour, due.minute) == ("2026-12-01", 17, 0)


def test_form_fields_without_words_make_a_lead_ready_to_schedule(desk: Desk) -> None:
    lead = desk.lead("", channel="paid_search", service="Physical therapy", contact_window="afternoon")
    assert lead.intent is Intent.READY_TO_SCHEDULE and lead.service == "physical_therapy"
    # The clinic's physical therapy needs a referral first: the first call asks for it (C).
    assert lead.next_action is not None and lead.next_action.kind is NextActionKind.REQUEST_REFERRAL_DOCUMENTS
    primary = desk.lead("", channel="paid_search", service="primary_care", contact_window="afternoon")
    assert (primary.intent, primary.score) == (Intent.READY_TO_SCHEDULE, Score.A)


def test_stop_from_an_unknown_number_is_recorded_and_said(desk: Desk) -> None:
    result = desk.send(phone="512-555-0999", text="STOP", reply_via="sms")
    assert result.ok and result.lead is None
    assert result.recorded is not None and result.recorded["suppressed"] == {"contacts": ["phone"], "channels": ["sms"]}
    later = desk.send(at=T0 + timedelta(days=1), phone="512-555-0999", text="can I get an appointment?")
    assert later.lead is not None and later.lead.consent.state(ContactChannel.SMS) is ConsentState.DENIED


def test_an_unknown_intent_is_not_scored_as_if_we_knew(desk: Desk) -> None:
    lead = desk.lead("hi um yeah if you could call me back thanks")
    assert lead.intent is None
    assert lead.next_action is not None and lead.next_action.kind is NextActionKind.TRIAGE
    assert lead.score is Score.C


def test_the_same_person_writing_again_is_re_triaged_and_called_sooner(desk: Desk) -> None:
    # A web form at 10:00 (first call within the form's 15 minutes) ...
    first = desk.send(channel="website_form", text="Do you treat vertigo?")
    assert first.lead is not None and first.lead.next_action is not None
    assert first.lead.next_action.due_at == T0 + timedelta(minutes=15)
    # ... then a missed call from the same number at 10:02: the same lead, sorted by the new words,
    # and called within the call channel's 5 minutes — they are at their most reachable now.
    again = desk.send(
        at=T0 + timedelta(minutes=2),
        channel="gbp_call",
        phone=first.lead.phone,
        text="hi, calling to book an appointment",
    )
    assert again.lead is not None and again.lead.id == first.lead.id
    assert again.lead.intent is Intent.READY_TO_SCHEDULE
    assert again.lead.next_action is not None
    assert again.lead.next_action.due_at == T0 + timedelta(minutes=7)


def test_a_returning_inquiry_supersedes_an_old_requested_time(desk: Desk) -> None:
    first = desk.lead("please call me thursday morning about an appointment")
    assert first.next_action is not None and first.next_action.kind is NextActionKind.CALL_BACK_REQUESTED_TIME
    again = desk.send(
        at=T0 + timedelta(hours=4), channel="gbp_call", phone=first.phone, text="can someone call me back now"
    )
    assert again.lead is not None and again.lead.next_action is not None
    assert again.lead.next_action.due_at == T0 + timedelta(hours=4, minutes=5)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Symptoms told without a question go to the clinical team (advice or a sick visit).
        ("My son has had a cough and fever for three days", Intent.CLINICAL_QUESTION),
        ("Mi hijo tiene tos y fiebre desde hace tres días", Intent.CLINICAL_QUESTION),
        ("My knee has been swollen since my fall last week", Intent.CLINICAL_QUESTION),
        # Moving one's primary care here is a new patient asking to be seen.
        ("I want to switch my primary care to your clinic, how do I transfer?", Intent.READY_TO_SCHEDULE),
        # A copy of one's records is the records desk's, whichever doctor is named.
        ("Can I get a copy of my records sent to my new doctor?", Intent.REFERRAL_COORDINATION),
        # Booked elsewhere but asking to be seen here is not a decline.
        ("I have an appointment with another doctor next month but want to be seen sooner", Intent.READY_TO_SCHEDULE),
        ("I had scheduled with another clinic but they cancelled, can you see me this week?", Intent.READY_TO_SCHEDULE),
        ("can't stop throwing up, been 2 days, can't keep water down", Intent.CLINICAL_QUESTION),
        ("Just moved to Austin, looking for a family doctor for me and my 3 kids", Intent.READY_TO_SCHEDULE),
        ("Can I get an STD test confidentially?", Intent.READY_TO_SCHEDULE),
        ("Need a TB test for work ASAP", Intent.READY_TO_SCHEDULE),
        ("Hi, I'm calling for my mother, she has Medicare and needs a new primary doctor", Intent.READY_TO_SCHEDULE),
    ],
)
def test_what_a_coordinator_reads_between_the_lines(desk: Desk, text: str, intent: Intent) -> None:
    lead = desk.lead(text)
    assert (lead.intent, lead.stage) == (intent, Stage.NEW)


@pytest.mark.parametrize(
    "text",
    [
        "Already booked with another clinic, thanks anyway.",
        "We found a doctor closer to home. Thanks anyway!",
        "Ya hice cita en otra clínica, gracias.",
    ],
)
def test_booked_elsewhere_closes_the_lead_as_declined(desk: Desk, text: str) -> None:
    lead = desk.lead(text)
    assert lead.stage is Stage.DECLINED
    assert lead.next_action is not None and lead.next_action.kind is NextActionKind.CLOSE_DECLINED


def test_a_day_said_in_passing_is_not_a_callback_request(desk: Desk) -> None:
    """'for work … Monday': neither asks for a call; 'Monday works' does."""
    lead = desk.lead("I need a doctor's note for work, I was sick Monday")
    assert lead.requested_callback_at is None
    assert desk.lead("Monday works for a call, after 3pm").requested_callback_at is not None


def test_no_llamen_withdraws_calls_but_a_time_to_avoid_does_not(desk: Desk) -> None:
    lead = desk.lead("No llamen por favor, solo mensajes de texto. Quiero una cita.")
    assert lead.consent.state(ContactChannel.CALL) is ConsentState.DENIED
    later = desk.lead("No llamen antes de las 5, estoy trabajando. Quiero una cita.")
    assert later.consent.state(ContactChannel.CALL) is not ConsentState.DENIED


def test_no_rush_does_not_outweigh_asking_for_a_visit(desk: Desk) -> None:
    lead = desk.lead("I feel fine, just need a new patient physical. No rush, sometime next month.")
    assert lead.intent is Intent.READY_TO_SCHEDULE
    assert desk.lead("Just curious about your services, no rush").intent is Intent.NOT_READY_YET


def test_medical_is_not_medication(desk: Desk) -> None:
    """Stems would make 'medical' 'medication': a clinical concern for a vendor, or for records."""
    assert Need.CLINICAL_CONCERN not in desk.lead("We're a medical supply company offering discounts").needs
    records = desk.lead("I need to get my medical records")
    assert (records.intent, Need.CLINICAL_CONCERN in records.needs) == (Intent.REFERRAL_COORDINATION, False)
    assert desk.lead("need a refill on my meds").intent is Intent.CLINICAL_QUESTION


def test_unsubscribing_from_one_kind_of_message_keeps_the_others(desk: Desk) -> None:
    """'Darme de baja de los mensajes, pero sí quiero la cita' withdrew every channel (the list
    rule took the form's channel as all of them): the texts only, and the appointment is asked for."""
    lead = desk.lead("quiero darme de baja de los mensajes pero si quiero la cita")
    assert lead.intent is Intent.READY_TO_SCHEDULE
    assert lead.consent.state(ContactChannel.SMS) is ConsentState.DENIED
    assert lead.consent.state(ContactChannel.CALL) is not ConsentState.DENIED
    spanish_pediatrician = desk.lead("busco pediatra para mi recién nacido, tiene 5 días")
    assert spanish_pediatrician.intent is Intent.READY_TO_SCHEDULE
    assert desk.lead("I'm calling from Austin Regional about a patient transfer").intent is Intent.REFERRAL_COORDINATION


def test_a_toddler_drinking_and_peeing_fine_is_not_urgent_and_until_is_no_callback(desk: Desk) -> None:
    toddler = desk.lead("my toddler has had diarrhea for a day but is drinking and peeing fine")
    assert (toddler.intent, toddler.urgent) == (Intent.CLINICAL_QUESTION, False)
    insulin = desk.lead("I'm out of my insulin and can't get to the pharmacy until Monday")
    assert insulin.requested_callback_at is None  # 'until Monday' is when the pharmacy is, not a time to call
    assert insulin.next_action is not None and insulin.next_action.kind is NextActionKind.ROUTE_CLINICAL_QUESTION
