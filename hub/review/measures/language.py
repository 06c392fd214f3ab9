"""Conversion per preferred language, read off the funnel by language: Spanish-language inquiries
against English ones (and any other language seen)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.review.measures.counts import share_of
from hub.review.measures.funnel import Funnel, FunnelCounts

__all__ = ["LanguageConversion", "LanguageRow", "language_conversion"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageRow:
    """Conversion of the inquiries in one preferred language.

    Attributes:
        language: ISO 639-1 code.
        counts: its funnel.
        reached_rate, scheduled_rate, kept_rate: reached / scheduled / kept over inquiries.
    """

    language: str
    counts: FunnelCounts
    reached_rate: float | None
    scheduled_rate: float | None
    kept_rate: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageConversion:
    """Spanish-language inquiries against English ones (and any other language seen).

    Attributes:
        rows: one per language, most inquiries first.
        base, compared: the two languages compared (``en`` and ``es``).
        scheduled_gap_points: ``compared``'s scheduled rate minus ``base``'s, in percentage points
            (None when either has no inquiries).
        kept_gap_points: the same for kept.
    """

    rows: tuple[LanguageRow, ...]
    base: str
    compared: str
    scheduled_gap_points: float | None
    kept_gap_points: float | None

    def row(self, language: str) -> LanguageRow | None:
        return next((r for r in self.rows if r.language == language), None)


def language_conversion(by_language: Funnel, *, base: str = "en", compared: str = "es") -> LanguageConversion:
    """Conversion per preferred language, from the funnel by language."""
    if by_language.dimension != "language":
        raise ValueError("language_conversion needs the funnel by language")
    rows = tuple(
        LanguageRow(
            language=r.key,
            counts=r.counts,
            reached_rate=share_of(r.counts.reached, r.counts.inquiries),
            scheduled_rate=share_of(r.counts.scheduled, r.counts.inquiries),
            kept_rate=share_of(r.counts.kept, r.counts.inquiries),
        )
        for r in by_language.rows
    )
    found = {r.language: r for r in rows}

    def gap(attr: str) -> float | None:
        a, b = found.get(base), found.get(compared)
        if a is None or b is None:
            return None
        va, vb = getattr(a, attr), getattr(b, attr)
        return None if va is None or vb is None else (vb - va) * 100

    return LanguageConversion(
        rows=rows,
        base=base,
        compared=compared,
        scheduled_gap_points=gap("scheduled_rate"),
        kept_gap_points=gap("kept_rate"),
    )
