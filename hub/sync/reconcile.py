"""Reconcile: CRM records merged away or deleted, noticed and flagged on their leads."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from hub.store import repo
from hub.store.models import ExternalIdRow, ViolationRow
from hub.sync.base import EngineBase

log = logging.getLogger(__name__)


class Reconcile(EngineBase):
    """Finds CRM records merged away or deleted."""

    def reconcile(self, name: str, *, now: datetime, chunk: int = 200) -> list[str]:
        """Leads whose CRM record was merged away or deleted; their CRM id is dropped and flagged."""
        dest = self.destinations[name]
        with self.store.tx() as session:
            rows = session.execute(
                select(ExternalIdRow.lead_id, ExternalIdRow.external_id).where(ExternalIdRow.system == name)
            ).all()
        missing: list[str] = []
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            alive = dest.connector.existing([r.external_id for r in part])
            missing += [r.lead_id for r in part if r.external_id not in alive]
        if missing:
            with self.store.tx() as session:
                for lead_id in missing:
                    session.execute(
                        ExternalIdRow.__table__.delete().where(  # type: ignore[attr-defined]
                            ExternalIdRow.lead_id == lead_id, ExternalIdRow.system == name
                        )
                    )
                    session.add(
                        ViolationRow(
                            lead_id=lead_id, source=name, rule="crm_record_missing", field="external_ids",
                            message=f"the {name} record was merged or deleted; check for duplicates",
                            at=now,
                        )
                    )  # fmt: skip
                    repo.audit(session, actor=f"crm:{name}", action="crm_record_missing", subject_type="lead",
                               subject_id=lead_id, now=now)  # fmt: skip
            log.warning("%s: %d CRM records merged or deleted", name, len(missing))
        return missing
