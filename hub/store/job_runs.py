"""The record of the scheduled jobs' runs (``job_runs``): a run claims its (job, tick) before it
starts — the table's unique key makes a tick run at most once, whichever process leads —, records
its outcome when it ends, and the records of old ticks are forgotten. Each function is a
transaction of its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from hub.store.engine import Store
from hub.store.models import JobRunRow

__all__ = ["claim_tick", "finish_tick", "forget_runs"]


def claim_tick(store: Store, job: str, tick: datetime, *, started_at: datetime, runner: str) -> bool:
    """Record that ``runner`` runs ``job`` for ``tick``: False when a run for that tick was
    already recorded (by this process or another)."""
    try:
        with store.tx() as session:
            session.add(JobRunRow(job=job, tick=tick, started_at=started_at, runner=runner))
    except IntegrityError:
        return False
    return True


def finish_tick(store: Store, job: str, tick: datetime, *, finished_at: datetime, outcome: str) -> None:
    """Record how the run of ``job`` for ``tick`` (claimed before) ended (the outcome's first 200
    characters)."""
    with store.tx() as session:
        row = session.scalars(select(JobRunRow).where(JobRunRow.job == job, JobRunRow.tick == tick)).one()
        row.finished_at, row.outcome = finished_at, outcome[:200]


def forget_runs(store: Store, *, started_before: datetime) -> int:
    """Delete the records of runs started before ``started_before``; how many there were."""
    with store.tx() as session:
        result = session.execute(delete(JobRunRow).where(JobRunRow.started_at < started_before))
        return int(result.rowcount)  # type: ignore[attr-defined]
