"""Who is who: the rule that decides whether an inquiry comes from a person the hub already has a
lead for — the rule a coordinator would apply by hand.

- The same **email address** is the same person.
- The same **E.164 phone** with a **compatible name** is the same person. Names are compatible when
  either is missing, or the first names are the same name (typos, accents and nicknames allowed:
  "Bob" and "Robert", "Jon" and "John", "José" and "Jose") and the last names do not contradict
  each other ("García" and "García López").
- The same phone with a **different name** (and no email in common) is a different person who may
  share a household phone: a new lead, linked to the others as "possibly the same household" for a
  coordinator to merge or keep apart.

Names are compared with two well-kept libraries rather than a hand-written distance:
``rapidfuzz`` (normalised Indel similarity, the same measure as Python's ``difflib`` ratio, in C)
for typos, and ``nicknames`` (a hand-curated English name/nickname table) for "Bob"/"Robert". The
thresholds err on the side of *not* merging: two people on one lead share consent and PHI, which is
worse than a duplicate a coordinator merges with one click.

Pure: no I/O; the store side is ``hub.inbound.identity``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from nicknames import NickNamer
from rapidfuzz.fuzz import ratio, token_set_ratio

from nurture.consent import ConsentLedger
from nurture.vocab import ConsentState, ContactChannel

__all__ = ["Candidate", "Match", "MatchKind", "decide", "merged_consent", "names_compatible"]

#: Least rapidfuzz ratio (0-100) at which two first names are one name typed differently
#: ("Jon"/"John" 86, "Catherine"/"Katherine" 89; "Maria"/"Mario" 80 and "Marie"/"Maria" 80 are not).
FIRST_NAME_SIMILARITY = 85.0
#: The same for last names, compared token by token ("García López" contains "Garcia": 100).
LAST_NAME_SIMILARITY = 85.0


def _plain(text: str) -> str:
    """Lower case, accents and punctuation removed, spaces collapsed: "José-Luis " → "jose luis"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.split())


@lru_cache(maxsize=1)
def _namer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=4096)
def _forms(name: str) -> frozenset[str]:
    """A first name with its nicknames and the names it is a nickname of."""
    namer = _namer()
    return frozenset({name, *namer.nicknames_of(name), *namer.canonicals_of(name)})


def _first_names_match(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:  # an initial: "J" and "James"
        return a[0] == b[0]
    if ratio(a, b) >= FIRST_NAME_SIMILARITY:
        return True
    return b in _forms(a) or a in _forms(b)


def names_compatible(first_a: str, last_a: str, first_b: str, last_b: str) -> bool:
    """Whether two names can be the same person's (a missing name is compatible with any)."""
    fa, la, fb, lb = _plain(first_a), _plain(last_a), _plain(first_b), _plain(last_b)
    if not (fa or la) or not (fb or lb):
        return True
    if (not la and not lb) or not fa or not fb:
        # One field each, or a full name typed into one field: compare what there is as a whole.
        whole_a, whole_b = f"{fa} {la}".strip(), f"{fb} {lb}".strip()
        first_ok = _first_names_match(whole_a.split()[0], whole_b.split()[0])
        return first_ok and token_set_ratio(whole_a, whole_b) >= LAST_NAME_SIMILARITY
    if la and lb and token_set_ratio(la, lb) < LAST_NAME_SIMILARITY:
        return False
    firsts_a, firsts_b = fa.split(), fb.split()  # "Mary Ann" and "Mary"
    return any(_first_names_match(x, y) for x in firsts_a for y in firsts_b)


class MatchKind(StrEnum):
    """What an inquiry is to the leads the hub has."""

    SAME = "same"  # the same person: the inquiry goes on that lead
    NEW = "new"  # nobody known: a new lead
    HOUSEHOLD = "household"  # a new lead, linked to leads sharing its phone (different names)


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A lead sharing a key with the inquiry.

    Attributes:
        lead_id: the lead.
        first_name, last_name, email: as stored.
        by_external_id: an id in another system (a CRM, a form tool, a booking tool) is the lead's.
        by_email: the inquiry's email is (or was claimed by) the lead's.
        by_phone: the inquiry's phone is the lead's.
        phone_holder: the lead holds the phone's identity key (the first lead with that phone).
        closed: the lead is closed (declined, not a fit, unreachable).
        created_at: when the lead was made (newer open leads win ties).
    """

    lead_id: str
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    by_external_id: bool = False
    by_email: bool = False
    by_phone: bool = False
    phone_holder: bool = False
    closed: bool = False
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """The decision.

    Attributes:
        kind: same person, new, or new and possibly the same household.
        lead_id: the lead the inquiry goes on (SAME), else None.
        related: leads to link as "possibly the same household" (HOUSEHOLD), or other leads the
            person's details point to too (SAME: leads made from inquiries that shared no detail
            until this one, or before identity was enforced), for a coordinator to merge.
        reason: a short code: ``external_id``, ``email``, ``phone_and_name``, ``phone_other_name``,
            ``none``.
    """

    kind: MatchKind
    lead_id: str | None = None
    related: tuple[str, ...] = field(default_factory=tuple)
    reason: str = "none"

    def __post_init__(self) -> None:
        if (self.kind is MatchKind.SAME) != (self.lead_id is not None):
            raise ValueError("a SAME match names its lead, and only a SAME match does")


def _best(candidates: Sequence[Candidate]) -> Candidate:
    """The key holder, then open before closed, then the newest."""
    return sorted(candidates, key=lambda c: (not c.phone_holder, c.closed, -c.created_at.timestamp(), c.lead_id))[0]


def decide(*, first_name: str, last_name: str, email: str | None, candidates: Sequence[Candidate]) -> Match:
    """Who the inquiry's person is, among ``candidates`` (the leads sharing an id, the email or the
    phone with it)."""
    by_id = [c for c in candidates if c.by_external_id]
    if by_id:
        chosen = _best(by_id)
        return Match(kind=MatchKind.SAME, lead_id=chosen.lead_id, reason="external_id")
    by_email = [c for c in candidates if c.by_email]
    by_phone = [c for c in candidates if c.by_phone]
    compatible = [c for c in by_phone if names_compatible(first_name, last_name, c.first_name, c.last_name)]
    if by_email:
        chosen = _best(by_email)
        # Other leads this person's details point to (made before the inquiry that ties them).
        others = tuple(dict.fromkeys(c.lead_id for c in (*by_email, *compatible) if c.lead_id != chosen.lead_id))
        return Match(kind=MatchKind.SAME, lead_id=chosen.lead_id, related=others, reason="email")
    if compatible:
        chosen = _best(compatible)
        return Match(kind=MatchKind.SAME, lead_id=chosen.lead_id, reason="phone_and_name")
    if by_phone:
        return Match(
            kind=MatchKind.HOUSEHOLD,
            related=tuple(c.lead_id for c in sorted(by_phone, key=lambda c: c.created_at)),
            reason="phone_other_name",
        )
    return Match(kind=MatchKind.NEW)


def merged_consent(kept: ConsentLedger, absorbed: ConsentLedger, *, at: datetime, source: str) -> ConsentLedger:
    """The consent of two leads found to be one person: every statement of both, and the most
    restrictive state per channel — a denial on either lead stands, whatever its date, even over a
    later grant on the other (the merge records that denial again, at ``at``). A grant with its
    wording stands where neither denied: the same person gave it."""
    known = set(kept.entries)
    ledger = kept.record(*(e for e in absorbed.entries if e not in known))
    denied = [
        c
        for c in ContactChannel
        if ConsentState.DENIED in (kept.state(c), absorbed.state(c)) and ledger.state(c) is not ConsentState.DENIED
    ]
    if not denied:
        return ledger
    return ledger.revoke(denied, at=at, source=source, wording="denied on a lead merged into this one")
