"""Folding free text for matching: lower case, accents removed, punctuation to spaces."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w\s']+")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def fold(text: str) -> str:
    """``"¿Dolor de PECHO?"`` → ``"dolor de pecho"``: the form keyword rules are matched against."""
    plain = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    plain = _NON_WORD.sub(" ", plain.lower().replace("’", "'"))
    return " ".join(plain.split())
