"""Matching rule phrases against real writing: word stems, abbreviations, typos and negation.

Patients write "apointment", "cant breath", "appt tmrw", "me duele el pecho", "dolor fuerte en el
pecho" and "I don't need an appointment yet". A rule lists a few plain phrases; this module makes
them match the ways people actually write them:

- **Folding**: lower case, accents removed, punctuation gone (``nurture.text.fold``); the text is
  cut into clauses at sentence punctuation, line breaks and "but"/"pero", so that a negation or a
  "near" rule never reaches across a sentence.
- **Contractions and abbreviations** become words through one table (``don't`` → ``do not``,
  ``appt`` → ``appointment``, ``tmrw`` → ``tomorrow``, ``xq`` → ``porque``, ``p/`` → ``para``).
- **Stems**: each rule word is compared by its Snowball stem in the rule's language (the
  ``snowballstemmer`` package, with PyStemmer's C implementation when installed), so "breathing",
  "breathe" and "breathed" are one word, and "sangrando", "sangrado" and "sangre" another. A word
  ending in ``*`` matches any word that starts with it (``suicid*``).
- **Typos**: a word of six letters or more that is not in any rule, not a common word and not
  already caught by a rule's ``word*`` prefix is replaced by the rule word with the same first
  letter that it is one edit away from (two edits from eleven letters on), by optimal string
  alignment distance from ``rapidfuzz`` (a transposition counts as one edit). Real words one or two
  letters apart ("convulsion", "concussion") are the reason the bar is that high.
- **Near**: a rule may ask for several word groups within a few words of each other in one clause,
  in any order ("pain … chest", "pecho … dolor").
- **Negation**: a match preceded within three words by "not", "no", "never", "without", "nunca",
  "sin" … is marked negated; whether that matters is the caller's decision (red flags ignore it).

Pure and deterministic: no I/O; the caches only remember earlier answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA

from nurture.text import fold

__all__ = ["Analyzer", "Clause", "Match", "Matcher", "Pattern", "Phrase", "Word", "compile_phrase"]

#: Clause breaks: sentence punctuation and line breaks (before folding removes them), and the
#: words that turn a sentence around.
_CLAUSE_BREAK = re.compile(r"[.!?;\n\r¡¿]+|\s[-–—]\s|,\s*(?:but|pero|aunque|although|though)\b", re.IGNORECASE)
_TURNS = frozenset({"but", "pero", "aunque", "although", "though", "however", "sin embargo"})

#: Contractions and abbreviations, folded form → words. Short forms that are also ordinary words
#: ("yo", "mi", "pt" for patient or physical therapy) are left alone.
ABBREVIATIONS: Mapping[str, tuple[str, ...]] = {
    # English contractions (apostrophe or not)
    "don't": ("do", "not"), "dont": ("do", "not"), "doesn't": ("does", "not"), "doesnt": ("does", "not"),
    "didn't": ("did", "not"), "didnt": ("did", "not"), "can't": ("can", "not"), "cant": ("can", "not"),
    "cannot": ("can", "not"), "couldn't": ("could", "not"), "couldnt": ("could", "not"),
    "won't": ("will", "not"), "wouldn't": ("would", "not"), "wouldnt": ("would", "not"),
    "isn't": ("is", "not"), "isnt": ("is", "not"), "aren't": ("are", "not"), "arent": ("are", "not"),
    "wasn't": ("was", "not"), "wasnt": ("was", "not"), "haven't": ("have", "not"), "havent": ("have", "not"),
    "hasn't": ("has", "not"), "hasnt": ("has", "not"), "shouldn't": ("should", "not"),
    "i'm": ("i", "am"), "im": ("i", "am"), "i've": ("i", "have"), "ive": ("i", "have"), "i'll": ("i", "will"),
    "i'd": ("i", "would"), "it's": ("it", "is"), "that's": ("that", "is"), "he's": ("he", "is"),
    "she's": ("she", "is"), "we're": ("we", "are"), "they're": ("they", "are"), "you're": ("you", "are"),
    "what's": ("what", "is"), "there's": ("there", "is"), "let's": ("let", "us"),
    # English texting and clinic shorthand
    "appt": ("appointment",), "appts": ("appointments",), "apt": ("appointment",), "apmt": ("appointment",),
    "dr": ("doctor",), "drs": ("doctors",), "doc": ("doctor",), "docs": ("doctors",),
    "tmrw": ("tomorrow",), "tmr": ("tomorrow",), "tmw": ("tomorrow",), "tmrow": ("tomorrow",),
    "tomm": ("tomorrow",), "2morrow": ("tomorrow",), "2moro": ("tomorrow",), "tom": ("tomorrow",),
    "pls": ("please",), "plz": ("please",), "plse": ("please",), "u": ("you",), "ur": ("your",),
    "r": ("are",), "b4": ("before",), "w": ("with",), "wo": ("without",), "thx": ("thanks",),
    "ty": ("thank", "you"), "abt": ("about",), "bc": ("because",), "cuz": ("because",), "coz": ("because",),
    "rx": ("prescription",), "meds": ("medication",), "med": ("medication",), "ins": ("insurance",),
    "info": ("information",), "wk": ("week",), "wks": ("weeks",), "yrs": ("years",), "yr": ("year",),
    "mo": ("month",), "mos": ("months",), "hrs": ("hours",), "hr": ("hour",), "min": ("minutes",),
    "mins": ("minutes",), "nxt": ("next",), "avail": ("available",), "tele": ("telehealth",),
    "pcp": ("primary", "care", "doctor"), "er": ("emergency", "room"), "bcbs": ("blue", "cross"),
    "uhc": ("unitedhealthcare",), "ppo": ("ppo",), "hmo": ("hmo",), "fyi": ("for", "your", "information"),
    "idk": ("i", "do", "not", "know"), "dunno": ("do", "not", "know"), "wanna": ("want", "to"),
    "gonna": ("going", "to"), "gotta": ("have", "to"), "yall": ("you", "all"), "y'all": ("you", "all"),
    "lemme": ("let", "me"), "gimme": ("give", "me"),
    "asap": ("as", "soon", "as", "possible"), "pm": ("pm",), "nite": ("night",), "tonite": ("tonight",),
    "thru": ("through",), "nvm": ("never", "mind"), "chestpain": ("chest", "pain"), "heartattack": ("heart", "attack"),
    "breth": ("breath",), "brethe": ("breathe",), "cantbreathe": ("can", "not", "breathe"), "kms": ("kill", "myself"),
    "unalive": ("kill",), "sewerslide": ("suicide",), "rn": ("right", "now"),
    # Spanish texting shorthand
    "q": ("que",), "k": ("que",), "ke": ("que",), "xq": ("porque",), "pq": ("porque",), "porq": ("porque",),
    "xk": ("porque",), "tb": ("tambien",), "tmb": ("tambien",), "tbn": ("tambien",), "p": ("para",),
    "pa": ("para",), "pa'": ("para",), "x": ("por",), "d": ("de",), "dra": ("doctora",),
    "dr.": ("doctor",), "cel": ("celular",), "xfa": ("por", "favor"), "xfavor": ("por", "favor"),
    "porfa": ("por", "favor"), "porfis": ("por", "favor"), "msj": ("mensaje",), "msjs": ("mensajes",),
    "tqm": ("te", "quiero"), "bb": ("bebe",), "bby": ("baby",),
    "hno": ("hermano",), "hna": ("hermana",), "sra": ("senora",), "sr": ("senor",),
}  # fmt: skip

#: Words that negate what follows them (within three words, in one clause).
NEGATORS = frozenset({"not", "no", "never", "without", "nunca", "sin", "ni", "tampoco", "jamas", "nope"})
#: A negator followed by one of these is a hedge ("not sure if", "no se si"), not a negation.
_HEDGES = frozenset({"sure", "certain", "know", "seguro", "segura", "se", "estoy"})
_NEGATION_REACH = 3


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Common English and Spanish words (``nurture/data/common_words.txt``, its source named there):
    a word a patient spelled right is never "corrected" toward a rule word ("cooking" is not
    "choking"). Read once, when the first unknown word needs a look."""
    text = files("nurture").joinpath("data/common_words.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


_STEMMERS = {"en": snowballstemmer.stemmer("english"), "es": snowballstemmer.stemmer("spanish")}
LANGUAGES: tuple[str, ...] = tuple(_STEMMERS)


@lru_cache(maxsize=65536)
def stem(word: str, language: str) -> str:
    """The Snowball stem of folded ``word`` in ``language`` ("en" or "es")."""
    return str(_STEMMERS[language].stemWord(word))


_NUMBER_UNIT = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")


#: Short forms left as they are after these words ("walk-ins" are not "walk insurance").
_NOT_AFTER: Mapping[str, frozenset[str]] = {
    "ins": frozenset({"walk", "check", "drop", "sign", "log", "plug", "add", "fill", "stand", "break", "move"}),
}


def words_of(folded: str) -> list[str]:
    """Folded text → words, with contractions and abbreviations written out, and numbers cut from
    the units written against them ("3wk" → "3 wk", "101f" → "101 f")."""
    out: list[str] = []
    for word in _NUMBER_UNIT.sub(" ", folded).split():
        after = _NOT_AFTER.get(word)
        expanded = None if after is not None and out and out[-1] in after else ABBREVIATIONS.get(word)
        if expanded is None and "'" in word:
            bare = word.replace("'", "")
            expanded = ABBREVIATIONS.get(bare, (bare,) if bare else ())
        out.extend(expanded if expanded is not None else (word,))
    return out


def clauses_of(text: str) -> list[str]:
    """``text`` cut into clauses (see the module docstring), each folded."""
    return [f for part in _CLAUSE_BREAK.split(text) if (f := fold(part))]


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a rule phrase: compared by stem in ``language`` (exactly, for words of three
    letters or fewer or written ``=word``), or as a prefix when the rule wrote ``word*``."""

    text: str
    language: str
    prefix: bool = False
    exact: bool = False
    #: What a clause token must show: the prefix, or the stem (the word itself when short or
    #: marked exact with a leading ``=``). Computed once: matching compares it millions of times.
    key: str = field(init=False, compare=False, repr=False)
    literal: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        literal = self.exact or len(self.text) <= 3
        object.__setattr__(self, "literal", literal)
        object.__setattr__(self, "key", self.text if self.prefix or literal else stem(self.text, self.language))


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive words."""

    words: tuple[Word, ...]
    text: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        label = " ".join(("=" if w.exact else "") + w.text + ("*" if w.prefix else "") for w in self.words)
        object.__setattr__(self, "text", label)


def compile_phrase(phrase: str, language: str) -> Phrase:
    """A rule phrase as the analyser compares it ("can't breathe" → can, not, breath*stem)."""
    raw = phrase.strip()
    words: list[Word] = []
    marked = raw.replace("*", " STARMARK ").replace("=", "EXACTMARK ")
    tokens = words_of(fold(marked).replace(" starmark", "*").replace("exactmark ", "="))
    for token in tokens:
        prefix = token.endswith("*")
        exact = token.startswith("=")
        body = token.rstrip("*").lstrip("=")
        if not body:
            continue
        if prefix and len(body) < 3:
            raise ValueError(f"phrase {phrase!r}: a prefix needs at least three letters")
        words.append(Word(text=body, language=language, prefix=prefix, exact=exact))
    if not words:
        raise ValueError(f"phrase {phrase!r} has no words")
    return Phrase(tuple(words))


@dataclass(frozen=True, slots=True)
class Pattern:
    """What a rule looks for: any of its phrases, or (``near``) one phrase of every group within
    ``within`` words of each other in one clause (or anywhere in the message, ``scope="message"``) —
    and no ``unless`` phrase in that clause, nor one of ``not_followed_by`` in the two words after it."""

    phrases: tuple[Phrase, ...] = ()
    near: tuple[tuple[Phrase, ...], ...] = ()
    within: int = 6
    unless: tuple[Phrase, ...] = ()
    scope: str = "clause"
    not_followed_by: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if bool(self.phrases) == bool(self.near):
            raise ValueError("a pattern has either phrases or near groups")
        if self.near and len(self.near) < 2:
            raise ValueError("a near pattern needs at least two groups")
        if self.within < 0:
            raise ValueError("within must not be negative")
        if self.scope not in ("clause", "message"):
            raise ValueError("scope is 'clause' or 'message'")

    @property
    def language(self) -> str:
        first = self.phrases[0] if self.phrases else self.near[0][0]
        return first.words[0].language


@dataclass(frozen=True, slots=True)
class Match:
    """Where a pattern matched: the phrase text(s) that matched (rule text, never the patient's), the
    clause, whether a negation came just before, and the few words right after it."""

    label: str
    clause: int
    start: int
    negated: bool
    following: tuple[str, ...] = ()


@dataclass(slots=True)
class Clause:
    """One analysed clause: its tokens, and each token's stem per language."""

    tokens: list[str]
    stems: dict[str, list[str]]

    def key_at(self, index: int, word: Word) -> bool:
        token = self.tokens[index]
        if word.prefix:
            return token.startswith(word.text)
        if word.literal:
            return token == word.text
        return self.stems[word.language][index] == word.key or token == word.text

    def phrase_at(self, index: int, phrase: Phrase) -> bool:
        words = phrase.words
        if index + len(words) > len(self.tokens):
            return False
        for k, word in enumerate(words):  # noqa: SIM110 - a loop: all() over a generator is slower here
            if not self.key_at(index + k, word):
                return False
        return True

    def negated_before(self, index: int) -> bool:
        for k in range(max(0, index - _NEGATION_REACH), index):
            if self.tokens[k] in NEGATORS and not (k + 1 < len(self.tokens) and self.tokens[k + 1] in _HEDGES):
                return True
        return False


class Analyzer:
    """Turns text into clauses of tokens (typos corrected toward ``vocabulary``) with their stems.

    Args:
        vocabulary: every word the rules use (folded); a text word near one of them is read as it.
    """

    def __init__(self, vocabulary: Iterable[str], prefixes: Iterable[str] = ()) -> None:
        self.vocabulary = frozenset(w for w in vocabulary if w.isalpha())
        self._prefixes = tuple(sorted(set(prefixes)))
        by_length: dict[int, list[str]] = {}
        for word in self.vocabulary:
            by_length.setdefault(len(word), []).append(word)
        self._by_length = {n: sorted(ws) for n, ws in by_length.items()}
        self._correct = lru_cache(maxsize=65536)(self._correct_uncached)

    def analyse(self, text: str) -> list[Clause]:
        out = []
        for folded in clauses_of(text):
            tokens = [self._correct(t) for t in words_of(folded) if t not in _TURNS]
            if tokens:
                out.append(Clause(tokens, {lang: [stem(t, lang) for t in tokens] for lang in LANGUAGES}))
        return out

    def _correct_uncached(self, token: str) -> str:
        size = len(token)
        if size < 6 or token in self.vocabulary or not token.isalpha() or token in common_words():
            return token
        if token.startswith(self._prefixes):
            return token
        edits = 1 if size < 11 else 2
        candidates = [
            w for n in range(size - edits, size + edits + 1) for w in self._by_length.get(n, ()) if w[0] == token[0]
        ]
        if not candidates:
            return token
        best = process.extractOne(token, candidates, scorer=OSA.distance, score_cutoff=edits)
        return str(best[0]) if best is not None else token


#: The group index under which a pattern's ``unless`` phrases are found.
UNLESS = -2


class Matcher:
    """Finds, in one pass over the words of a text, every place each of ``patterns`` matches.

    Phrases are indexed by their first word (its stem per language, the word itself when short, or
    the first three letters of a prefix), so the cost grows with the length of the text, not with
    the number of rules.
    """

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns = tuple(patterns)
        #: (pattern index, group index or -1, phrase) by the anchor of the first word, then by the
        #: second word (so "can not breathe" is tried only where "can" is followed by "not").
        self._by_key: dict[tuple[str, str], _Bucket] = {}
        self._by_exact: dict[str, _Bucket] = {}
        self._by_prefix: dict[str, _Bucket] = {}
        for index, pattern in enumerate(self.patterns):
            groups = [(-1, pattern.phrases)] if pattern.phrases else list(enumerate(pattern.near))
            groups.append((UNLESS, pattern.unless))  # vetoes are found in the same pass
            for group, phrases in groups:
                for phrase in phrases:
                    first = phrase.words[0]
                    if first.prefix:
                        bucket = self._by_prefix.setdefault(first.text[:3], _Bucket())
                    elif first.literal:
                        bucket = self._by_exact.setdefault(first.text, _Bucket())
                    else:
                        bucket = self._by_key.setdefault((first.language, first.key), _Bucket())
                    bucket.add((index, group, phrase))

    def prefixes(self) -> set[str]:
        """Every ``word*`` prefix the patterns use."""
        return {w.text for p in self.patterns for ph in _phrases(p) for w in ph.words if w.prefix}

    def vocabulary(self) -> set[str]:
        """Every word the patterns use (prefixes and exact words excluded)."""
        return {w.text for p in self.patterns for ph in _phrases(p) for w in ph.words if not (w.prefix or w.exact)}

    def run(self, clauses: Sequence[Clause]) -> dict[int, list[Match]]:
        """Matches by pattern index (patterns that did not match are absent)."""
        out: dict[int, list[Match]] = {}
        across: dict[int, dict[int, list[tuple[int, int, str]]]] = {}
        offset = 0
        for ci, clause in enumerate(clauses):
            for index, groups in self._spots(clause).items():
                pattern = self.patterns[index]
                if pattern.scope == "message":
                    for group, items in groups.items():
                        across.setdefault(index, {}).setdefault(group, []).extend(
                            (s + offset, e + offset, label) for s, e, label in items
                        )
                elif (found := _decide(pattern, groups, clause, ci)) is not None:
                    out.setdefault(index, []).append(found)
            offset += len(clause.tokens)
        if across:
            whole = Clause(
                [t for c in clauses for t in c.tokens],
                {lang: [st for c in clauses for st in c.stems[lang]] for lang in LANGUAGES},
            )
            for index, groups in across.items():
                if (found := _decide(self.patterns[index], groups, whole, 0)) is not None:
                    out.setdefault(index, []).append(found)
        return out

    def _spots(self, clause: Clause) -> dict[int, dict[int, list[tuple[int, int, str]]]]:
        """Where each phrase of each pattern occurs in ``clause``: pattern → group → (start, end, text)."""
        spots: dict[int, dict[int, list[tuple[int, int, str]]]] = {}
        tokens, stems = clause.tokens, clause.stems
        last = len(tokens) - 1
        for i, token in enumerate(tokens):
            buckets = [self._by_exact.get(token), self._by_prefix.get(token[:3])]
            buckets += [self._by_key.get((language, stems[language][i])) for language in LANGUAGES]
            for bucket in buckets:
                if bucket is None:
                    continue
                for index, group, phrase in bucket.candidates(clause, i + 1) if i < last else bucket.single:
                    if clause.phrase_at(i, phrase):
                        spots.setdefault(index, {}).setdefault(group, []).append(
                            (i, i + len(phrase.words), phrase.text)
                        )
        return spots


Entry = tuple[int, int, Phrase]


class _Bucket:
    """The phrases that start with one word, sorted by their second word."""

    __slots__ = ("by_second", "loose", "single")

    def __init__(self) -> None:
        self.single: list[Entry] = []  # one-word phrases
        self.loose: list[Entry] = []  # second word a prefix: tried wherever the first matches
        self.by_second: dict[tuple[str, str], list[Entry]] = {}

    def add(self, entry: Entry) -> None:
        words = entry[2].words
        if len(words) == 1:
            self.single.append(entry)
        elif words[1].prefix:
            self.loose.append(entry)
        else:
            second = words[1]
            anchor = ("", second.text) if second.literal else (second.language, second.key)
            self.by_second.setdefault(anchor, []).append(entry)

    def candidates(self, clause: Clause, j: int) -> list[Entry]:
        """The phrases that may match where the next word is ``clause.tokens[j]``."""
        out = self.single + self.loose
        if self.by_second:
            out += self.by_second.get(("", clause.tokens[j]), ())
            for language in LANGUAGES:
                out += self.by_second.get((language, clause.stems[language][j]), ())
        return out


def _decide(
    pattern: Pattern, groups: Mapping[int, list[tuple[int, int, str]]], clause: Clause, ci: int
) -> Match | None:
    """The match ``pattern`` makes from the phrase spots found in ``clause``, if any."""
    if UNLESS in groups:
        return None
    if pattern.phrases:
        start, end, label = min(groups[-1], key=lambda spot: (spot[0], -spot[1]))  # earliest, then longest
        labels = [label]
    else:
        if len(groups) < len(pattern.near):
            return None
        best = _closest([groups[g] for g in range(len(pattern.near))], pattern.within)
        if best is None:
            return None
        start, end, labels = best
    following = tuple(clause.tokens[end : end + 4])
    if pattern.not_followed_by and set(following[:2]) & pattern.not_followed_by:
        return None
    return Match(" ~ ".join(labels), ci, start, clause.negated_before(start), following)


def _phrases(pattern: Pattern) -> Iterable[Phrase]:
    yield from pattern.phrases
    for group in pattern.near:
        yield from group


def _closest(hits: list[list[tuple[int, int, str]]], within: int) -> tuple[int, int, list[str]] | None:
    """One spot per group, the whole span at most ``within`` words apart, or None."""
    for anchor in hits[0]:
        chosen = [anchor]
        for group in hits[1:]:
            best = min(group, key=lambda s: abs(s[0] - anchor[0]))
            chosen.append(best)
        lo = min(c[0] for c in chosen)
        hi = max(c[1] for c in chosen)
        # the gap between the groups' words, not counting the words themselves
        if hi - lo - sum(c[1] - c[0] for c in chosen) <= within:
            return lo, hi, [c[2] for c in chosen]
    return None
