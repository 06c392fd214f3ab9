"""Stalled leads: open leads whose next action is overdue, each with one reason (see
:func:`stall_reason`), grouped by next action, owner queue and reason."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from hub.review.measures.counts import Count, ranked_counts
from nurture.vocab import Need, NextActionKind

__all__ = [
    "StallReason",
    "Stalled",
    "StalledFact",
    "StalledGroup",
    "StalledLead",
    "stall_reason",
    "stalled_leads",
]


class StallReason(StrEnum):
    """Why an open lead's overdue next action is stuck (one per lead, first that applies)."""

    NO_ANSWER = "no_answer"
    REFERRAL_DOCUMENTS = "waiting_for_referral_documents"
    AUTHORIZATION = "waiting_for_authorization"
    BOOKED_OUT = "booked_out"
    LANGUAGE_COVERAGE = "language_coverage"
    OTHER = "overdue_other"


class StalledFact(NamedTuple):
    """An open lead whose next action is overdue.

    Attributes:
        id: the lead id.
        channel, service, location: the lead's attributes.
        stage: its stage.
        kind, queue, reason: its next action's kind, owner queue and reason code.
        due_at: when the next action was due.
        language: preferred language.
        needs: its needs flags.
        contacted: a first contact was recorded.
        attempts: outbound touches so far.
    """

    id: str
    channel: str
    service: str | None
    location: str | None
    stage: str
    kind: str
    queue: str
    reason: str | None
    due_at: datetime
    language: str
    needs: tuple[str, ...]
    contacted: bool
    attempts: int


_SCHEDULING_ACTIONS = frozenset({NextActionKind.BOOK_APPOINTMENT, NextActionKind.CALL_BACK_REQUESTED_TIME})


def stall_reason(
    fact: StalledFact,
    *,
    clinic_language: str,
    no_answer_attempts: int = 3,
    booked_out_services: frozenset[str] = frozenset(),
) -> StallReason:
    """Why ``fact`` stalled. The first rule that applies wins:

    1. the next action's reason code is itself a stall reason (``booked_out`` … set by the scheduling
       rules), which is taken as it is;
    2. next action *request referral documents* → waiting for referral documents;
    3. next action *verify insurance / authorization* → waiting for authorization;
    4. a booking action for a service with no openings → booked out;
    5. ``no_answer_attempts`` or more outbound attempts and never reached → no answer;
    6. the patient needs another language than the clinic's → language coverage;
    7. otherwise, overdue for no recorded cause.
    """
    if fact.reason and fact.reason in StallReason.__members__.values():
        return StallReason(fact.reason)
    if fact.kind == NextActionKind.REQUEST_REFERRAL_DOCUMENTS:
        return StallReason.REFERRAL_DOCUMENTS
    if fact.kind == NextActionKind.VERIFY_INSURANCE:
        return StallReason.AUTHORIZATION
    if fact.kind in _SCHEDULING_ACTIONS and fact.service is not None and fact.service in booked_out_services:
        return StallReason.BOOKED_OUT
    if fact.attempts >= no_answer_attempts and not fact.contacted:
        return StallReason.NO_ANSWER
    if fact.language != clinic_language or Need.LANGUAGE in fact.needs:
        return StallReason.LANGUAGE_COVERAGE
    return StallReason.OTHER


@dataclass(frozen=True, slots=True, kw_only=True)
class StalledLead:
    """One stalled lead, as lists show it: ids and codes only."""

    lead_id: str
    channel: str
    kind: str
    queue: str
    reason: StallReason
    overdue_hours: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StalledGroup:
    """Stalled leads sharing a next action, owner queue and reason.

    Attributes:
        kind, queue, reason: what they share.
        n: how many.
        max_overdue_hours: the longest overdue among them.
        lead_ids: the most overdue few (at most ``ids_per_group``).
    """

    kind: str
    queue: str
    reason: StallReason
    n: int
    max_overdue_hours: float
    lead_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stalled:
    """Open leads whose next action is overdue.

    Attributes:
        total: how many.
        by_reason, by_kind, by_queue: counts, most first (shares of ``total``).
        groups: by next action, queue and reason, largest first.
        leads: the most overdue (at most ``list_limit``).
        no_answer_attempts: the N of "no answer after N attempts".
    """

    total: int
    by_reason: tuple[Count, ...]
    by_kind: tuple[Count, ...]
    by_queue: tuple[Count, ...]
    groups: tuple[StalledGroup, ...]
    leads: tuple[StalledLead, ...]
    no_answer_attempts: int


def stalled_leads(
    facts: Iterable[StalledFact],
    *,
    as_of: datetime,
    clinic_language: str,
    no_answer_attempts: int = 3,
    capacity: Mapping[str, int] | None = None,
    list_limit: int = 100,
    ids_per_group: int = 10,
) -> Stalled:
    """Group overdue open leads by next action, queue and reason (see :func:`stall_reason`).

    Args:
        facts: the overdue open leads.
        as_of: the present (overdue hours are counted to it).
        clinic_language: the language staff speak by default.
        no_answer_attempts: attempts after which an unreached lead counts as "no answer".
        capacity: openings per service; services with 0 openings are booked out.
        list_limit: how many of the most overdue leads to list.
        ids_per_group: how many lead ids each group lists.
    """
    if no_answer_attempts < 1:
        raise ValueError("no_answer_attempts must be at least 1")
    booked_out = frozenset(s for s, n in (capacity or {}).items() if n <= 0)
    leads = []
    for fact in facts:
        reason = stall_reason(
            fact,
            clinic_language=clinic_language,
            no_answer_attempts=no_answer_attempts,
            booked_out_services=booked_out,
        )
        overdue = round(max(0.0, (as_of - fact.due_at).total_seconds() / 3600), 1)
        leads.append(
            StalledLead(
                lead_id=fact.id,
                channel=fact.channel,
                kind=fact.kind,
                queue=fact.queue,
                reason=reason,
                overdue_hours=overdue,
            )
        )
    leads.sort(key=lambda s: (-s.overdue_hours, s.lead_id))
    total = len(leads)
    grouped: defaultdict[tuple[str, str, StallReason], list[StalledLead]] = defaultdict(list)
    for lead in leads:
        grouped[(lead.kind, lead.queue, lead.reason)].append(lead)
    groups = [
        StalledGroup(
            kind=kind,
            queue=queue,
            reason=reason,
            n=len(members),
            max_overdue_hours=members[0].overdue_hours,
            lead_ids=tuple(m.lead_id for m in members[:ids_per_group]),
        )
        for (kind, queue, reason), members in grouped.items()
    ]
    groups.sort(key=lambda g: (-g.n, g.kind, g.queue, g.reason))
    return Stalled(
        total=total,
        by_reason=ranked_counts(Counter(lead.reason.value for lead in leads), total),
        by_kind=ranked_counts(Counter(lead.kind for lead in leads), total),
        by_queue=ranked_counts(Counter(lead.queue for lead in leads), total),
        groups=tuple(groups),
        leads=tuple(leads[:list_limit]),
        no_answer_attempts=no_answer_attempts,
    )
