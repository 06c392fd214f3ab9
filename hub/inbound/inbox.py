"""The durable inbox: every inbound event is stored (encrypted) under its unique event id before
anything else happens to it, then processed by workers.

- ``accept`` is all a webhook request does after verification: one INSERT … ON CONFLICT DO NOTHING.
  A duplicate delivery changes nothing.
- ``process`` claims pending events (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single
  writer serialises), turns each into an inquiry through its source's mapping and commits the lead,
  its follow-ups and outbox rows in the same transaction that marks the event done.
- An event whose payload cannot be mapped is *parked* with a readable reason; after the mapping is
  fixed, ``replay`` sends it through again from the start. Transient failures are retried with
  exponential backoff and jitter; after ``max_attempts`` the event is dead-lettered.
- ``purge`` deletes processed payloads after the retention period (they are PHI).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from connectors.scheduling.calcom import CalcomSettings
from hub.app.metrics import INBOX_PARKED, INBOX_PROCESSED
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig, Source
from hub.store import Store, repo
from hub.store.crypto import Vault
from hub.store.models import InboxRow
from nurture.errors import ConfigError, FatalError, SkipRecord

log = logging.getLogger(__name__)

__all__ = ["Inbox", "ProcessReport"]

#: Sync-cursor name prefix (+ CRM name) of "a webhook announced changes: pull now" (jobs.runtime).
PULL_REQUESTED = "pull_requested:"

#: The columns a webhook request writes.
_ACCEPT_COLUMNS = (
    "source", "event_id", "event_type", "received_at", "payload", "status", "attempts", "next_attempt_at",
)  # fmt: skip

#: What a source's events turn into: an inquiry dict for intake, or None for events that carry no
#: inquiry (a cancellation without a person, a CRM echo) and are simply done.
Mapper = Callable[[Source, Any], "dict[str, Any] | None"]


@dataclass(slots=True)
class ProcessReport:
    """What one ``process`` call did."""

    done: int = 0
    parked: int = 0
    retried: int = 0
    dead: int = 0
    lead_ids: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.done + self.parked + self.retried + self.dead


class Inbox:
    """Accepts and processes inbound events."""

    def __init__(
        self,
        store: Store,
        config: HubConfig,
        vault: Vault,
        intake: Intake,
        mapper: Mapper,
        *,
        rng: random.Random | None = None,
        calcom: CalcomSettings | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.vault = vault
        self.intake = intake
        self.mapper = mapper
        self._rng = rng or random.Random()
        self.calcom = calcom
        # Built once: the request path runs it for every webhook (constructing it each time cost
        # about as much CPU as the round trip to PostgreSQL).
        insert = pg_insert if store.dialect == "postgresql" else sqlite_insert
        table = InboxRow.__table__
        assert isinstance(table, Table)
        self._insert = (
            insert(table)
            .values({name: bindparam(name) for name in _ACCEPT_COLUMNS})
            .on_conflict_do_nothing(index_elements=["source", "event_id"])
            .returning(table.c.id)
        )

    # --- the request path ---------------------------------------------------------------------

    def accept(self, *, source: str, event_id: str, event_type: str, payload: Any, received_at: datetime) -> bool:
        """Store one verified event. Returns True when it is new, False for a duplicate delivery."""
        blob = self.vault.encrypt(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        values = {
            "source": source,
            "event_id": event_id[:200],
            "event_type": event_type[:64],
            "received_at": received_at,
            "payload": blob,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": received_at,
        }
        # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT. Repeating it is safe.
        inserted = bool(self.store.execute_atomic(self._insert, values))
        if inserted:
            log.info("inbox: accepted %s event %s (%s)", source, event_id, event_type)
        else:
            log.info("inbox: duplicate %s event %s ignored", source, event_id)
        return inserted

    # --- the worker path ----------------------------------------------------------------------

    def process(self, *, now: datetime, limit: int = 50) -> ProcessReport:
        """Process up to ``limit`` due events, each in its own transaction."""
        report = ProcessReport()
        try:
            for row_id in self._due_ids(now, limit):
                self._process_one(row_id, now=now, report=report)
        finally:
            for outcome in ("done", "parked", "retried", "dead"):
                if count := getattr(report, outcome):
                    INBOX_PROCESSED.labels(outcome=outcome).inc(count)
        return report

    def _due_ids(self, now: datetime, limit: int) -> list[int]:
        with self.store.tx() as session:
            query = (
                select(InboxRow.id)
                .where(InboxRow.status == "pending", InboxRow.next_attempt_at <= now)
                .order_by(InboxRow.received_at, InboxRow.id)
                .limit(limit)
            )
            return list(session.scalars(query))

    def _claim(self, session: Session, row_id: int) -> InboxRow | None:
        query = select(InboxRow).where(InboxRow.id == row_id, InboxRow.status == "pending")
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return session.scalars(query).one_or_none()

    def _process_one(self, row_id: int, *, now: datetime, report: ProcessReport) -> None:
        try:
            with self.store.tx() as session:
                row = self._claim(session, row_id)
                if row is None:  # another worker has it, or had it
                    return
                source = self.config.sources.get(row.source)
                if source is None:
                    raise SkipRecord(f"source {row.source!r} is no longer configured", code="unknown_source")
                if row.payload is None:
                    raise SkipRecord("payload was purged; it cannot be processed again", code="payload_purged")
                try:
                    payload = json.loads(self.vault.decrypt(row.payload))
                except FatalError as exc:  # one row under a lost key must not stall the inbox
                    raise SkipRecord(str(exc), code="payload_undecryptable") from None
                data = self.mapper(source, payload)
                lead_id = None
                if source.type == "hubspot_v3":  # CRM-side changes: the scheduler pulls HubSpot now
                    repo.set_cursor(session, f"{PULL_REQUESTED}hubspot", now.isoformat(), now=now)
                if data is not None:
                    from hub.inbound.inquiry_schema import inquiry_from_json

                    inquiry = inquiry_from_json(
                        _with_channel(source, data),
                        config=self.config,
                        received_at=row.received_at,
                        source=f"{source.type}:{source.name}",
                    )
                    result = self.intake.submit_in(session, inquiry, actor=f"source:{source.name}", now=now)
                    if not result.ok:
                        rules = ", ".join(f"{v.field}: {v.rule}" for v in result.violations)
                        raise SkipRecord(f"the policy refused the lead ({rules})", code="policy_violation")
                    lead_id = result.lead.id if result.lead else None
                    if source.type in ("calcom", "calendly") and lead_id is not None:
                        self._booking(session, source, payload, lead_id, now=now)
                row.status, row.processed_at, row.lead_id, row.error = "done", now, lead_id, None
                row.attempts += 1
            report.done += 1
            if lead_id:
                report.lead_ids.append(lead_id)
        except SkipRecord as exc:
            source_name = self._park(row_id, exc, now=now)
            report.parked += 1
            INBOX_PARKED.labels(source=source_name, reason=exc.code or "error").inc()
            log.warning("inbox: event %d parked: %s", row_id, exc.code)
        except (ConfigError, FatalError):
            raise
        except Exception as exc:  # transient or unknown: retry later, never lose the event
            dead = self._retry(row_id, type(exc).__name__, now=now)
            if dead:
                report.dead += 1
            else:
                report.retried += 1
            log.warning(
                "inbox: event %d failed (%s), %s",
                row_id,
                type(exc).__name__,
                "dead" if dead else "will retry",
            )

    def _booking(self, session: Session, source: Source, payload: Any, lead_id: str, *, now: datetime) -> None:
        """A Cal.com or Calendly booking, cancellation or no-show moves its lead (the attendee's
        inquiry was committed just before, so the lead exists)."""
        from connectors.scheduling.calcom import booking_event
        from hub.bookings.scheduling import apply_booking

        if not isinstance(payload, dict):
            return
        rescheduled = False
        if source.type == "calendly":
            from connectors.scheduling.calendly_events import booking_event as calendly_event
            from hub.bookings.scheduling import load_calendly_settings

            said = calendly_event(payload, load_calendly_settings(self.config))
            if said is None:
                return  # a routing-form submission: an inquiry only
            booking, rescheduled = said.booking, said.rescheduled
        else:
            event = booking_event(payload, self.calcom or CalcomSettings())
            if event is None or event.booking is None:
                return  # a form event (an inquiry only), or a no-show flag the API must be asked about
            booking = event.booking
        found = repo.load_lead(session, lead_id, for_update=True)
        if found is None:
            return
        lead, version = found
        result = apply_booking(
            session, lead=lead, version=version, booking=booking, config=self.config, now=now,
            actor=f"source:{source.name}", destinations=self.intake.destinations, rescheduled=rescheduled,
        )  # fmt: skip
        if not result.ok:
            rules = ", ".join(f"{v.field}: {v.rule}" for v in result.violations)
            raise SkipRecord(f"the policy refused the booking ({rules})", code="policy_violation")

    def _park(self, row_id: int, reason: SkipRecord, *, now: datetime) -> str:
        """Park the event with its reason (its code and field kept as data); returns its source's name."""
        with self.store.tx() as session:
            source = session.execute(
                update(InboxRow)
                .where(InboxRow.id == row_id)
                .values(
                    status="parked", error=f"{reason.code}: {reason}"[:2000], error_code=reason.code[:80],
                    error_field=reason.field[:200] if reason.field else None, processed_at=now,
                    attempts=InboxRow.attempts + 1,
                )
                .returning(InboxRow.source)
            ).scalar()  # fmt: skip
        return str(source or "unknown")

    def _retry(self, row_id: int, error: str, *, now: datetime) -> bool:
        with self.store.tx() as session:
            row = session.get(InboxRow, row_id)
            if row is None:
                return False
            row.attempts += 1
            row.error = row.error_code = error  # the exception's type: its text may quote the payload
            row.error_field = None
            if row.attempts >= self.config.inbox.max_attempts:
                row.status = "dead"
                return True
            row.next_attempt_at = now + backoff(row.attempts, self._rng)
            return False

    # --- operations ---------------------------------------------------------------------------

    def replay(self, *, source: str | None = None, row_ids: Sequence[int] | None = None, now: datetime) -> int:
        """Send parked (and dead) events through again from the start. Returns how many."""
        with self.store.tx() as session:
            query = update(InboxRow).where(InboxRow.status.in_(("parked", "dead")), InboxRow.payload.is_not(None))
            if source is not None:
                query = query.where(InboxRow.source == source)
            if row_ids is not None:
                query = query.where(InboxRow.id.in_(list(row_ids)))
            result = session.execute(
                query.values(
                    status="pending",
                    next_attempt_at=now,
                    attempts=0,
                    error=None,
                    error_code=None,
                    error_field=None,
                    replays=InboxRow.replays + 1,
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def dismiss(self, row_ids: Sequence[int], *, reason: str, actor: str, now: datetime) -> int:
        """Set parked (and dead) events aside for good, with the reason a person gave: they leave
        Sync errors; each is audited with its former reason code. Returns how many."""
        with self.store.tx() as session:
            rows = list(
                session.scalars(
                    select(InboxRow).where(InboxRow.id.in_(list(row_ids)), InboxRow.status.in_(("parked", "dead")))
                )
            )
            for row in rows:
                repo.audit(
                    session, actor=actor, action="inbox_event_dismissed", subject_type="inbox_event",
                    subject_id=str(row.id), now=now,
                    detail={"source": row.source, "was": row.error_code or "error", "reason": reason},
                )  # fmt: skip
                row.status, row.processed_at = "dismissed", now
            return len(rows)

    def purge(self, *, now: datetime) -> int:
        """Delete payloads of events processed longer ago than the retention period."""
        cutoff = now - timedelta(days=self.config.inbox.retention_days)
        with self.store.tx() as session:
            result = session.execute(
                update(InboxRow)
                .where(InboxRow.status == "done", InboxRow.processed_at < cutoff, InboxRow.payload.is_not(None))
                .values(payload=None)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


def backoff(attempt: int, rng: random.Random, *, base: float = 5.0, cap: float = 3600.0) -> timedelta:
    """Exponential backoff with full jitter: a random wait in [0, min(cap, base * 2**attempt)] s."""
    return timedelta(seconds=rng.uniform(0, min(cap, base * 2**attempt)))


def _with_channel(source: Source, data: dict[str, Any]) -> dict[str, Any]:
    """The source's channel, unless a Standard Webhooks sender (which posts the hub's own inquiry
    JSON) named a more specific one — a call-tracking service covering GBP calls and phone calls."""
    if source.type == "standard_webhook" and data.get("channel"):
        return data
    return {**data, "channel": source.channel.value}
