"""The built-in triage rules: ``nurture/data/triage_rules.toml``, in the very form a clinic writes
its own under ``[[triage.rules]]`` (the file's header explains every key).

The file is the package's own data, read once at import like ``zoneinfo`` reads its zone files; the
rules themselves stay values. Two macros keep it short: ``"@payers"`` in a phrase list stands for
every payer name as an exact name, ``"#3..100"`` for the numbers 3 to 100.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import Any

__all__ = ["DEFAULT_RULES", "ENGLISH_MARKERS", "PAYERS", "SPANISH_MARKERS", "exact", "expand"]

Entry = Mapping[str, Any]

_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")


def exact(phrases: Sequence[str]) -> list[str]:
    """Names (payers, brands) match only as written: no stemming, no typo correction."""
    return [" ".join(f"={w}" for w in p.split()) for p in phrases]


def expand(phrases: Sequence[str], payers: Sequence[str]) -> list[str]:
    """``phrases`` with the macros written out (see the module docstring)."""
    out: list[str] = []
    for phrase in phrases:
        if phrase == "@payers":
            out.extend(exact(payers))
        elif phrase.startswith("#") and ".." in phrase:
            low, high = phrase[1:].split("..")
            out.extend(str(n) for n in range(int(low), int(high) + 1))
        elif (m := _RANGE.search(phrase)) is not None:
            first, last = int(m.group(1)), int(m.group(2))
            out.extend(phrase[: m.start()] + str(n) + phrase[m.end() :] for n in range(first, last + 1))
        else:
            out.append(phrase)
    return out


def _load() -> tuple[tuple[Entry, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    data = tomllib.loads(files("nurture").joinpath("data/triage_rules.toml").read_text(encoding="utf-8"))
    payers = tuple(data["payers"])
    rules: list[Entry] = []
    for rule in data["rules"]:
        entry = dict(rule)
        for key in ("any", "unless"):
            if key in entry:
                entry[key] = expand(entry[key], payers)
        if "near" in entry:
            entry["near"] = [expand(group, payers) for group in entry["near"]]
        rules.append(entry)
    return tuple(rules), payers, tuple(data["markers"]["es"]), tuple(data["markers"]["en"])


DEFAULT_RULES, PAYERS, SPANISH_MARKERS, ENGLISH_MARKERS = _load()
