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
from hub.inbound import identity
from hub.inbound.inquiry_schema import inquiry_from_json
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig, Source
from hub.store import Store, repo
from hub.store.crypto import Vault
from hub.store.models import InboxRow
from nurture.errors import ConfigError, FatalError, SkipRecord
from nurture.inquiry import Inquiry

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
        self._mark_done = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values(status="done", processed_at=bindparam("now"), lead_id=bindparam("lead_id"), error=None,
                    attempts=table.c.attempts + 1)
        )  # fmt: skip

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
        """Process up to ``limit`` due events in one transaction for the batch (see :meth:`_batch`);
        should any of them fail in it, the batch is rolled back and its events processed each in a
        transaction of its own, where a failure parks or retries that event alone."""
        report = ProcessReport()
        try:
            for row_id in self._batch(now, limit, report):
                self._process_one(row_id, now=now, report=report)
        finally:
            for outcome in ("done", "parked", "retried", "dead"):
                if count := getattr(report, outcome):
                    INBOX_PROCESSED.labels(outcome=outcome).inc(count)
        return report

    def _batch(self, now: datetime, limit: int, report: ProcessReport) -> list[int]:
        """Claim up to ``limit`` due events and process them in one transaction: the identity locks
        of all their people taken first, at once and in one order (so two workers' batches never
        wait on each other in a circle, and two events of one person in a batch are decided one
        after the other, the second seeing the first's lead); an event whose payload cannot be
        mapped is parked in the same transaction; the events done are marked in one statement.
        Returns the events to process one by one instead (all of the batch, when one of them
        failed in it and it was rolled back), or none. On SQLite a batch holds the one write lock
        that webhook requests wait for: it is kept to 10 events there."""
        claimed: list[int] = []
        lead_ids: list[str] = []
        parked: list[tuple[str, SkipRecord]] = []  # counted once the batch has committed
        try:
            with self.store.tx() as session:
                rows = self._claim_due(session, now, limit if self.store.dialect == "postgresql" else min(limit, 10))
                claimed = [row.id for row in rows]
                ready: list[tuple[InboxRow, Source, Any, Inquiry | None]] = []
                keys: list[str] = []
                for row in rows:
                    try:
                        source, payload, inquiry = self._prepare(session, row, now=now)
                        if inquiry is not None:
                            keys += self.intake.identity_keys(inquiry)
                    except SkipRecord as exc:  # nothing was written for it: parked in this batch
                        self._park_row(row, exc, now=now)
                        parked.append((row.source, exc))
                        continue
                    ready.append((row, source, payload, inquiry))
                identity.lock(session, keys)
                done: list[dict[str, Any]] = []
                for row, source, payload, inquiry in ready:
                    lead_id = self._apply(session, row, source, payload, inquiry, now=now, locked=True)
                    done.append({"row_id": row.id, "lead_id": lead_id})
                    if lead_id:
                        lead_ids.append(lead_id)
                if done:
                    session.execute(self._mark_done, [{**d, "now": now} for d in done])
        except (ConfigError, FatalError):
            raise
        except Exception as exc:  # one event failed: the batch is undone, each event goes on alone
            if not claimed:  # the claim itself failed (the database is away): the worker loop says so
                raise
            log.info("inbox: batch of %d rolled back (%s); processing one by one", len(claimed), type(exc).__name__)
            return claimed
        for source_name, reason in parked:
            _parked(source_name, reason)
        report.done += len(ready)
        report.parked += len(parked)
        report.lead_ids += lead_ids
        return []

    def _claim_due(self, session: Session, now: datetime, limit: int) -> list[InboxRow]:
        query = (
            select(InboxRow)
            .where(InboxRow.status == "pending", InboxRow.next_attempt_at <= now)
            .order_by(InboxRow.received_at, InboxRow.id)
            .limit(limit)
        )
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(session.scalars(query))

    def _claim(self, session: Session, row_id: int) -> InboxRow | None:
        query = select(InboxRow).where(InboxRow.id == row_id, InboxRow.status == "pending")
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return session.scalars(query).one_or_none()

    def _prepare(self, session: Session, row: InboxRow, *, now: datetime) -> tuple[Source, Any, Inquiry | None]:
        """The event's source, payload and inquiry (None: an event that carries none).

        Raises:
            SkipRecord: the source is gone, the payload purged or unreadable, or it does not map.
        """
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
        if source.type == "hubspot_v3":  # CRM-side changes: the scheduler pulls HubSpot now
            repo.set_cursor(session, f"{PULL_REQUESTED}hubspot", now.isoformat(), now=now)
        if data is None:
            return source, payload, None
        inquiry = inquiry_from_json(
            _with_channel(source, data), config=self.config, received_at=row.received_at,
            source=f"{source.type}:{source.name}",
        )  # fmt: skip
        return source, payload, inquiry

    def _apply(
        self, session: Session, row: InboxRow, source: Source, payload: Any, inquiry: Inquiry | None, *,
        now: datetime, locked: bool = False,
    ) -> str | None:  # fmt: skip
        """The event's inquiry made into a lead change (and a booking tool's booking applied to
        it) in ``session``. Returns the lead's id, if any.

        Raises:
            SkipRecord: the policy refused the lead or the booking.
        """
        if inquiry is None:
            return None
        result = self.intake.submit_in(session, inquiry, actor=f"source:{source.name}", now=now, locked=locked)
        if not result.ok:
            rules = ", ".join(f"{v.field}: {v.rule}" for v in result.violations)
            raise SkipRecord(f"the policy refused the lead ({rules})", code="policy_violation")
        lead_id = result.lead.id if result.lead else None
        if source.type in ("calcom", "calendly") and lead_id is not None:
            self._booking(session, source, payload, lead_id, now=now)
        return lead_id

    def _process_one(self, row_id: int, *, now: datetime, report: ProcessReport) -> None:
        try:
            with self.store.tx() as session:
                row = self._claim(session, row_id)
                if row is None:  # another worker has it, or had it
                    return
                source, payload, inquiry = self._prepare(session, row, now=now)
                lead_id = self._apply(session, row, source, payload, inquiry, now=now)
                row.status, row.processed_at, row.lead_id, row.error = "done", now, lead_id, None
                row.attempts += 1
            report.done += 1
            if lead_id:
                report.lead_ids.append(lead_id)
        except SkipRecord as exc:
            source_name = self._park(row_id, exc, now=now)
            report.parked += 1
            _parked(source_name, exc)
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
                update(InboxRow).where(InboxRow.id == row_id).values(**_parked_columns(reason, now),
                                                                      attempts=InboxRow.attempts + 1)
                .returning(InboxRow.source)
            ).scalar()  # fmt: skip
        return str(source or "unknown")

    @staticmethod
    def _park_row(row: InboxRow, reason: SkipRecord, *, now: datetime) -> None:
        """Park a claimed event in the caller's transaction."""
        for name, value in _parked_columns(reason, now).items():
            setattr(row, name, value)
        row.attempts += 1

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


def _parked_columns(reason: SkipRecord, now: datetime) -> dict[str, Any]:
    return {
        "status": "parked", "error": f"{reason.code}: {reason}"[:2000], "error_code": reason.code[:80],
        "error_field": reason.field[:200] if reason.field else None, "processed_at": now,
    }  # fmt: skip


def _parked(source: str, reason: SkipRecord) -> None:
    INBOX_PARKED.labels(source=source, reason=reason.code or "error").inc()
    log.warning("inbox: %s event parked: %s", source, reason.code)


def backoff(attempt: int, rng: random.Random, *, base: float = 5.0, cap: float = 3600.0) -> timedelta:
    """Exponential backoff with full jitter: a random wait in [0, min(cap, base * 2**attempt)] s."""
    return timedelta(seconds=rng.uniform(0, min(cap, base * 2**attempt)))


def _with_channel(source: Source, data: dict[str, Any]) -> dict[str, Any]:
    """The source's channel, unless a Standard Webhooks sender (which posts the hub's own inquiry
    JSON) named a more specific one — a call-tracking service covering GBP calls and phone calls."""
    if source.type == "standard_webhook" and data.get("channel"):
        return data
    return {**data, "channel": source.channel.value}
