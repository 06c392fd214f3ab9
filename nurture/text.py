"""Folding free text for matching: lower case, accents removed, punctuation to spaces."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w\s']+")


def fold(text: str) -> str:
    """``"¿Dolor de PECHO?"`` → ``"dolor de pecho"``: the form keyword rules are matched against."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = _NON_WORD.sub(" ", plain.lower().replace("’", "'"))
    return " ".join(plain.split())
