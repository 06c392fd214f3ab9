"""Intake: an inquiry becomes a lead — matched, triaged, routed, planned and queued for the CRMs,
in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from hub.capacity import capacity_refiner
from hub.config import HubConfig
from hub.ids import new_lead_id
from hub.leads import CommitResult, commit_lead
from hub.store import Store, repo
from nurture.consent import KeywordReply, classify_reply
from nurture.contact import InvalidContact, normalize_email, normalize_phone
from nurture.errors import SkipRecord
from nurture.inquiry import Inquiry, merge_inquiry
from nurture.lead import Lead
from nurture.vocab import ConsentState, ContactChannel

log = logging.getLogger(__name__)

__all__ = ["Intake"]


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
            raise SkipRecord(str(exc), field=field, code=exc.code) from None
        lead_id = repo.find_lead_id(session, external_ids=inquiry.external_ids, phone=phone, email=email)
        before, version = None, None
        if lead_id is not None:
            found = repo.load_lead(session, lead_id, for_update=True)
            if found is not None:
                before, version = found
        if classify_reply(inquiry.text) is KeywordReply.STOP:
            return self._opt_out(session, before, version, inquiry, at=at, actor=actor)
        proposed = merge_inquiry(
            before,
            inquiry,
            lead_id=before.id if before else self.id_factory(at),
            settings=self.config.settings,
            phone_region=self.config.phone_region,
        )
        return commit_lead(
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
