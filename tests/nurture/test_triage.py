"""Triage reads real writing: intents, needs, red flags, declines, opt-outs and callback times.

The labelled corpus (tests/corpus) measures the rules as a whole; these tests pin behaviours one by
one, each in the words a patient would use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.triage import Rule, TriageInput, TriageResult, TriageRules, default_triage_rules, rule_from_entry, triage
from nurture.vocab import Channel, ContactChannel, Intent, Need

RULES = default_triage_rules()
#: Tuesday 1 December 2026, 10:00 in Austin.
NOW = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
ZONE = ZoneInfo("America/Chicago")


def run(text: str = "", **kw: Any) -> TriageResult:
    kw.setdefault("received_at", NOW)
    return triage(TriageInput(text=text, **kw), RULES)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I'd like to book an appointment next week", Intent.READY_TO_SCHEDULE),
        ("hi can i get an appt this week", Intent.READY_TO_SCHEDULE),
        ("Can I get a telehealth visit? I live 2 hours away.", Intent.READY_TO_SCHEDULE),
        ("Do you take Aetna PPO? I want to know before I schedule.", Intent.INSURANCE_AUTHORIZATION),
        ("Do you take Medicaid? How much is a visit?", Intent.INSURANCE_AUTHORIZATION),
        ("My doctor referred me for physical therapy", Intent.REFERRAL_COORDINATION),
        ("Is it normal to have this side effect from my medication?", Intent.CLINICAL_QUESTION),
        ("Do you treat sleep apnea?", Intent.SERVICE_FIT),
        ("Signed up for the webinar on sleep apnea, just learning for now.", Intent.NOT_READY_YET),
        ("Just researching for now, maybe later", Intent.NOT_READY_YET),
        ("Hola, quiero hacer una cita para la próxima semana", Intent.READY_TO_SCHEDULE),
        ("¿Aceptan mi seguro? ¿Cuánto cuesta la consulta?", Intent.INSURANCE_AUTHORIZATION),
        ("Mi doctor me envió con una referencia", Intent.REFERRAL_COORDINATION),
        ("¿Es normal tener estos síntomas con el medicamento?", Intent.CLINICAL_QUESTION),
        ("Hola, necesito una cita para mi hijo. Hablo solo español.", Intent.LANGUAGE_SUPPORT),
        ("Solo información por ahora, todavía no", Intent.NOT_READY_YET),
    ],
)
def test_free_text_gives_the_intent_a_coordinator_would(text: str, intent: Intent) -> None:
    assert run(text).intent is intent


def test_an_insurance_question_asked_before_booking_is_about_insurance() -> None:
    result = run("Do you take Aetna PPO? I want to know before I schedule.")
    assert Need.INSURANCE in result.needs


def test_someone_who_only_speaks_spanish_is_answered_in_spanish() -> None:
    result = run("Hola, necesito una cita para mi hijo. Hablo solo español.")
    assert result.language == "es" and Need.LANGUAGE in result.needs


def test_english_asking_for_spanish_is_answered_in_spanish() -> None:
    assert run("can someone call me in spanish? my english not very good").language == "es"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I have been having thoughts of ending my life.", "self_harm"),
        ("I don't want to be here anymore", "self_harm"),
        ("Severe allergic reaction, my throat is swelling", "anaphylaxis"),
        ("my chest feels tight and heavy and my left arm is numb", "chest_pain"),
        ("cant catch my breath even sitting down", "breathing"),
        ("her face is drooping on one side and her words are slurred", "stroke"),
        ("my toddler swallowed a button battery", "overdose_poisoning"),
        ("cut my hand, it won't stop bleeding, soaked through 3 towels", "severe_bleeding"),
        ("32 weeks pregnant and bleeding", "pregnancy_bleeding_or_movement"),
        ("the baby hasn't moved since yesterday, I'm 34 weeks", "pregnancy_bleeding_or_movement"),
        ("my 3 week old has a fever of 100.8", "newborn_fever"),
        ("he's having a seizure right now", "seizure"),
        ("fell and hit his head, now he's confused and throwing up", "head_injury_confusion"),
        ("Tengo dolor de pecho desde ayer", "chest_pain"),
        ("No puedo respirar bien", "breathing"),
        ("ya no quiero vivir", "self_harm"),
        ("mi bebé de 2 semanas tiene calentura", "newborn_fever"),
        ("My baby hasn't had a wet diaper since this morning and won't drink", "infant_dehydration"),
        ("Mi bebé de 6 meses no ha mojado el pañal desde anoche", "infant_dehydration"),
    ],
)
def test_red_flags_in_real_words_make_the_inquiry_urgent(text: str, category: str) -> None:
    result = run(text)
    assert result.urgent, text
    assert category in result.red_flags
    assert result.intent is Intent.CLINICAL_QUESTION
    assert Need.CLINICAL_CONCERN in result.needs


@pytest.mark.parametrize(
    "text",
    [
        "I've had knee pain for three weeks, can I get an appointment?",
        "Can I get my chest X-ray results?",
        "Signing up for the heart health class",
        "Register me for the stroke prevention webinar",
        "need a refill on my seizure meds",
        "My wife says I stop breathing in my sleep, do you do sleep studies?",
        "my gums bleed a little when I floss",
        "My baby had a fever last week, she's fine now, need her well-child visit",
        "lower back is killing me, can I get in today?",
    ],
)
def test_near_misses_are_not_urgent(text: str) -> None:
    assert not run(text).urgent, text


def test_a_red_flag_still_fires_when_negated_a_person_reads_it() -> None:
    assert run("no chest pain, but my chest feels tight").urgent


def test_a_red_flag_wins_over_a_structured_booking_intent() -> None:
    result = run("chest pain", intent_hint=Intent.READY_TO_SCHEDULE)
    assert result.urgent and result.intent is Intent.CLINICAL_QUESTION


def test_typos_and_abbreviations_are_read() -> None:
    assert run("need an apointment tmrw").intent is Intent.READY_TO_SCHEDULE
    assert run("is my insurence in netwrok?").intent is Intent.INSURANCE_AUTHORIZATION
    assert run("my son is breating really fast and weird").urgent


def test_a_negated_request_is_not_the_request() -> None:
    result = run("maybe after the holidays, not ready to book yet")
    assert result.intent is Intent.NOT_READY_YET


def test_structured_form_fields_come_before_free_text() -> None:
    result = run("how much does it cost?", intent_hint=Intent.READY_TO_SCHEDULE, needs_hint=frozenset({Need.LANGUAGE}))
    assert result.intent is Intent.READY_TO_SCHEDULE
    assert result.intent_source == "form"
    assert {Need.LANGUAGE, Need.INSURANCE} <= result.needs


def test_a_form_with_a_service_and_no_words_is_ready_to_schedule() -> None:
    result = run("", service="physical_therapy", channel=Channel.PAID_SEARCH)
    assert result.intent is Intent.READY_TO_SCHEDULE
    assert result.intent_source == "form"


def test_an_inquiry_nothing_matches_has_no_intent() -> None:
    result = run("hi um yeah if you could call me back thanks")
    assert result.intent is None
    assert result.intent_source == "none"


def test_a_spanish_inquiry_nothing_matches_has_no_intent_but_is_answered_in_spanish() -> None:
    result = run("hola, llámeme por favor a este número")
    assert result.intent is None
    assert result.language == "es"


def test_a_referral_partner_inquiry_without_words_is_referral_coordination() -> None:
    assert run("", channel=Channel.REFERRAL_PARTNER).intent is Intent.REFERRAL_COORDINATION


def test_words_shared_by_both_languages_do_not_make_english_spanish() -> None:
    result = run("Do you take Medicaid or Medicare?")
    assert result.language == "en"
    assert Need.LANGUAGE not in result.needs


def test_the_patients_chosen_language_wins() -> None:
    assert run("Hi, I want an appointment", preferred_language="es").language == "es"


def test_keywords_match_whole_words_only() -> None:
    # "pain" must not fire inside "Spain"; "book" not inside "facebook".
    result = run("I saw your ad on facebook while in Spain")
    assert result.intent is None
    assert not result.urgent


@pytest.mark.parametrize(
    ("text", "reply_via", "channel", "opt_out", "decline"),
    [
        ("STOP", ContactChannel.SMS, Channel.OTHER, {"sms"}, False),
        (
            "Thanks for the newsletter. Please remove me from this list.",
            None,
            Channel.NEWSLETTER_REPLY,
            {"email"},
            False,
        ),
        ("Not interested anymore, found another provider.", None, Channel.OTHER, set(), True),
        ("stop contacting me", ContactChannel.SMS, Channel.OTHER, {"call", "sms", "email", "voicemail"}, True),
        ("please don't call me anymore, I'm not interested", None, Channel.PHONE_CALL, {"call", "voicemail"}, True),
        ("no me interesa, gracias", ContactChannel.SMS, Channel.OTHER, set(), True),
        ("Ya encontré otro médico más cerca", None, Channel.OTHER, set(), True),
        ("no me escriban más", None, Channel.OTHER, {"sms", "email"}, False),
    ],
)
def test_declines_and_opt_outs_are_understood(
    text: str, reply_via: ContactChannel | None, channel: Channel, opt_out: set[str], decline: bool
) -> None:
    result = run(text, reply_via=reply_via, channel=channel)
    assert {c.value for c in result.opt_out} == opt_out
    assert result.decline is decline


def test_a_timing_request_is_not_an_opt_out() -> None:
    assert not run("dont call me til after 7 pm, want to book a physical").opt_out
    assert not run("no me llamen en la mañana, llámenme después de las 2").opt_out


def test_an_opt_out_that_also_asks_for_a_call_is_an_inquiry() -> None:
    # "Stop texting me" with a callback time asks for something: a lead with SMS withdrawn, not
    # only an entry on the suppression list (found trying `leads add` as a coordinator would).
    result = run("please call me back tomorrow at 3pm, stop texting me")
    assert {c.value for c in result.opt_out} == {"sms"}
    assert result.callback is not None
    assert not result.opt_out_only
    assert run("stop texting me", reply_via=ContactChannel.SMS).opt_out_only


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Asking for a time is asking for an appointment (found probing as a coordinator would).
        ("Do you have anything Saturday? I work weekdays", Intent.READY_TO_SCHEDULE),
        ("can you see me today", Intent.READY_TO_SCHEDULE),
        ("Mi hijo tiene tos y fiebre desde hace tres días, ¿le pueden ver mañana?", Intent.READY_TO_SCHEDULE),
        ("¿tienen algo para el sábado?", Intent.READY_TO_SCHEDULE),
        # ... but not a question about what to take today.
        ("is there anything I can take today for the pain", Intent.CLINICAL_QUESTION),
        ("I'm 75 and my blood pressure was 190/110 at the pharmacy, I have a headache", Intent.CLINICAL_QUESTION),
        ("I got a letter saying I owe $300, can someone explain", Intent.INSURANCE_AUTHORIZATION),
        # "walk-ins" is not "walk insurance".
        ("Is the flu shot available for walk-ins?", Intent.READY_TO_SCHEDULE),
    ],
)
def test_what_a_coordinator_reads_in_a_question(text: str, intent: Intent) -> None:
    assert run(text).intent is intent


@pytest.mark.parametrize(
    ("text", "opt_out", "inquiry"),
    [
        ("no longer want to get texts from you", {"sms"}, False),
        ("Quiero dejar de recibir mensajes", {"sms"}, False),
        ("ya no quiero que me manden mensajes", {"sms"}, False),
        ("do not want texts, call me instead", {"sms"}, True),
        ("I do not want calls, email me instead, I want an appointment", {"call", "voicemail"}, True),
        ("stop calling me, text me instead", {"call", "voicemail"}, True),
        ("no me manden mensajes, llámenme por favor", {"sms"}, True),
    ],
)
def test_not_wanting_one_kind_of_message_withdraws_that_one_and_keeps_the_ask(
    text: str, opt_out: set[str], inquiry: bool
) -> None:
    result = run(text)
    assert {c.value for c in result.opt_out} == opt_out
    assert not result.decline  # not wanting texts is not declining care
    assert result.opt_out_only is not inquiry  # "call me instead" is an inquiry: a lead, not only a suppression


def test_a_requested_callback_time_is_read_in_the_patients_zone() -> None:
    result = run("Missed call, voicemail: please call me back about scheduling, after 5pm is best.")
    assert result.intent is Intent.READY_TO_SCHEDULE
    assert result.callback is not None
    local = result.callback.start.astimezone(ZONE)
    assert (local.date().isoformat(), local.hour) == ("2026-12-01", 17)


def test_fired_rules_are_rule_ids_not_patient_text() -> None:
    result = run("My name is Zebulon Quark and I need an appointment")
    assert result.fired
    assert all("zebulon" not in f and "quark" not in f for f in result.fired)
    assert all(f.count(":") >= 2 for f in result.fired)  # <target>:<language>:<rule text>


def test_a_rule_must_imply_something() -> None:
    with pytest.raises(ValueError, match="implies nothing"):
        Rule(language="en", phrases=("hello",))


def test_a_rule_from_config_names_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        rule_from_entry({"lang": "en", "intent": "ready_to_schedule", "phrases": ["x"]})
    with pytest.raises(ValueError, match="opt_out"):
        rule_from_entry({"lang": "en", "opt_out": ["fax"], "any": ["x"]})


def test_custom_rules_replace_the_builtins() -> None:
    rules = TriageRules([Rule(language="en", phrases=("knee",), intent=Intent.SERVICE_FIT)])
    assert triage(TriageInput(text="my knee"), rules).intent is Intent.SERVICE_FIT


RED_FLAGS = [
    "chest pain", "trouble breathing", "suicidal", "can't breathe", "severe bleeding", "dolor de pecho",
    "no puedo respirar", "dificultad para respirar", "pensamientos suicidas",
]  # fmt: skip
FILLER = st.lists(
    st.sampled_from(
        ["hello", "I", "need", "help", "with", "my", "knee", "please", "call", "me", "hola", "necesito",
         "ayuda", "con", "mi", "rodilla", "por", "favor", "llamame", "today", "hoy", ",", "!", "¿", "?"]
    ),
    max_size=12,
)  # fmt: skip


@settings(max_examples=300)
@given(before=FILLER, after=FILLER, flag=st.sampled_from(RED_FLAGS), shout=st.booleans())
def test_a_red_flag_anywhere_in_any_case_is_urgent(before: list[str], after: list[str], flag: str, shout: bool) -> None:
    phrase = flag.upper() if shout else flag
    text = " ".join([*before, phrase, *after])
    assert run(text).urgent


@settings(max_examples=300)
@given(words=FILLER)
def test_filler_without_red_flags_is_never_urgent(words: list[str]) -> None:
    assert not run(" ".join(words)).urgent


@settings(max_examples=200)
@given(text=st.text(max_size=300))
def test_triage_never_fails_on_any_text(text: str) -> None:
    result = run(text)
    assert result.intent is None or isinstance(result.intent, Intent)
