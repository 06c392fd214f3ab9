"""Triage: the intent, needs and urgency of an inquiry, from structured form answers first and then
from the patient's own words, by configurable keyword rules in English and Spanish.

Red-flag phrases (chest pain, trouble breathing, suicidal thoughts …) make a lead urgent whatever
else it says. Matching is on folded text (lower case, no accents), by whole words; a phrase ending
in ``*`` matches any word that starts with it (``suicid*``). Red flags err on the side of safety:
"no chest pain" still fires, and a person reads it at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from nurture.text import fold
from nurture.vocab import Channel, Intent, Need

__all__ = ["DEFAULT_TRIAGE_RULES", "KeywordRule", "TriageInput", "TriageResult", "TriageRules", "triage"]

#: When text matches several intents equally often, the first in this order wins: the safest
#: routing first (a clinical question must not be mistaken for a booking).
INTENT_PRIORITY: tuple[Intent, ...] = (
    Intent.CLINICAL_QUESTION,
    Intent.INSURANCE_AUTHORIZATION,
    Intent.REFERRAL_COORDINATION,
    Intent.READY_TO_SCHEDULE,
    Intent.SERVICE_FIT,
    Intent.LANGUAGE_SUPPORT,
    Intent.NOT_READY_YET,
)

#: Needs implied by an intent.
INTENT_NEEDS: Mapping[Intent, Need] = {
    Intent.CLINICAL_QUESTION: Need.CLINICAL_CONCERN,
    Intent.INSURANCE_AUTHORIZATION: Need.INSURANCE,
    Intent.LANGUAGE_SUPPORT: Need.LANGUAGE,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class KeywordRule:
    """One phrase that, found in an inquiry, implies an intent, a need, or urgency.

    Attributes:
        phrase: words to find, in folded form or not (it is folded on load); ``*`` at the end of the
            last word matches any continuation.
        language: "en", "es" …; the language the phrase is written in.
        intent: the intent it suggests, if any.
        need: the need it flags, if any.
        urgent: True for red flags.
    """

    phrase: str
    language: str
    intent: Intent | None = None
    need: Need | None = None
    urgent: bool = False

    def __post_init__(self) -> None:
        if not fold(self.phrase):
            raise ValueError("a keyword rule needs a phrase")
        if self.intent is None and self.need is None and not self.urgent:
            raise ValueError(f"keyword rule {self.phrase!r} implies nothing: give an intent, a need or urgent")

    @property
    def prefix(self) -> bool:
        """True when the phrase ends in ``*``: its last word matches any continuation."""
        return self.phrase.rstrip().endswith("*")

    @property
    def words(self) -> list[str]:
        return fold(self.phrase).split()

    @property
    def id(self) -> str:
        """Stable id reported when the rule fires (config text, not patient text)."""
        target = "urgent" if self.urgent else (self.intent or self.need)
        return f"{target}:{self.language}:{' '.join(self.words)}{'*' if self.prefix else ''}"

    def pattern(self) -> str:
        body = r"\s+".join(re.escape(w) for w in self.words)
        return rf"\b{body}" + (r"\w*" if self.prefix else r"\b")


class TriageRules:
    """A compiled set of keyword rules."""

    def __init__(
        self,
        rules: Iterable[KeywordRule],
        *,
        clinic_language: str = "en",
        spanish_markers: Iterable[str] = (),
    ) -> None:
        self.rules: tuple[KeywordRule, ...] = tuple(rules)
        if not self.rules:
            raise ValueError("triage needs at least one keyword rule")
        self.clinic_language = clinic_language
        self.spanish_markers = frozenset(fold(m) for m in spanish_markers)
        # Distinct patterns, each with the rules it stands for ("insurance" is both an intent and
        # a need). One alternation over all of them finds candidate positions in a single scan;
        # at each position every pattern starting with that word is tried, so overlapping
        # phrases ("pain", "chest pain") all fire.
        self._patterns: dict[str, tuple[re.Pattern[str], list[int]]] = {}
        for index, rule in enumerate(self.rules):
            source = rule.pattern()
            self._patterns.setdefault(source, (re.compile(source), []))[1].append(index)
        self._regex = re.compile("|".join(sorted(self._patterns, key=len, reverse=True)))
        languages_of: dict[str, set[str]] = {}
        for rule in self.rules:
            languages_of.setdefault(" ".join(rule.words), set()).add(rule.language)
        self._distinctive = frozenset(r.id for r in self.rules if len(languages_of[" ".join(r.words)]) == 1)
        self._by_first_word: dict[str, list[str]] = {}
        self._wildcards: list[tuple[str, str]] = []
        for source, (_, group) in self._patterns.items():
            words = self.rules[group[0]].words
            first = words[0]
            if self.rules[group[0]].prefix and len(words) == 1:
                self._wildcards.append((first, source))
            else:
                self._by_first_word.setdefault(first, []).append(source)

    def matches(self, text: str) -> list[KeywordRule]:
        """Rules that fire on ``text``, each once, in rule order."""
        folded = fold(text)
        hit: set[int] = set()
        pos = 0
        while (m := self._regex.search(folded, pos)) is not None:
            start = m.start()
            end = folded.find(" ", start)
            word = folded[start:] if end < 0 else folded[start:end]
            sources = list(self._by_first_word.get(word, ()))
            sources += [src for prefix, src in self._wildcards if word.startswith(prefix)]
            for source in sources:
                pattern, group = self._patterns[source]
                if pattern.match(folded, start):
                    hit.update(group)
            if end < 0:
                break
            pos = end + 1
        return [self.rules[i] for i in sorted(hit)]

    def says_language(self, rule: KeywordRule) -> bool:
        """True when ``rule``'s phrase exists only in its own language ("cita", not "medicaid"),
        so its firing says which language the patient wrote in."""
        return rule.id in self._distinctive

    def looks_spanish(self, text: str) -> bool:
        """A cheap guess: at least three distinct common Spanish words."""
        if not self.spanish_markers:
            return False
        words = set(fold(text).split())
        return len(words & self.spanish_markers) >= 3


@dataclass(frozen=True, slots=True, kw_only=True)
class TriageInput:
    """What triage looks at.

    Attributes:
        intent_hint: the intent a structured form field gave (e.g. a "reason for inquiry" select).
        needs_hint: needs from structured fields (an "I need an interpreter" checkbox …).
        preferred_language: the language the patient chose, if the form asked.
        channel: the inquiry's channel.
        referral_source: set when a partner or person referred the patient.
        text: the patient's own words.
    """

    intent_hint: Intent | None = None
    needs_hint: frozenset[Need] = frozenset()
    preferred_language: str | None = None
    channel: Channel = Channel.OTHER
    referral_source: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TriageResult:
    """What triage decided.

    Attributes:
        intent: the primary intent, or None when it cannot be determined (→ next action "triage").
        needs: accompanying needs.
        urgent: a red flag fired.
        fired: ids of the keyword rules that fired.
        language: the language to answer in.
        intent_source: "form", "text", "channel" or "none".
    """

    intent: Intent | None
    needs: frozenset[Need] = field(default_factory=frozenset)
    urgent: bool = False
    fired: tuple[str, ...] = ()
    language: str = "en"
    intent_source: str = "none"


def triage(item: TriageInput, rules: TriageRules) -> TriageResult:
    """Decide intent, needs and urgency for one inquiry. See the module docstring."""
    fired = rules.matches(item.text) if item.text else []
    urgent = any(r.urgent for r in fired)
    needs = set(item.needs_hint)
    needs.update(r.need for r in fired if r.need is not None)
    # Words of a secondary intent still say what the patient needs ("... and how much is it?").
    needs.update(INTENT_NEEDS[r.intent] for r in fired if r.intent is not None and r.intent in INTENT_NEEDS)

    language = (item.preferred_language or "").lower() or None
    if language is None:
        spanish_rule = any(r.language == "es" and rules.says_language(r) for r in fired)
        language = "es" if (spanish_rule or rules.looks_spanish(item.text)) else rules.clinic_language

    intent: Intent | None
    if urgent:
        intent, source = Intent.CLINICAL_QUESTION, "text"
    elif item.intent_hint is not None:
        intent, source = item.intent_hint, "form"
    else:
        intent, source = _intent_from_text(fired), "text"
        if intent is None and (item.channel is Channel.REFERRAL_PARTNER or item.referral_source):
            intent, source = Intent.REFERRAL_COORDINATION, "channel"
        if intent is None and language != rules.clinic_language and Need.LANGUAGE in needs | {Need.LANGUAGE}:
            # Someone who wrote to us in another language and asked nothing we recognised: the
            # first thing they need is someone who speaks it.
            intent, source = Intent.LANGUAGE_SUPPORT, "text" if item.text else "form"
        if intent is None:
            source = "none"

    if language != rules.clinic_language:
        needs.add(Need.LANGUAGE)
    if urgent:
        needs.add(Need.CLINICAL_CONCERN)
    if intent is not None and intent in INTENT_NEEDS:
        needs.add(INTENT_NEEDS[intent])
    return TriageResult(
        intent=intent,
        needs=frozenset(needs),
        urgent=urgent,
        fired=tuple(r.id for r in fired),
        language=language,
        intent_source=source,
    )


def _intent_from_text(fired: list[KeywordRule]) -> Intent | None:
    counts: dict[Intent, int] = {}
    for rule in fired:
        if rule.intent is not None:
            counts[rule.intent] = counts.get(rule.intent, 0) + 1
    if not counts:
        return None
    best = max(counts.values())
    return next(i for i in INTENT_PRIORITY if counts.get(i) == best)


def _rules(language: str, mapping: Mapping[str, Iterable[str]], **kind: object) -> list[KeywordRule]:
    out = []
    for key, phrases in mapping.items():
        for phrase in phrases:
            if kind.get("target") == "intent":
                out.append(KeywordRule(phrase=phrase, language=language, intent=Intent(key)))
            elif kind.get("target") == "need":
                out.append(KeywordRule(phrase=phrase, language=language, need=Need(key)))
            else:
                out.append(KeywordRule(phrase=phrase, language=language, urgent=True))
    return out


#: The built-in keyword rules, in config form: {target kind: {language: {key: [phrases]}}}.
#: ``config.example.toml`` shows how a clinic overrides them.
DEFAULT_KEYWORDS: Mapping[str, Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "red_flags": {
        "en": {
            "urgent": (
                "chest pain", "chest pressure", "trouble breathing", "difficulty breathing", "can't breathe",
                "cant breathe", "shortness of breath", "suicid*", "kill myself", "end my life", "self harm",
                "overdose", "stroke", "face drooping", "slurred speech", "severe bleeding",
                "bleeding heavily",
                "unconscious", "passed out", "seizure", "anaphylaxis", "throat swelling",
            ),
        },
        "es": {
            "urgent": (
                "dolor de pecho", "dolor en el pecho", "presion en el pecho", "no puedo respirar",
                "dificultad para respirar", "falta de aire", "suicid*", "quitarme la vida", "matarme",
                "hacerme dano", "sobredosis", "derrame cerebral", "sangrado fuerte", "desmay*", "convulsion*",
            ),
        },
    },
    "intents": {
        "en": {
            "ready_to_schedule": (
                "appointment", "book", "schedule", "scheduling", "availability", "available", "next week",
                "new patient visit", "come in", "get in", "first visit", "earliest",
            ),
            "service_fit": (
                "do you offer", "do you treat", "do you do", "do you see", "is this right for",
                "can you help with",
                "what services", "specialize", "experience with",
            ),
            "insurance_authorization": (
                "insurance", "in network", "in-network", "out of network", "coverage", "covered", "copay",
                "deductible", "prior authorization", "preauthorization", "medicaid", "medicare", "self pay",
                "cost", "how much",
            ),
            "clinical_question": (
                "symptom*", "side effect*", "medication", "prescription", "dosage", "diagnos*", "pain",
                "is it normal", "should i be worried", "test results", "lab results",
            ),
            "language_support": ("interpreter", "translator", "speak spanish", "in spanish"),
            "referral_coordination": (
                "referral", "referred", "my doctor sent", "doctor referred", "referring", "records",
            ),
            "not_ready_yet": (
                "just looking", "just researching", "not ready", "maybe later", "thinking about",
                "in the future",
                "information only", "more information", "just curious",
            ),
        },
        "es": {
            "ready_to_schedule": (
                "cita", "agendar", "programar", "reservar", "disponibilidad", "la proxima semana",
                "primera consulta",
            ),
            "service_fit": ("ofrecen", "tratan", "atienden", "pueden ayudar con", "que servicios"),
            "insurance_authorization": (
                "seguro", "aseguranza", "cobertura", "cubre", "copago", "deducible", "autorizacion previa",
                "medicaid", "medicare", "cuanto cuesta", "costo",
            ),
            "clinical_question": (
                "sintoma*", "efecto* secundario*", "medicamento*", "receta", "dosis", "diagnostic*", "dolor",
                "es normal", "resultados",
            ),
            "language_support": ("hablan espanol", "habla espanol", "en espanol", "interprete", "traductor"),
            "referral_coordination": (
                "referencia", "referido", "mi doctor me envio", "me refirio", "expediente",
            ),
            "not_ready_yet": (
                "solo informacion", "mas informacion", "todavia no", "tal vez despues",
                "solo estoy viendo",
            ),
        },
    },
    "needs": {
        "en": {
            "language": ("interpreter", "translator", "spanish"),
            "insurance": ("insurance", "coverage", "medicaid", "medicare", "copay", "authorization"),
            "referral_documents": ("referral", "referred", "records"),
            "clinical_concern": ("symptom*", "pain", "medication"),
        },
        "es": {
            "language": ("interprete", "traductor", "espanol"),
            "insurance": ("seguro", "aseguranza", "cobertura", "medicaid", "medicare"),
            "referral_documents": ("referencia", "referido", "expediente"),
            "clinical_concern": ("sintoma*", "dolor", "medicamento*"),
        },
    },
}  # fmt: skip

SPANISH_MARKERS: tuple[str, ...] = (
    "hola", "quiero", "necesito", "cita", "para", "por", "favor", "gracias", "una", "mi", "el", "la", "que",
    "con", "habla", "espanol", "buenos", "dias", "tardes", "senora", "senor", "tengo", "como", "donde",
    "puedo",
)  # fmt: skip


def rules_from_keywords(
    keywords: Mapping[str, Mapping[str, Mapping[str, Iterable[str]]]], *, clinic_language: str = "en"
) -> TriageRules:
    """Build :class:`TriageRules` from the config form.

    The form is ``{red_flags|intents|needs: {language: {key: [phrases]}}}``.
    """
    rules: list[KeywordRule] = []
    for language, groups in keywords.get("red_flags", {}).items():
        rules += _rules(language, groups, target="urgent")
    for language, groups in keywords.get("intents", {}).items():
        rules += _rules(language, groups, target="intent")
    for language, groups in keywords.get("needs", {}).items():
        rules += _rules(language, groups, target="need")
    return TriageRules(rules, clinic_language=clinic_language, spanish_markers=SPANISH_MARKERS)


DEFAULT_TRIAGE_RULES = rules_from_keywords(DEFAULT_KEYWORDS)
