"""Each service's demand against its openings, read off the funnel by service, and what it suggests
(promote the service more, or less)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from hub.review.measures.funnel import Funnel

__all__ = ["PROMOTE_LESS_ABOVE", "PROMOTE_MORE_BELOW", "ServiceDemand", "Verdict", "service_demand"]

#: Demand above this share of openings: promote less. Below ``PROMOTE_MORE_BELOW``: promote more.
PROMOTE_LESS_ABOVE = 1.0
PROMOTE_MORE_BELOW = 0.5


class Verdict(StrEnum):
    """What the demand for a service against its openings suggests."""

    PROMOTE_MORE = "promote more"
    PROMOTE_LESS = "promote less"
    BALANCED = "balanced"
    NO_CAPACITY_DATA = "no capacity data"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDemand:
    """Demand for one service against its openings.

    Attributes:
        service: the service id (or ``(none)``).
        inquiries: inquiries about it in the period.
        scheduling_ready: those with a ready-to-schedule intent.
        demand: inquiries less those declined or not a fit (leads who want, or got, an appointment).
        scheduled: leads booked.
        openings: openings the scheduling system reports for the next period, or None if unknown.
        load: ``demand`` over ``openings`` (None without capacity data or with no openings).
        verdict: ``promote more`` (load < 0.5), ``promote less`` (load > 1, or no openings at all),
            ``balanced``, or ``no capacity data``.
    """

    service: str
    inquiries: int
    scheduling_ready: int
    demand: int
    scheduled: int
    openings: int | None
    load: float | None
    verdict: Verdict


def service_demand(
    by_service: Funnel, capacity: Mapping[str, int] | None, *, services: Iterable[str] = ()
) -> tuple[ServiceDemand, ...]:
    """Each service's demand against ``capacity`` (service id → openings), most demand first.

    Args:
        by_service: the funnel by service.
        capacity: openings per service for a span as long as the period; None when the scheduling
            system reports none (every verdict is then ``no capacity data``).
        services: service ids to list even without inquiries (the configured ones).
    """
    keys = dict.fromkeys([*(r.key for r in by_service.rows), *services, *(capacity or {})])
    out = []
    for key in keys:
        counts = by_service.row(key)
        demand = counts.inquiries - counts.declined - counts.not_a_fit
        openings = None if capacity is None else capacity.get(key)
        load = demand / openings if openings else None
        if openings is None:
            verdict = Verdict.NO_CAPACITY_DATA
        elif openings == 0:
            verdict = Verdict.PROMOTE_LESS if demand else Verdict.BALANCED
        elif load is not None and load > PROMOTE_LESS_ABOVE:
            verdict = Verdict.PROMOTE_LESS
        elif load is not None and load < PROMOTE_MORE_BELOW:
            verdict = Verdict.PROMOTE_MORE
        else:
            verdict = Verdict.BALANCED
        out.append(
            ServiceDemand(
                service=key,
                inquiries=counts.inquiries,
                scheduling_ready=counts.scheduling_ready,
                demand=demand,
                scheduled=counts.scheduled,
                openings=openings,
                load=load,
                verdict=verdict,
            )
        )
    out.sort(key=lambda s: (-s.demand, s.service))
    return tuple(out)
