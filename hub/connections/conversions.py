"""Leads the CRM converted: a Salesforce lead that staff converted into a Contact and Account (or a
Person Account) is read-only there — every write to it fails with ``CANNOT_UPDATE_CONVERTED_LEAD``.

When the sync engine learns of a conversion (a pulled change, or a refused write, carrying a
:class:`~connectors.base.Conversion`), :func:`record` keeps it on the lead (one row per lead and
CRM, audited): from then on the lead's record is not written in that CRM, and its tasks go to the
contact it became — the open ones are queued again so they follow it there. The hub's lead itself
goes on (the cadence, consent, bookings): conversion is the CRM's bookkeeping, not a decision about
the patient.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Conversion
from hub.store import repo
from hub.store.models import CrmConversionRow

__all__ = ["converted", "record", "task_target"]

log = logging.getLogger(__name__)


def record(
    session: Session, *, lead_id: str, system: str, record_id: str, conversion: Conversion, now: datetime
) -> bool:
    """Keep that the lead's record in ``system`` was converted, and send its open tasks to the
    contact it became. Idempotent: a conversion already kept changes nothing.

    Returns:
        True when the conversion is new to the hub.
    """
    if session.get(CrmConversionRow, (lead_id, system)) is not None:
        return False
    session.add(
        CrmConversionRow(
            lead_id=lead_id,
            system=system,
            record_id=record_id,
            contact_id=conversion.contact_id,
            account_id=conversion.account_id,
            person_account=conversion.person_account,
            converted_at=conversion.converted_at,
            recorded_at=now,
        )
    )
    moved = 0
    for row in repo.follow_ups(session, lead_id):
        if row.channel is not None and row.status in repo.WITH_TASK:
            repo.enqueue(
                session, destinations=[system], kind="upsert_task", key=f"{lead_id}:{row.step_key}",
                lead_id=lead_id, now=now,
            )  # fmt: skip
            moved += 1
    repo.audit(
        session, actor=f"crm:{system}", action="crm_lead_converted", subject_type="lead", subject_id=lead_id,
        now=now, detail={
            "crm_id": record_id, "contact_id": conversion.contact_id, "account_id": conversion.account_id,
            "person_account": conversion.person_account, "open_tasks_moved": moved,
        },
    )  # fmt: skip
    log.info("lead %s: %s record %s converted to contact %s", lead_id, system, record_id, conversion.contact_id)
    return True


def converted(session: Session, system: str, lead_ids: Iterable[str]) -> set[str]:
    """Which of ``lead_ids`` have a converted record in ``system`` (one query)."""
    wanted = list(dict.fromkeys(lead_ids))
    if not wanted:
        return set()
    rows = session.scalars(
        select(CrmConversionRow.lead_id).where(CrmConversionRow.system == system, CrmConversionRow.lead_id.in_(wanted))
    )
    return set(rows)


def task_target(session: Session, lead_id: str, system: str) -> str | None:
    """Where the lead's tasks go in ``system`` when its record was converted (the contact), else None."""
    row = session.get(CrmConversionRow, (lead_id, system))
    return row.contact_id if row is not None else None
