"""Intake: an inquiry becomes a lead — matched, triaged, routed, planned and queued for the CRMs,
in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from hub import identity
from hub.capacity import capacity_refiner
from hub.config import HubConfig
from hub.ids import new_lead_id
from hub.leads import CommitResult, commit_lead
from hub.store import Store, repo
from nurture.consent import KeywordReply, classify_reply
from nurture.contact import InvalidContact, normalize_email, normalize_phone
from nurture.errors import SkipRecord
from nurture.identity import Match, MatchKind
from nurture.inquiry import Inquiry, merge_inquiry
from nurture.lead import Lead
from nurture.touches import Touch
from nurture.vocab import Channel, ConsentState, ContactChannel

log = logging.getLogger(__name__)

__all__ = ["Intake"]

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


class Intake:
    """Turns inquiries into committed leads.

    Args:
        store: the hub's store.
        config: validated configuration.
        destinations: the connected systems every lead change is queued for (e.g. "salesforce").
        id_factory: mints lead ids (tests pass a deterministic one).
    """

    def __init__(
        self,
        store: Store,
        config: HubConfig,
        *,
        destinations: Sequence[str] = (),
        id_factory: Callable[[datetime], str] = new_lead_id,
    ) -> None:
        self.store = store
        self.config = config
        self.destinations = tuple(destinations)
        self.id_factory = id_factory

    def submit(self, inquiry: Inquiry, *, actor: str, now: datetime | None = None) -> CommitResult:
        """Commit ``inquiry`` in a transaction of its own."""
        with self.store.tx() as session:
            return self.submit_in(session, inquiry, actor=actor, now=now)

    def submit_in(self, session: Session, inquiry: Inquiry, *, actor: str, now: datetime | None = None) -> CommitResult:
        """Commit ``inquiry`` inside the caller's transaction (the inbox worker marks the event
        processed in the same one).

        Raises:
            SkipRecord: the inquiry's phone or email is unusable (the field is named, not the value).
        """
        at = now or inquiry.received_at
        try:
            phone = normalize_phone(inquiry.phone, default_region=self.config.phone_region) if inquiry.phone else None
            email = normalize_email(inquiry.email) if inquiry.email else None
        except InvalidContact as exc:
            field = "phone" if str(exc).startswith("phone") else "email"
            raise SkipRecord(str(exc), field=field, code="invalid_contact") from None
        match = self._identify(session, inquiry, phone=phone, email=email)
        lead_id = match.lead_id
        before, version = None, None
        if lead_id is not None:
            found = repo.load_lead(session, lead_id, for_update=True)
            if found is not None:
                before, version = found
        if classify_reply(inquiry.text) is KeywordReply.STOP:
            return self._opt_out(session, before, version, inquiry, at=at, actor=actor)
        _require_a_way_back(before, phone=phone, email=email)
        touch_id = self._record_inquiry(session, before.id, inquiry) if before is not None else None
        proposed = merge_inquiry(
            before,
            inquiry,
            lead_id=before.id if before else self.id_factory(at),
            settings=self.config.settings,
            phone_region=self.config.phone_region,
        )
        result = commit_lead(
            session,
            before=before,
            version=version,
            proposed=proposed,
            config=self.config,
            now=at,
            actor=actor,
            action="lead_created" if before is None else "lead_updated_by_inquiry",
            destinations=self.destinations,
            refine=capacity_refiner(session, self.config, now=at) if before is None else None,
        )
        self._settle_identity(session, result, match, inquiry, (phone, email), touch_id=touch_id, new=before is None,
                              at=at)  # fmt: skip
        return result

    # --- identity: one lead per person (hub.identity) and every inquiry on its lead -------------

    def _identify(self, session: Session, inquiry: Inquiry, *, phone: str | None, email: str | None) -> Match:
        """Lock the inquiry's keys for this transaction, then decide whose inquiry it is."""
        identity.lock_keys(session, phone=phone, email=email, external_ids=inquiry.external_ids)
        return identity.identify(
            session, first_name=inquiry.first_name, last_name=inquiry.last_name, phone=phone, email=email,
            external_ids=inquiry.external_ids,
        )  # fmt: skip

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
            session, lead.id, emails=(lead.email, email), phones=(lead.phone, phone), new=new, now=at,
            household=household,
        )  # fmt: skip
        identity.link(
            session, lead.id, match.related, reason="phone_other_name" if household else "same_person", now=at
        )
        identity.link(session, lead.id, others, reason="same_email", now=at)
        if new:
            self._record_inquiry(session, lead.id, inquiry)

    def _opt_out(
        self, session: Session, before: Lead | None, version: int | None, inquiry: Inquiry, *, at: datetime, actor: str
    ) -> CommitResult:
        """A STOP-style message: consent is revoked at once, and the message is nothing more.

        A reply that says which channel it came by (``reply_via``: a texting service forwarding an
        SMS reply) revokes that channel, as carriers treat STOP; a message that does not ("stop
        contacting me" in a form) revokes every channel. The change goes through the same policy and
        replanning as any other, so pending texts and emails are withdrawn from the CRMs and the
        denial reaches every connected CRM. From an unknown contact there is nothing to revoke and
        no lead is made.
        """
        if before is None or version is None:
            log.info("opt-out message from a contact the hub does not know: nothing to revoke")
            return CommitResult(lead=None, version=None, plan=None)
        channels = [inquiry.reply_via] if inquiry.reply_via is not None else list(ContactChannel)
        denied = [c for c in channels if before.consent.state(c) is not ConsentState.DENIED]
        if not denied:
            return CommitResult(lead=before, version=version, plan=None)
        source = f"{inquiry.reply_via.value}_reply" if inquiry.reply_via is not None else "message"
        proposed = before.evolve(
            consent=before.consent.revoke(denied, at=inquiry.received_at, source=f"{actor}:{source}",
                                          wording="STOP-style reply")
        )  # fmt: skip
        return commit_lead(
            session, before=before, version=version, proposed=proposed, config=self.config, now=at, actor=actor,
            action="consent_revoked_by_reply", destinations=self.destinations,
        )  # fmt: skip
