"""Triage: what an inquiry is about — intent, needs, urgency, a decline, an opt-out and a requested
callback time — from structured form answers first and then from the patient's own words.

The words are read by explainable rules (``nurture.triage_rules`` holds the built-in English and
Spanish ones; a clinic adds its own in TOML). Each rule looks for phrases, or word groups near each
other, through :mod:`nurture.matching` (stems, abbreviations, typos, negation), and says what it
implies:

- ``red_flag``: a category of danger (chest pain, breathing, stroke, anaphylaxis, self-harm …). Any
  red flag makes the lead **urgent**, whatever else it says, even negated ("no chest pain" still
  fires: a person reads it at once).
- ``intent`` with a ``weight`` (1 a hint, 2 a plain cue, 3 an explicit request or question). The
  intent with the highest weight wins; on a tie the safer routing comes first
  (:data:`INTENT_PRIORITY`). A negated cue ("I don't need an appointment yet") does not count,
  unless the rule says the negation is part of the topic ("no insurance" is still about insurance).
- ``need``: a need that accompanies any intent (insurance, referral documents, language,
  clinical concern). Symptoms told without any intent cue, form answer or channel to go by ("my
  son has had a cough and fever for three days") are a clinical question: the clinical team
  decides between advice and a visit.
- ``decline`` (with a weight): the person no longer wants care from the clinic ("found another
  provider", "no me interesa"). It closes the lead unless the message asks for something stronger.
- ``opt_out``: contact channels whose consent the message revokes — named channels, ``reply`` (the
  channel the message came by) or ``all``.

Every decision keeps the ids of the rules that fired (rule text, never the patient's words).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from nurture.callback import CallbackWindow, requested_callback
from nurture.consent import KeywordReply, classify_reply
from nurture.matching import NEGATORS, Analyzer, Matcher, Pattern, clauses_of, compile_phrase, words_of
from nurture.text import fold
from nurture.vocab import Channel, ContactChannel, Intent, Need

__all__ = [
    "INTENT_PRIORITY",
    "Rule",
    "TriageInput",
    "TriageResult",
    "TriageRules",
    "default_triage_rules",
    "rules_from_config",
    "triage",
]

#: When several intents have the same weight, the first in this order wins: the safest routing
#: first (a clinical question must not be mistaken for a booking), then what must be cleared
#: before booking, then the person's own request.
INTENT_PRIORITY: tuple[Intent, ...] = (
    Intent.CLINICAL_QUESTION,
    Intent.INSURANCE_AUTHORIZATION,
    Intent.REFERRAL_COORDINATION,
    Intent.LANGUAGE_SUPPORT,
    Intent.READY_TO_SCHEDULE,
    Intent.SERVICE_FIT,
    Intent.NOT_READY_YET,
)

#: Needs implied by an intent.
INTENT_NEEDS: Mapping[Intent, Need] = {
    Intent.CLINICAL_QUESTION: Need.CLINICAL_CONCERN,
    Intent.INSURANCE_AUTHORIZATION: Need.INSURANCE,
    Intent.LANGUAGE_SUPPORT: Need.LANGUAGE,
    Intent.REFERRAL_COORDINATION: Need.REFERRAL_DOCUMENTS,
}

OPT_OUT_TARGETS = frozenset({*(c.value for c in ContactChannel), "reply", "all"})

#: Words right after "don't call me" that turn it into a timing request ("until after 7", "at work",
#: "en la mañana"), alone or as the first of a pair.
TIME_QUALIFIERS = frozenset(
    {"until", "til", "till", "before", "after", "between", "during", "at", "mornings", "evenings", "weekdays",
     "hasta", "antes", "despues", "entre", "durante", "temprano", "tan"}
)  # fmt: skip
TIME_QUALIFIER_PAIRS = frozenset(
    {("in", "the"), ("on", "weekdays"), ("on", "weekends"), ("en", "la"), ("en", "las"), ("por", "la"),
     ("por", "las"), ("en", "el"), ("de", "dia"), ("en", "horas")}
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One triage rule: what to look for, in which language, and what it implies.

    Attributes:
        language: the language its phrases are written in ("en", "es" …).
        phrases: any of these phrases fires the rule (a trailing ``*`` matches any ending).
        near: alternatively, one phrase of every group within ``within`` words of each other.
        within: how many other words may stand between the groups of ``near``.
        red_flag: a red-flag category: the inquiry is urgent.
        intent: the intent it suggests, with ``weight`` (1 a hint … 3 explicit).
        need: a need it flags.
        decline: the person declines care (with ``weight``, weighed against the intents).
        opt_out: contact channels it revokes: channel names, "reply" or "all".
        service: the clinic service (a service id) the words name.
        speaks: the language the person needs staff to speak ("in Spanish", "no hablo inglés").
        negatable: whether a negation just before the match cancels it (default: only for intents).
        unless: phrases that, in the same clause, keep the rule from firing ("in my sleep").
        scope: "clause" (the default) or "message": ``near`` groups may then stand in different
            sentences ("Hit his head. Now he's confused.").
        not_followed_by: words that, right after the match, keep it from firing ("took 10 minutes").
    """

    language: str
    phrases: tuple[str, ...] = ()
    near: tuple[tuple[str, ...], ...] = ()
    within: int = 4
    red_flag: str | None = None
    intent: Intent | None = None
    weight: int = 2
    need: Need | None = None
    decline: bool = False
    opt_out: frozenset[str] = frozenset()
    service: str | None = None
    speaks: str | None = None
    negatable: bool | None = None
    unless: tuple[str, ...] = ()
    scope: str = "clause"
    not_followed_by: frozenset[str] = frozenset()
    #: The compiled pattern, made once when the rule is made (it checks the phrases) and reused.
    _pattern: Pattern | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if bool(self.phrases) == bool(self.near):
            raise ValueError(f"a triage rule gives either phrases or near groups ({self._what()})")
        if not (
            self.red_flag or self.intent or self.need or self.decline or self.opt_out or self.service or self.speaks
        ):
            raise ValueError(
                f"triage rule {self._what()} implies nothing: "
                "give a red_flag, intent, need, decline, opt_out, speaks or service"
            )
        if not 1 <= self.weight <= 5:
            raise ValueError(f"triage rule {self._what()}: weight must be 1 to 5")
        if unknown := self.opt_out - OPT_OUT_TARGETS:
            raise ValueError(f"triage rule {self._what()}: unknown opt_out {sorted(unknown)}")
        object.__setattr__(self, "opt_out", frozenset(self.opt_out))
        object.__setattr__(self, "_pattern", self._compile())  # phrases must compile

    def _what(self) -> str:
        first = self.phrases[:1] or self.near[:1][0][:1] if (self.phrases or self.near) else ()
        return repr(first[0]) if first else "(empty)"

    @property
    def target(self) -> str:
        """What the rule implies, as a code (``red_flag.chest_pain``, ``intent.ready_to_schedule`` …)."""
        parts = []
        if self.red_flag:
            parts.append(f"red_flag.{self.red_flag}")
        if self.intent:
            parts.append(f"intent.{self.intent.value}")
        if self.need:
            parts.append(f"need.{self.need.value}")
        if self.decline:
            parts.append("decline")
        if self.opt_out:
            parts.append("opt_out." + "+".join(sorted(self.opt_out)))
        if self.service:
            parts.append(f"service.{self.service}")
        if self.speaks:
            parts.append(f"speaks.{self.speaks}")
        return ",".join(parts)

    @property
    def counts_negation(self) -> bool:
        return self.negatable if self.negatable is not None else (self.intent is not None and not self.red_flag)

    def pattern(self) -> Pattern:
        return self._pattern if self._pattern is not None else self._compile()

    def _compile(self) -> Pattern:
        unless = tuple(compile_phrase(p, self.language) for p in self.unless)
        extra = {"unless": unless, "scope": self.scope, "not_followed_by": frozenset(map(fold, self.not_followed_by))}
        if self.phrases:
            return Pattern(phrases=tuple(compile_phrase(p, self.language) for p in self.phrases), **extra)  # type: ignore[arg-type]
        return Pattern(
            near=tuple(tuple(compile_phrase(p, self.language) for p in group) for group in self.near),
            within=self.within,
            **extra,  # type: ignore[arg-type]
        )


class TriageRules:
    """A compiled set of rules.

    Args:
        rules: the rules.
        clinic_language: the language staff speak by default.
        payers: insurance plan names that mean the inquiry is about insurance.
        spanish_markers, english_markers: common words that tell which language a text is in.
    """

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        clinic_language: str = "en",
        spanish_markers: Iterable[str] = (),
        english_markers: Iterable[str] = (),
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        if not self.rules:
            raise ValueError("triage needs at least one rule")
        self.clinic_language = clinic_language
        self.spanish_markers = frozenset(fold(m) for m in spanish_markers)
        self.english_markers = frozenset(fold(m) for m in english_markers)
        self._matcher = Matcher([r.pattern() for r in self.rules])
        self._analyzer = Analyzer(self._matcher.vocabulary(), self._matcher.prefixes())

    def fire(self, text: str) -> list[tuple[Rule, str, bool]]:
        """``(rule, matched rule text, negated)`` for every rule that fires on ``text``, in rule order.

        An opt-out that goes on to say when calls are fine ("don't call me until after 7", "no me
        llamen en la mañana") is a request about timing, not an opt-out: it does not fire."""
        matches = self._matcher.run(self._analyzer.analyse(text))
        out = []
        for index in sorted(matches):
            rule = self.rules[index]
            found = matches[index]
            if rule.opt_out:
                found = [m for m in found if not _timing(m.following)]
                if not found:
                    continue
            plain = [m for m in found if not m.negated]
            chosen = plain[0] if plain else found[0]
            out.append((rule, chosen.label, not plain))
        return out

    def language_of(self, text: str, fired: Sequence[Rule] = ()) -> str | None:
        """ "es" or "en" by the common words of each language (and, when there are none, by the
        language of the rules that fired), or None when the text says too little."""
        words = fold(text).split()
        spanish = sum(1 for w in words if w in self.spanish_markers)
        english = sum(1 for w in words if w in self.english_markers)
        if not spanish and not english:
            spanish = sum(1 for r in fired if r.language == "es")
            english = sum(1 for r in fired if r.language == "en")
        if spanish >= 2 and spanish > english:
            return "es"
        if english >= 1 and english >= spanish:
            return "en"
        if spanish >= 1:
            return "es"
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class TriageInput:
    """What triage looks at.

    Attributes:
        intent_hint: the intent a structured form field gave (e.g. a "reason for inquiry" select).
        needs_hint: needs from structured fields (an "I need an interpreter" checkbox …).
        preferred_language: the language the patient chose, if the form asked.
        channel: the inquiry's channel.
        referral_source: set when a partner or person referred the patient.
        service: the service chosen on a form, if any.
        scheduling_fields: the form carried scheduling answers (a preferred time or day).
        reply_via: the message is the patient's reply on this contact channel.
        text: the patient's own words.
        received_at: when it arrived, aware (requested callback times are read relative to it).
        timezone: the patient's IANA time zone.
    """

    intent_hint: Intent | None = None
    needs_hint: frozenset[Need] = frozenset()
    preferred_language: str | None = None
    channel: Channel = Channel.OTHER
    referral_source: str | None = None
    service: str | None = None
    scheduling_fields: bool = False
    reply_via: ContactChannel | None = None
    text: str = ""
    received_at: datetime | None = None
    timezone: str = "America/Chicago"


@dataclass(frozen=True, slots=True, kw_only=True)
class TriageResult:
    """What triage decided.

    Attributes:
        intent: the primary intent, or None when it cannot be determined (→ next action "triage").
        needs: accompanying needs.
        urgent: a red flag fired.
        red_flags: the red-flag categories that fired.
        fired: ids of the rules that fired (``<target>:<language>:<rule text>``).
        language: the language to answer in.
        intent_source: "form", "text", "channel" or "none".
        decline: the person declines care: close the lead as declined.
        opt_out: contact channels whose consent the message revokes.
        callback: the time the person asked to be called, if they did.
        service: the clinic service the words name, if any (a service id).
        asks_contact: the message asks to be reached another way ("don't text, call me instead").
    """

    intent: Intent | None
    needs: frozenset[Need] = field(default_factory=frozenset)
    urgent: bool = False
    red_flags: tuple[str, ...] = ()
    fired: tuple[str, ...] = ()
    language: str = "en"
    intent_source: str = "none"
    decline: bool = False
    opt_out: frozenset[ContactChannel] = frozenset()
    callback: CallbackWindow | None = None
    service: str | None = None
    asks_contact: bool = False

    @property
    def opt_out_only(self) -> bool:
        """The message revokes consent and asks for nothing else (a requested callback time or a
        need is asking for something: "call me tomorrow at 3, stop texting me" is an inquiry)."""
        return (
            bool(self.opt_out)
            and not self.urgent
            and not self.decline
            and self.intent is None
            and self.callback is None
            and not self.needs - {Need.LANGUAGE}  # writing in Spanish is not asking for something
            and not self.asks_contact
        )


def triage(item: TriageInput, rules: TriageRules) -> TriageResult:
    """Decide intent, needs, urgency, decline, opt-out and callback for one inquiry."""
    fired = rules.fire(item.text) if item.text.strip() else []
    counted = [(rule, label) for rule, label, negated in fired if not (negated and rule.counts_negation)]
    red_flags = tuple(dict.fromkeys(r.red_flag for r, _ in counted if r.red_flag))
    urgent = bool(red_flags)

    needs = set(item.needs_hint)
    needs.update(r.need for r, _ in counted if r.need is not None)
    scores: dict[Intent, int] = {}
    for rule, _ in counted:
        if rule.intent is not None:
            scores[rule.intent] = max(scores.get(rule.intent, 0), rule.weight)
    decline_weight = max((r.weight for r, _ in counted if r.decline), default=0)
    opt_out = _opt_out(item, [r for r, _ in counted if r.opt_out])

    language = (item.preferred_language or "").lower() or None
    asked = next((r.speaks for r, _ in counted if r.speaks), None)
    if language is None:
        language = asked or rules.language_of(item.text, [r for r, _ in counted]) or rules.clinic_language

    best = _best(scores)
    best_weight = scores.get(best, 0) if best is not None else 0
    decline = not urgent and decline_weight > 0 and decline_weight > best_weight
    if not decline and opt_out >= frozenset(ContactChannel) and best_weight < 2:
        decline = True  # "stop contacting me": nobody may reach them, and they asked for nothing

    intent: Intent | None
    source = "text"
    if urgent:
        intent = Intent.CLINICAL_QUESTION
    elif item.intent_hint is not None:
        intent, source = item.intent_hint, "form"
    elif decline:
        intent = None  # nothing left to sort: the lead closes as declined
    else:
        intent = best
        if intent is None and (item.service or item.scheduling_fields):
            intent, source = Intent.READY_TO_SCHEDULE, "form"
        if intent is None and not opt_out:
            intent, source = _from_channel(item, language, rules.clinic_language)
        if intent is None and any(r.need is Need.CLINICAL_CONCERN for r, _ in counted):
            # Symptoms told without a question ("my son has had a cough and fever for three days"):
            # a coordinator hands them to the clinical team, who decide between advice and a visit.
            intent, source = Intent.CLINICAL_QUESTION, "text"
    if intent is None:
        source = "none"

    if language != rules.clinic_language or (asked and asked != rules.clinic_language):
        needs.add(Need.LANGUAGE)
    if urgent:
        needs.add(Need.CLINICAL_CONCERN)
    if intent is not None and intent in INTENT_NEEDS:
        needs.add(INTENT_NEEDS[intent])
    callback = None
    if item.received_at is not None and item.text.strip() and not urgent and not decline:
        callback = requested_callback(item.text, received_at=item.received_at, timezone=item.timezone)
    service = next((r.service for r, _ in counted if r.service), None)
    return TriageResult(
        service=service,
        intent=intent,
        needs=frozenset(needs),
        urgent=urgent,
        red_flags=red_flags,
        fired=tuple(dict.fromkeys(f"{r.target}:{r.language}:{label}" for r, label in counted)),
        language=language,
        intent_source=source,
        decline=decline,
        opt_out=opt_out,
        callback=callback,
        asks_contact=bool(opt_out) and asks_for_contact(item.text),
    )


#: Asking to be reached ("call me instead", "llámenme"), in folded words.
_CONTACT_ASKS = (
    ("call", "me"),
    ("text", "me"),
    ("email", "me"),
    ("reach", "me"),
    ("contact", "me"),
    ("call", "back"),
    ("phone", "me"),
    ("llamenme",),
    ("llameme",),
    ("marquenme",),
    ("escribanme",),
    ("mandenme",),
    ("contactenme",),
    ("me", "pueden", "llamar"),
    ("me", "llaman"),
    ("prefiero", "llamada"),
    ("prefiero", "mensaje"),
    ("prefiero", "correo"),
)
#: Words that, just before an ask, make it the opposite ("stop calling me", "no me llamen").
_NOT_ASKING = NEGATORS | {"stop", "quit", "dejen"}


def asks_for_contact(text: str) -> bool:
    """Whether ``text`` asks to be called, texted or written to — not "stop calling me" or "do not
    text me": with an opt-out, such a message is an inquiry on the channels left open."""
    for clause in clauses_of(re.sub(r"[,;:]", ".", text)):  # "no texts, call me": the ask has its own clause
        words = words_of(clause)
        for i in range(len(words)):
            for ask in _CONTACT_ASKS:
                if tuple(words[i : i + len(ask)]) == ask and not _NOT_ASKING & set(words[max(0, i - 3) : i]):
                    return True
    return False


def _timing(following: Sequence[str]) -> bool:
    return bool(following) and (following[0] in TIME_QUALIFIERS or tuple(following[:2]) in TIME_QUALIFIER_PAIRS)


def _best(scores: Mapping[Intent, int]) -> Intent | None:
    if not scores:
        return None
    top = max(scores.values())
    return next(i for i in INTENT_PRIORITY if scores.get(i) == top)


def _from_channel(item: TriageInput, language: str, clinic_language: str) -> tuple[Intent | None, str]:
    """The intent a channel implies when the words say none."""
    if item.channel is Channel.REFERRAL_PARTNER or item.referral_source:
        return Intent.REFERRAL_COORDINATION, "channel"
    if item.channel is Channel.APPOINTMENT_REQUEST:
        return Intent.READY_TO_SCHEDULE, "channel"
    if item.channel is Channel.WEBINAR:
        return Intent.NOT_READY_YET, "channel"
    return None, "none"


def _opt_out(item: TriageInput, rules: Sequence[Rule]) -> frozenset[ContactChannel]:
    """The channels a message revokes: what its rules name, and a STOP-style reply."""
    targets: set[str] = set()
    for rule in rules:
        targets |= rule.opt_out
    if item.text.strip() and classify_reply(item.text) is KeywordReply.STOP:
        targets.add("reply")
    out: set[ContactChannel] = set()
    for target in targets:
        if target == "all":
            out |= set(ContactChannel)
        elif target == "reply":
            out |= _reply_channels(item)
        else:
            out.add(ContactChannel(target))
    if ContactChannel.CALL in out:
        out.add(ContactChannel.VOICEMAIL)  # "don't call me" leaves no voicemail either
    return frozenset(out)


def _reply_channels(item: TriageInput) -> set[ContactChannel]:
    """The channel a reply came by: as the sender said, or as the channel implies, else all."""
    if item.reply_via is not None:
        return {item.reply_via}
    if item.channel is Channel.NEWSLETTER_REPLY:
        return {ContactChannel.EMAIL}
    return set(ContactChannel)


def rules_from_config(
    entries: Iterable[Mapping[str, object]],
    *,
    clinic_language: str = "en",
) -> TriageRules:
    """Build :class:`TriageRules` from rule entries in config form (see ``nurture.triage_rules``)."""
    from nurture.triage_rules import ENGLISH_MARKERS, SPANISH_MARKERS

    return TriageRules(
        (rule_from_entry(e) for e in entries),
        clinic_language=clinic_language,
        spanish_markers=SPANISH_MARKERS,
        english_markers=ENGLISH_MARKERS,
    )


def rule_from_entry(entry: Mapping[str, object]) -> Rule:
    """One rule from its config form::

        {"lang": "en", "intent": "ready_to_schedule", "weight": 2, "any": ["appointment", "book"]}
        {"lang": "en", "red_flag": "chest_pain", "near": [["chest"], ["pain", "pressure"]], "within": 4}

    Raises:
        ValueError: naming what is wrong.
    """
    known = {
        "lang", "any", "near", "within", "red_flag", "intent", "weight", "need", "decline", "opt_out", "service",
        "negatable", "unless", "scope", "not_followed_by", "speaks",
    }  # fmt: skip
    if unknown := set(entry) - known:
        raise ValueError(f"unknown key(s) {sorted(unknown)}; use {sorted(known)}")
    language = str(entry.get("lang", "en"))
    phrases = _strings(entry.get("any", ()), "any")
    near = tuple(_strings(group, "near") for group in _list(entry.get("near", ()), "near"))
    intent = entry.get("intent")
    need = entry.get("need")
    try:
        return Rule(
            language=language,
            phrases=phrases,
            near=near,
            within=int(entry.get("within", 4)),  # type: ignore[call-overload]
            red_flag=str(entry["red_flag"]) if entry.get("red_flag") else None,
            intent=Intent(str(intent)) if intent else None,
            weight=int(entry.get("weight", 2)),  # type: ignore[call-overload]
            need=Need(str(need)) if need else None,
            decline=bool(entry.get("decline", False)),
            opt_out=frozenset(_strings(entry.get("opt_out", ()), "opt_out")),
            service=str(entry["service"]) if entry.get("service") else None,
            speaks=str(entry["speaks"]) if entry.get("speaks") else None,
            negatable=bool(entry["negatable"]) if "negatable" in entry else None,
            unless=_strings(entry.get("unless", ()), "unless"),
            scope=str(entry.get("scope", "clause")),
            not_followed_by=frozenset(_strings(entry.get("not_followed_by", ()), "not_followed_by")),
        )
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def _list(value: object, key: str) -> list[object]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{key} must be a list")
    return list(value)


def _strings(value: object, key: str) -> tuple[str, ...]:
    items = _list(value, key)
    if not all(isinstance(v, str) for v in items):
        raise ValueError(f"{key} must be a list of strings")
    return tuple(str(v) for v in items)


@cache
def default_triage_rules() -> TriageRules:
    """The built-in rules alone, compiled on first use (compiling them takes a few tenths of a
    second: not at import, which every command and process pays)."""
    from nurture.triage_rules import DEFAULT_RULES

    return rules_from_config(DEFAULT_RULES)
