"""Repeated questions: the most frequent intents, needs flags and fired triage keywords of a cohort's
inquiries, per channel and overall."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from hub.review.measures.counts import Count, ranked_counts

__all__ = ["ChannelQuestions", "QuestionCell", "RepeatedQuestions", "repeated_questions"]


class QuestionCell(NamedTuple):
    """Leads of one channel sharing an intent, needs flags and fired triage keywords.

    ``needs`` and ``keywords`` may be tuples or the JSON text of a list (as grouped in SQL).
    """

    channel: str
    intent: str | None
    needs: tuple[str, ...] | str
    keywords: tuple[str, ...] | str
    n: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelQuestions:
    """What one channel's inquiries were about.

    Attributes:
        channel: the channel.
        leads: its inquiries.
        intents, needs, keywords: the most frequent, shares of ``leads``.
    """

    channel: str
    leads: int
    intents: tuple[Count, ...]
    needs: tuple[Count, ...]
    keywords: tuple[Count, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RepeatedQuestions:
    """The most frequent intents, needs flags and triage keywords, per channel and overall."""

    by_channel: tuple[ChannelQuestions, ...]
    overall: ChannelQuestions


def _as_tuple(value: tuple[str, ...] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        parsed = json.loads(value) if value else []
        return tuple(str(v) for v in parsed) if isinstance(parsed, list) else ()
    return value


def repeated_questions(cells: Iterable[QuestionCell], *, top: int = 5) -> RepeatedQuestions:
    """Intents, needs and fired triage keywords, counted once per lead, per channel and overall.

    Args:
        cells: the cohort's questions.
        top: how many of each to keep per channel (``overall`` keeps them all).
    """
    leads: Counter[str] = Counter()
    intents: defaultdict[str, Counter[str]] = defaultdict(Counter)
    needs: defaultdict[str, Counter[str]] = defaultdict(Counter)
    keywords: defaultdict[str, Counter[str]] = defaultdict(Counter)
    parsed: dict[tuple[str, ...] | str, tuple[str, ...]] = {}
    for cell in cells:
        if cell.n <= 0:
            continue
        leads[cell.channel] += cell.n
        intents[cell.channel][cell.intent or "unknown"] += cell.n
        for source, target in ((cell.needs, needs), (cell.keywords, keywords)):
            values = parsed.get(source)
            if values is None:
                values = parsed[source] = tuple(dict.fromkeys(_as_tuple(source)))
            for value in values:
                target[cell.channel][value] += cell.n

    def merged(counters: Mapping[str, Counter[str]]) -> Counter[str]:
        out: Counter[str] = Counter()
        for c in counters.values():
            out.update(c)
        return out

    rows = [
        ChannelQuestions(
            channel=channel,
            leads=n,
            intents=ranked_counts(intents[channel], n, top=top),
            needs=ranked_counts(needs[channel], n, top=top),
            keywords=ranked_counts(keywords[channel], n, top=top),
        )
        for channel, n in leads.items()
    ]
    rows.sort(key=lambda r: (-r.leads, r.channel))
    whole = sum(leads.values())
    return RepeatedQuestions(
        by_channel=tuple(rows),
        overall=ChannelQuestions(
            channel="all",
            leads=whole,
            intents=ranked_counts(merged(intents), whole),
            needs=ranked_counts(merged(needs), whole),
            keywords=ranked_counts(merged(keywords), whole),
        ),
    )
