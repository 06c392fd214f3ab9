"""Intake: an inquiry becomes a lead — matched, triaged, routed, planned and queued for the CRMs,
in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from hub.capacity import capacity_refiner
from hub.config import HubConfig
from hub.crypto import Vault
from hub.ids import new_lead_id
from hub.leads import CommitResult, commit_lead
from hub.store import Store, repo
from hub.suppression import inherited_denials, suppress
from nurture.consent import ConsentLedger
from nurture.contact import InvalidContact, normalize_email, normalize_phone
from nurture.errors import SkipRecord
from nurture.inquiry import Inquiry, assess, merge_inquiry
from nurture.lead import Lead
from nurture.triage import TriageResult

log = logging.getLogger(__name__)

__all__ = ["Intake"]


class Intake:
    """Turns inquiries into committed leads.

    Args:
        store: the hub's store.
        config: validated configuration.
        destinations: the connected systems every lead change is queued for (e.g. "salesforce").
        id_factory: mints lead ids (tests pass a deterministic one).
        vault: encrypts the suppression list (opt-outs from contacts without a lead); without one
            such an opt-out is parked with the reason.
    """

    def __init__(
        self,
        store: Store,
        config: HubConfig,
        *,
        destinations: Sequence[str] = (),
        id_factory: Callable[[datetime], str] = new_lead_id,
        vault: Vault | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.destinations = tuple(destinations)
        self.id_factory = id_factory
        self.vault = vault

    def submit(self, inquiry: Inquiry, *, actor: str, now: datetime | None = None) -> CommitResult:
        """Commit ``inquiry`` in a transaction of its own."""
        with self.store.tx() as session:
            return self.submit_in(session, inquiry, actor=actor, now=now)

    def submit_in(self, session: Session, inquiry: Inquiry, *, actor: str, now: datetime | None = None) -> CommitResult:
        """Commit ``inquiry`` inside the caller's transaction (the inbox worker marks the event
        processed in the same one).

        What the words say decides the path: an opt-out from a contact the hub does not know goes
        on the suppression list (no lead is made for someone who asked to hear nothing); anything
        else becomes a lead change through the policy — including revoking consent, closing a lead
        the patient declined, and a requested callback time.

        Raises:
            SkipRecord: the inquiry's phone or email is unusable (the field is named, not the value).
        """
        at = now or inquiry.received_at
        try:
            phone = normalize_phone(inquiry.phone, default_region=self.config.phone_region) if inquiry.phone else None
            email = normalize_email(inquiry.email) if inquiry.email else None
        except InvalidContact as exc:
            field = "phone" if str(exc).startswith("phone") else "email"
            raise SkipRecord(str(exc), field=field, code=exc.code) from None
        lead_id = repo.find_lead_id(session, external_ids=inquiry.external_ids, phone=phone, email=email)
        before, version = None, None
        if lead_id is not None:
            found = repo.load_lead(session, lead_id, for_update=True)
            if found is not None:
                before, version = found
        settings = self.config.settings
        result = assess(inquiry, settings)
        if result.opt_out_only and before is None:
            return self._suppress(session, inquiry, result, phone=phone, email=email, at=at, actor=actor)
        proposed = merge_inquiry(
            before,
            inquiry,
            lead_id=before.id if before else self.id_factory(at),
            settings=settings,
            phone_region=self.config.phone_region,
            result=result,
            source=actor,
        )
        if before is None and self.vault is not None:
            inherited = inherited_denials(session, self.vault, phone=phone, email=email)
            if inherited:
                proposed = proposed.evolve(consent=ConsentLedger((*inherited, *proposed.consent.entries)))
        action = "lead_created" if before is None else "lead_updated_by_inquiry"
        if result.opt_out_only:
            action = "consent_revoked_by_message"
        elif result.decline:
            action = "lead_declined_by_message" if before is None or before.is_open else action
        committed = commit_lead(
            session,
            before=before,
            version=version,
            proposed=proposed,
            config=self.config,
            now=at,
            actor=actor,
            action=action,
            destinations=self.destinations,
            refine=capacity_refiner(session, self.config, now=at)
            if before is None and not proposed.stage.is_closed
            else None,
        )
        return replace(committed, recorded=_recorded(result, committed.lead))

    def _suppress(
        self,
        session: Session,
        inquiry: Inquiry,
        result: TriageResult,
        *,
        phone: str | None,
        email: str | None,
        at: datetime,
        actor: str,
    ) -> CommitResult:
        """An opt-out from a contact without a lead: kept on the suppression list, audited."""
        if self.vault is None or not (phone or email):
            # Nowhere safe to keep it (or only an external id): say so rather than drop it silently.
            raise SkipRecord("an opt-out from a contact without a lead needs a phone or email", code="opt_out_unknown")
        channels = result.opt_out
        suppressed = suppress(
            session, self.vault, phone=phone, email=email, channels=channels, source=actor, actor=actor, now=at
        )
        log.info("opt-out from a contact without a lead: suppressed %s", ",".join(c.value for c in channels))
        recorded = {
            "suppressed": {"contacts": list(suppressed.contacts), "channels": [c.value for c in suppressed.channels]},
            "message": "opt-out recorded for a contact the hub has no lead for; any later lead with it inherits it",
        }
        return CommitResult(lead=None, version=None, plan=None, recorded=recorded)


def _recorded(result: TriageResult, lead: Lead | None) -> dict[str, object] | None:
    """What the words of an inquiry changed beyond the usual, said back to the sender."""
    out: dict[str, object] = {}
    if result.opt_out:
        out["opt_out"] = sorted(c.value for c in result.opt_out)
    if result.decline and lead is not None and lead.stage.is_closed:
        out["declined"] = True
    if result.callback is not None and lead is not None and lead.requested_callback_at is not None:
        out["callback_requested"] = lead.requested_callback_at.isoformat()
    if result.urgent:
        out["urgent"] = list(result.red_flags)
    return out or None
