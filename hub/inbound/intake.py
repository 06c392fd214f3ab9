"""Intake: an inquiry becomes a lead — matched, triaged, routed, planned and queued for the CRMs,
in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from hub.bookings.capacity import capacity_refiner
from hub.inbound import identity
from hub.inbound.suppression import inherited_denials, suppress
from hub.lifecycle.leads import CommitResult, commit_lead
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.store.crypto import Vault
from hub.store.ids import new_lead_id
from nurture.consent import ConsentLedger
from nurture.contact import InvalidContact, normalize_email, normalize_phone
from nurture.errors import SkipRecord
from nurture.identity import Match, MatchKind
from nurture.inquiry import Inquiry, assess, merge_inquiry
from nurture.lead import Lead
from nurture.touches import Touch
from nurture.triage import TriageResult
from nurture.vocab import Channel, ContactChannel

log = logging.getLogger(__name__)

#: Channels whose inquiries arrive as a phone call (call tracking, Google Business Profile calls).
_CALL_CHANNELS = frozenset({Channel.PHONE_CALL, Channel.GBP_CALL})


def _require_a_way_back(before: Lead | None, *, phone: str | None, email: str | None) -> None:
    """A new lead needs a phone or an email: an inquiry matched by nothing but an id (a form whose
    field references were renamed at the vendor, say) is parked, never made into a lead no one can
    call back, nor pushed to a CRM."""
    if before is None and not (phone or email):
        raise SkipRecord(
            "no phone or email to reach the patient: the mapping found neither", field="phone", code="no_contact_fields"
        )


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

    def contact(self, inquiry: Inquiry) -> tuple[str | None, str | None]:
        """The inquiry's phone (E.164) and email, normalised.

        Raises:
            SkipRecord: the phone or email is unusable (the field is named, not the value).
        """
        try:
            phone = normalize_phone(inquiry.phone, default_region=self.config.phone_region) if inquiry.phone else None
            email = normalize_email(inquiry.email) if inquiry.email else None
        except InvalidContact as exc:
            field = "phone" if str(exc).startswith("phone") else "email"
            raise SkipRecord(str(exc), field=field, code=exc.code) from None
        return phone, email

    def identity_keys(self, inquiry: Inquiry) -> list[str]:
        """The identity keys :meth:`submit_in` locks for ``inquiry`` (the inbox locks a batch's at once).

        Raises:
            SkipRecord: the phone or email is unusable.
        """
        phone, email = self.contact(inquiry)
        return identity.key_names(phone, email, inquiry.external_ids)

    def submit_in(
        self, session: Session, inquiry: Inquiry, *, actor: str, now: datetime | None = None, locked: bool = False
    ) -> CommitResult:
        """Commit ``inquiry`` inside the caller's transaction (the inbox worker marks the event
        processed in the same one).

        What the words say decides the path: an opt-out from a contact the hub does not know goes
        on the suppression list (no lead is made for someone who asked to hear nothing); anything
        else becomes a lead change through the policy — including revoking consent, closing a lead
        the patient declined, and a requested callback time.

        ``locked``: the caller took the inquiry's identity locks (:meth:`identity_keys`) in this
        transaction already.

        Raises:
            SkipRecord: the inquiry's phone or email is unusable (the field is named, not the value).
        """
        at = now or inquiry.received_at
        phone, email = self.contact(inquiry)
        if not locked:
            identity.lock_keys(session, phone=phone, email=email, external_ids=inquiry.external_ids)
        match = identity.identify(
            session, first_name=inquiry.first_name, last_name=inquiry.last_name, phone=phone, email=email,
            external_ids=inquiry.external_ids,
        )  # fmt: skip
        lead_id = match.lead_id
        before, version = None, None
        if lead_id is not None:
            found = repo.load_lead(session, lead_id, for_update=True)
            if found is not None:
                before, version = found
        settings = self.config.settings
        result = assess(inquiry, settings)
        if result.opt_out_only and before is None:
            return self._suppress(session, inquiry, result, phone=phone, email=email, at=at, actor=actor)
        _require_a_way_back(before, phone=phone, email=email)
        inquired = not result.opt_out_only  # an opt-out is not an inquiry
        touch_id = self._record_inquiry(session, before.id, inquiry) if before is not None and inquired else None
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
        self._settle_identity(session, committed, match, inquiry, (phone, email), touch_id=touch_id,
                              new=before is None and inquired, at=at)  # fmt: skip
        return replace(committed, recorded=_recorded(result, committed.lead))

    # --- identity: one lead per person (hub.identity) and every inquiry on its lead -------------

    def _record_inquiry(self, session: Session, lead_id: str, inquiry: Inquiry) -> int:
        """The inquiry as an inbound ``inquired`` touch on its lead (before the lead is planned
        again, so the plan sees it). Returns the touch's row id."""
        via = inquiry.reply_via or (ContactChannel.CALL if inquiry.channel in _CALL_CHANNELS else None)
        return repo.add_touch(session, lead_id, Touch.inquiry(inquiry.channel, inquiry.received_at, via=via))

    def _settle_identity(
        self, session: Session, result: CommitResult, match: Match, inquiry: Inquiry,
        contact: tuple[str | None, str | None], *, touch_id: int | None, new: bool, at: datetime,
    ) -> None:  # fmt: skip
        """After the lead is written: claim its keys, link it to the leads it may share a household
        (or, for duplicates made before identity was enforced, a person) with, and record a new
        lead's first inquiry. A refused change keeps no touch."""
        if result.lead is None or not result.ok:
            if touch_id is not None:
                repo.remove_touch(session, touch_id)
            return
        lead = result.lead
        household = match.kind is MatchKind.HOUSEHOLD
        phone, email = contact
        others = identity.claim_keys(
            session, lead.id, emails=(lead.email, email), phones=(lead.phone, phone), new=result.version == 1,
            now=at, household=household,
        )  # fmt: skip
        identity.link(
            session, lead.id, match.related, reason="phone_other_name" if household else "same_person", now=at
        )
        identity.link(session, lead.id, others, reason="same_email", now=at)
        if new:
            self._record_inquiry(session, lead.id, inquiry)

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
