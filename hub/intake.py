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
from nurture.contact import InvalidContact, normalize_email, normalize_phone
from nurture.errors import SkipRecord
from nurture.inquiry import Inquiry, merge_inquiry

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
            raise SkipRecord(str(exc), field=field, code="invalid_contact") from None
        lead_id = repo.find_lead_id(session, external_ids=inquiry.external_ids, phone=phone, email=email)
        before, version = None, None
        if lead_id is not None:
            found = repo.load_lead(session, lead_id, for_update=True)
            if found is not None:
                before, version = found
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
