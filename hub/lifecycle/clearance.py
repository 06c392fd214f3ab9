"""A lead's clearance: referral documents in, insurance on file, authorization approved.

A service that needs a referral review or prior authorization never offers slots before that is
done (``nurture.capacity``), and the preparation sequence reminds about what is still missing
(``nurture.prep``). This module stores what a coordinator recorded, hands it to both, and re-decides
the lead when it changes: a lead waiting for documents gets "book an appointment" with the openings
the stored availability has, through the same policy as every other change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from hub.bookings.capacity import decide_capacity
from hub.lifecycle.leads import CommitResult, commit_lead
from hub.settings.config import HubConfig
from hub.store import repo
from hub.store.models import ClearanceRow
from hub.store.repo import load_clearance
from nurture.actions import propose_next_action
from nurture.vocab import NextActionKind

log = logging.getLogger(__name__)

__all__ = ["load_clearance", "record_clearance"]

#: Next actions that wait for a prerequisite: clearing it re-decides the lead's next action.
WAITING = frozenset({NextActionKind.REQUEST_REFERRAL_DOCUMENTS, NextActionKind.VERIFY_INSURANCE})


def record_clearance(
    session: Session,
    lead_id: str,
    *,
    referral_documents: bool | None = None,
    insurance: bool | None = None,
    authorization: bool | None = None,
    config: HubConfig,
    now: datetime,
    actor: str,
    destinations: Sequence[str],
) -> CommitResult | None:
    """Record what changed (None: unchanged) and re-decide the lead, in the caller's transaction.

    An approved authorization implies the insurance information is on file. Returns the commit of
    the re-decided lead, or None when there is no such lead.
    """
    found = repo.load_lead(session, lead_id, for_update=True)
    if found is None:
        return None
    lead, version = found
    if authorization:
        insurance = True
    row = session.get(ClearanceRow, lead_id)
    if row is None:
        row = ClearanceRow(lead_id=lead_id, updated_at=now, updated_by=actor)
        session.add(row)
    for attr, value in (
        ("referral_documents_at", referral_documents),
        ("insurance_collected_at", insurance),
        ("authorization_approved_at", authorization),
    ):
        if value is not None:
            setattr(row, attr, (getattr(row, attr) or now) if value else None)
    if row.authorization_approved_at is not None and row.insurance_collected_at is None:
        row.insurance_collected_at = now  # insurance was cleared while the authorization stays
    row.updated_at, row.updated_by = now, actor
    session.flush()
    clearance = load_clearance(session, lead_id)
    repo.audit(
        session, actor=actor, action="lead.clearance", subject_type="lead", subject_id=lead_id, now=now,
        detail={"referral_documents": clearance.referral_documents_received,
                "insurance": clearance.insurance_collected, "authorization": clearance.authorization_approved},
    )  # fmt: skip
    proposed = lead
    waiting = lead.next_action is not None and lead.next_action.kind in WAITING
    if waiting and not lead.urgent and not lead.stage.is_closed:
        rules_action = propose_next_action(lead, config.settings, now=now)
        decision = decide_capacity(session, config, lead, rules_action, clearance, now=now)
        action = decision.next_action if decision is not None else rules_action
        proposed = lead.evolve(next_action=action)
        log.info("lead %s: clearance recorded; next action %s", lead_id, action.kind)
    # Committed even when the next action stays: the preparation sequence is replanned with it.
    return commit_lead(
        session, before=lead, version=version, proposed=proposed, config=config, now=now, actor=actor,
        action="clearance_recorded", destinations=destinations,
    )  # fmt: skip
