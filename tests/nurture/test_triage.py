from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.triage import DEFAULT_TRIAGE_RULES, KeywordRule, TriageInput, TriageResult, TriageRules, triage
from nurture.vocab import Channel, Intent, Need

RULES = DEFAULT_TRIAGE_RULES


def run(text: str = "", **kw: Any) -> TriageResult:
    return triage(TriageInput(text=text, **kw), RULES)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I'd like to book an appointment next week", Intent.READY_TO_SCHEDULE),
        ("Do you take Medicaid? How much is a visit?", Intent.INSURANCE_AUTHORIZATION),
        ("My doctor referred me for physical therapy", Intent.REFERRAL_COORDINATION),
        ("Is it normal to have this side effect from my medication?", Intent.CLINICAL_QUESTION),
        ("Do you treat sleep apnea?", Intent.SERVICE_FIT),
        ("Just researching for now, maybe later", Intent.NOT_READY_YET),
        ("Hola, quiero hacer una cita para la próxima semana", Intent.READY_TO_SCHEDULE),
        ("¿Aceptan mi seguro? ¿Cuánto cuesta la consulta?", Intent.INSURANCE_AUTHORIZATION),
        ("Mi doctor me envió con una referencia", Intent.REFERRAL_COORDINATION),
        ("¿Es normal tener estos síntomas con el medicamento?", Intent.CLINICAL_QUESTION),
        ("¿Hablan español?", Intent.LANGUAGE_SUPPORT),
        ("Solo información por ahora, todavía no", Intent.NOT_READY_YET),
    ],
)
def test_free_text_gives_the_intent_in_english_and_spanish(text: str, intent: Intent) -> None:
    assert run(text).intent is intent


@pytest.mark.parametrize(
    "text",
    [
        "I have chest pain and want an appointment",
        "trouble breathing since last night",
        "I've been having suicidal thoughts",
        "Tengo dolor de pecho desde ayer",
        "No puedo respirar bien",
        "me quiero quitar la vida, quitarme la vida",
    ],
)
def test_red_flags_make_the_lead_urgent_and_clinical(text: str) -> None:
    result = run(text)
    assert result.urgent
    assert result.intent is Intent.CLINICAL_QUESTION
    assert Need.CLINICAL_CONCERN in result.needs


def test_a_red_flag_wins_over_a_structured_booking_intent() -> None:
    result = run("chest pain", intent_hint=Intent.READY_TO_SCHEDULE)
    assert result.urgent and result.intent is Intent.CLINICAL_QUESTION


def test_structured_form_fields_come_before_free_text() -> None:
    result = run("how much does it cost?", intent_hint=Intent.READY_TO_SCHEDULE, needs_hint=frozenset({Need.LANGUAGE}))
    assert result.intent is Intent.READY_TO_SCHEDULE
    assert result.intent_source == "form"
    assert {Need.LANGUAGE, Need.INSURANCE} <= result.needs


def test_an_inquiry_nothing_matches_has_no_intent() -> None:
    result = run("Hello there, please get back to me")
    assert result.intent is None
    assert result.intent_source == "none"


def test_a_referral_partner_inquiry_without_words_is_referral_coordination() -> None:
    assert run("", channel=Channel.REFERRAL_PARTNER).intent is Intent.REFERRAL_COORDINATION


def test_spanish_text_flags_the_language_need_and_answers_in_spanish() -> None:
    result = run("Hola, buenos días, necesito una cita por favor")
    assert result.language == "es"
    assert Need.LANGUAGE in result.needs


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


def test_overlapping_phrases_all_fire() -> None:
    fired = run("chest pain").fired
    assert "urgent:en:chest pain" in fired
    assert "clinical_question:en:pain" in fired


def test_fired_rules_are_config_ids_not_patient_text() -> None:
    result = run("My name is Zebulon Quark and I need an appointment")
    assert all("zebulon" not in f and "quark" not in f for f in result.fired)


def test_a_rule_must_imply_something() -> None:
    with pytest.raises(ValueError, match="implies nothing"):
        KeywordRule(phrase="hello", language="en")


def test_custom_rules_replace_the_builtins() -> None:
    rules = TriageRules([KeywordRule(phrase="knee", language="en", intent=Intent.SERVICE_FIT)])
    assert triage(TriageInput(text="my knee"), rules).intent is Intent.SERVICE_FIT


RED_FLAGS_EN = ["chest pain", "trouble breathing", "suicidal", "can't breathe", "severe bleeding"]
RED_FLAGS_ES = ["dolor de pecho", "no puedo respirar", "dificultad para respirar", "pensamientos suicidas"]
FILLER = st.lists(
    st.sampled_from(
        ["hello", "I", "need", "help", "with", "my", "knee", "please", "call", "me", "hola", "necesito",
         "ayuda", "con", "mi", "rodilla", "por", "favor", "llamame", "today", "hoy", ",", ".", "!", "¿", "?"]
    ),
    max_size=12,
)  # fmt: skip


@settings(max_examples=300)
@given(before=FILLER, after=FILLER, flag=st.sampled_from(RED_FLAGS_EN + RED_FLAGS_ES), shout=st.booleans())
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
