"""Confusion: which approved templates patients answer with a question.

A send is an outbound touch whose cadence step has a known template; it is *answered with a
question* when the lead's very next touch is an inbound ``replied`` (as :mod:`.touches` counts it).
The hub does not read reply text, so every such reply counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.review.measures.counts import share_of
from hub.review.measures.touches import AttemptCell, ReplyFact

__all__ = ["Confusion", "TemplateConfusion", "confusion"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateConfusion:
    """Replies after one approved template.

    Attributes:
        template: the template id.
        steps: cadence steps that use it.
        sends: outbound touches that carried it.
        questions: sends the patient replied to before the next outbound touch.
        rate: ``questions`` over ``sends``.
        leads: distinct leads that replied.
        lead_ids: the first of them (at most ``ids_per_template``).
    """

    template: str
    steps: tuple[str, ...]
    sends: int
    questions: int
    rate: float | None
    leads: int
    lead_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Confusion:
    """Replies after each template, most replied-to (by rate, then count) first.

    Attributes:
        rows: one per template sent.
        leads: distinct leads that replied after any template.
    """

    rows: tuple[TemplateConfusion, ...]
    leads: int

    @property
    def worst(self) -> TemplateConfusion | None:
        return next((r for r in self.rows if r.questions), None)


def confusion(
    cells: Iterable[AttemptCell],
    replies: Iterable[ReplyFact],
    *,
    step_templates: Mapping[str, str],
    ids_per_template: int = 20,
) -> Confusion:
    """Replies after each known template.

    Args:
        cells: the attempt cells of the cohort (sends and questions per step).
        replies: the leads that replied, per step.
        step_templates: cadence step key → template id (the steps whose template is known).
        ids_per_template: how many lead ids each template lists (in id order).
    """
    sends: Counter[str] = Counter()
    questions: Counter[str] = Counter()
    for cell in cells:
        template = step_templates.get(cell.step) if cell.step else None
        if template is not None:
            sends[template] += cell.attempts
            questions[template] += cell.questions
    leads: defaultdict[str, set[str]] = defaultdict(set)
    for reply in replies:
        template = step_templates.get(reply.step)
        if template is not None:
            leads[template].add(reply.lead_id)
    steps_of: defaultdict[str, list[str]] = defaultdict(list)
    for step, template in step_templates.items():
        steps_of[template].append(step)
    rows = [
        TemplateConfusion(
            template=template,
            steps=tuple(steps_of[template]),
            sends=n,
            questions=questions[template],
            rate=share_of(questions[template], n),
            leads=len(leads[template]),
            lead_ids=tuple(sorted(leads[template])[:ids_per_template]),
        )
        for template, n in sends.items()
    ]
    rows.sort(key=lambda r: (-(r.rate or 0.0), -r.questions, r.template))
    return Confusion(rows=tuple(rows), leads=len(set().union(*leads.values())))
