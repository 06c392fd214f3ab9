"""What every measure of the review shares: :class:`Count` (how often one thing occurred, and its
share of a whole), shares, percentiles and how a missing dimension value is shown."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["NONE_LABEL", "Count", "label_of", "percentile", "ranked_counts", "share_of"]

#: How a missing dimension value (no campaign, no service …) is shown.
NONE_LABEL = "(none)"


def share_of(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def label_of(value: str | None) -> str:
    return value if value else NONE_LABEL


@dataclass(frozen=True, slots=True, kw_only=True)
class Count:
    """How often one thing occurred.

    Attributes:
        name: the thing (an intent, a need, a reason …).
        n: how many leads (or attempts).
        share: ``n`` over the whole it belongs to, or None when that whole is zero.
    """

    name: str
    n: int
    share: float | None


def ranked_counts(counter: Mapping[str, int], whole: int, *, top: int | None = None) -> tuple[Count, ...]:
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if top is not None:
        ranked = ranked[:top]
    return tuple(Count(name=k, n=v, share=share_of(v, whole)) for k, v in ranked)


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The ``p`` quantile (0 ≤ p ≤ 1) of already sorted values, by linear interpolation between
    closest ranks (numpy's default, Excel's PERCENTILE.INC); None for no values."""
    if not 0 <= p <= 1:
        raise ValueError("percentile p must be between 0 and 1")
    if not sorted_values:
        return None
    position = p * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction
