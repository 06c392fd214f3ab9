"""The outbox: items leased for sending, their outcomes (done, retry with backoff, dead), one
write per external id in flight, the CRM's API budget pause, and an admin's retry or dismissal."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import exists, select, text, update
from sqlalchemy.orm import Session, aliased

from connectors.base import (
    FieldInfo,
    WriteOutcome,
)
from hub.app.metrics import API_CALLS
from hub.inbound.inbox import backoff
from hub.store import repo
from hub.store.models import ConnectionRow, ExternalIdRow, OutboxRow
from hub.sync.base import EngineBase
from hub.sync.model import Destination, OutboxItem, Problem, PushReport
from nurture.errors import BudgetExhausted, RetryLater

log = logging.getLogger(__name__)


class Outbox(EngineBase):
    """Leases, outcomes and the API-budget pause of the outbox."""

    def _lease(
        self, name: str, kinds: Sequence[str], *, now: datetime, limit: int, skip: Collection[int] = ()
    ) -> list[OutboxItem]:
        """Take due items, never one whose record or task another worker holds a write for: one
        write per external id in flight at a time (two workers each creating the same task would
        both send create-only fields, and the later one is refused). Leases of one destination are
        taken one at a time on PostgreSQL (a transaction-scoped advisory lock), so that check is
        exact; SQLite has one writer at a time anyway."""
        with self.store.tx() as session:
            if self.store.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:c, :k)"),
                                {"c": _LEASE_LOCK_CLASS, "k": _lock_key(name)})  # fmt: skip
            held = aliased(OutboxRow)
            query = (
                select(OutboxRow)
                .where(
                    OutboxRow.destination == name,
                    OutboxRow.status == "pending",
                    OutboxRow.kind.in_(list(kinds)),
                    OutboxRow.next_attempt_at <= now,
                    ~exists().where(
                        held.destination == name,
                        held.key == OutboxRow.key,
                        held.status == "pending",
                        held.next_attempt_at > now,
                        held.next_attempt_at <= now + self.lease,
                    ),
                )
                .order_by(OutboxRow.id)
                .limit(limit)
            )
            if skip:
                # Already tried in this push: a failure's backoff is counted from the push's start,
                # and a slow push must not send the same item again before it is due.
                query = query.where(OutboxRow.id.not_in(list(skip)))
            if "upsert_lead" in kinds:
                # Not while the lead's link to a record made in the CRM is still to be written
                # (an upsert by the hub's id before it would make a second record).
                link = aliased(OutboxRow)
                query = query.where(
                    ~exists().where(
                        link.lead_id == OutboxRow.lead_id,
                        link.destination == name,
                        link.kind == "link_record",
                        link.status == "pending",
                    )
                )
            if "upsert_task" in kinds:
                # A task can only be written once its lead's record exists in the CRM: leasing it
                # earlier (its lead's upsert still under way in another worker) would only waste
                # an attempt and delay it.
                query = query.where(
                    exists().where(ExternalIdRow.lead_id == OutboxRow.lead_id, ExternalIdRow.system == name)
                )
            if self.store.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, of=OutboxRow)
            rows = list(session.scalars(query))
            for row in rows:
                row.next_attempt_at = now + self.lease
                row.attempts += 1
            return [OutboxItem(r.id, r.kind, r.key, r.lead_id, r.attempts) for r in rows]

    def _send(
        self, call: Callable[[], list[WriteOutcome]], items: list[OutboxItem], *, now: datetime, report: PushReport
    ) -> list[WriteOutcome] | None:
        """One batch call for ``items`` (none: no call); None when the CRM asked to retry later (the
        items are put back for then). A spent budget propagates: the push pauses."""
        if not items:
            return []
        try:
            return call()
        except BudgetExhausted:
            raise
        except RetryLater as exc:
            self._retry_all(items, str(exc), now=now, retry_after=exc.retry_after, report=report)
            return None

    def _fields(self, dest: Destination, now: datetime) -> Mapping[str, FieldInfo]:
        """The CRM's fields (cached): what the picklist pre-flight checks against."""
        if dest._describe is None or now - dest._describe[0] > dest.describe_ttl:
            dest._describe = (now, dest.connector.describe(dest.connector.lead_object))
        return dest._describe[1]

    def _done(self, session: Session, item_ids: Collection[int], *, now: datetime) -> None:
        """Mark items written (one statement for all of them)."""
        if item_ids:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(list(item_ids)))
                .values(status="done", done_at=now, last_error=None, error_code=None, error_field=None)
            )

    def _fail(self, session: Session, item_id: int, problem: Problem, *, now: datetime) -> None:
        """Not retriable as it is: a sync error for an admin, retriable after a fix."""
        session.execute(update(OutboxRow).where(OutboxRow.id == item_id).values(status="failed", **problem.columns()))
        log.warning("outbox item %d failed: %s", item_id, problem.code)

    def _retry(
        self,
        session: Session,
        item: OutboxItem,
        problem: Problem,
        *,
        now: datetime,
        report: PushReport,
        delay: timedelta | None = None,
    ) -> None:
        """Try the item again later, or dead-letter it after ``max_attempts`` (counted as such)."""
        if item.attempts >= self.config.inbox.max_attempts:
            session.execute(update(OutboxRow).where(OutboxRow.id == item.id).values(status="dead", **problem.columns()))
            report.dead += 1
            return
        report.retrying += 1
        wait = delay if delay is not None else backoff(item.attempts, self._rng, base=2.0, cap=1800.0)
        session.execute(
            update(OutboxRow).where(OutboxRow.id == item.id).values(next_attempt_at=now + wait, **problem.columns())
        )

    def _retry_all(
        self,
        items: Iterable[OutboxItem],
        message: str,
        *,
        now: datetime,
        retry_after: float | None,
        report: PushReport,
    ) -> None:
        delay = timedelta(seconds=retry_after) if retry_after else None
        with self.store.tx() as session:
            for item in items:
                self._retry(session, item, Problem("retry_later", message), now=now, report=report, delay=delay)

    def _settle_failure(
        self,
        session: Session,
        dest: Destination,
        item: OutboxItem,
        outcome: WriteOutcome,
        *,
        now: datetime,
        report: PushReport,
    ) -> None:
        where = f" [field {outcome.field}]" if outcome.field else ""
        problem = Problem(outcome.code, f"{outcome.message}{where} (lead {item.lead_id})", field=outcome.field)
        if outcome.retriable:
            self._retry(session, item, problem, now=now, report=report)
        else:
            self._fail(session, item.id, problem, now=now)
            report.failed += 1

    def _connection(self, session: Session, name: str, now: datetime) -> ConnectionRow:
        row = session.get(ConnectionRow, name)
        if row is None:
            row = ConnectionRow(name=name, status="connected", updated_at=now)
            session.add(row)
        return row

    def _paused(self, name: str, now: datetime) -> bool:
        with self.store.tx() as session:
            row = session.get(ConnectionRow, name)
            return bool(row and row.paused_until and row.paused_until > now)

    def _pause(self, name: str, now: datetime, exc: BudgetExhausted) -> None:
        until = now + timedelta(seconds=exc.retry_after or 3600)
        with self.store.tx() as session:
            row = self._connection(session, name, now)
            row.paused_until, row.detail, row.updated_at = (
                until,
                "daily API allowance spent; queueing locally",
                now,
            )
            # Give back the leases: nothing was sent for them.
            session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.destination == name,
                    OutboxRow.status == "pending",
                    OutboxRow.next_attempt_at > now,
                )
                .values(next_attempt_at=until)
            )
        log.warning("%s: daily API allowance spent; calls paused until %s", name, until.isoformat())

    def _count_calls(self, name: str) -> None:
        """Add the requests the connector sent since the last look to the API-call metric."""
        sent = getattr(self.destinations[name].connector, "requests_sent", None)
        if not isinstance(sent, int):
            return
        with self._calls_lock:
            previous = self._calls_counted.get(name, 0)
            self._calls_counted[name] = max(sent, previous)
        if sent > previous:
            API_CALLS.labels(destination=name).inc(sent - previous)

    def retry_failed(self, *, name: str | None = None, item_ids: Sequence[int] | None = None, now: datetime) -> int:
        """Send failed and dead items again (after the admin fixed the mapping or the CRM)."""
        with self.store.tx() as session:
            query = update(OutboxRow).where(OutboxRow.status.in_(("failed", "dead")))
            if name is not None:
                query = query.where(OutboxRow.destination == name)
            if item_ids is not None:
                query = query.where(OutboxRow.id.in_(list(item_ids)))
            result = session.execute(
                query.values(status="pending", attempts=0, next_attempt_at=now, retries=OutboxRow.retries + 1)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def dismiss_failed(self, item_ids: Sequence[int], *, reason: str, actor: str, now: datetime) -> int:
        """Set failed (and dead) CRM writes aside for good, with the reason a person gave; each is
        audited with its error code. Returns how many."""
        with self.store.tx() as session:
            rows = list(
                session.scalars(
                    select(OutboxRow).where(OutboxRow.id.in_(list(item_ids)), OutboxRow.status.in_(("failed", "dead")))
                )
            )
            for row in rows:
                code = (row.error_code or "error")[:64]
                repo.audit(
                    session, actor=actor, action="outbox_item_dismissed", subject_type="lead", subject_id=row.lead_id,
                    now=now, detail={"item": row.id, "destination": row.destination, "kind": row.kind, "was": code,
                                     "reason": reason},
                )  # fmt: skip
                row.status, row.done_at = "dismissed", now
            return len(rows)

    def _adopt(self, session: Session, dest: Destination, lead_id: str, crm_id: str, *, now: datetime) -> None:
        """Make a record the CRM already holds the lead's: its id is linked now, and the hub's id is
        written onto it (``link_record``) before any upsert by that id may run."""
        save_link(session, lead_id, dest.name, crm_id)
        repo.enqueue(session, destinations=[dest.name], kind="link_record", key=lead_id, lead_id=lead_id, now=now)
        repo.audit(
            session, actor=f"crm:{dest.name}", action="crm_record_linked", subject_type="lead", subject_id=lead_id,
            now=now, detail={"crm_id": crm_id},
        )  # fmt: skip
        log.info("lead %s: linked to %s record %s made in the CRM", lead_id, dest.name, crm_id)


#: The advisory-lock class of outbox leases (identity keys and the scheduler use others).
_LEASE_LOCK_CLASS = int.from_bytes(hashlib.sha256(b"nurturehub outbox lease").digest()[:4], "big", signed=True)


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "big", signed=True)


def requeue(session: Session, destination: str, kind: str, key: str, lead_id: str, *, now: datetime) -> None:
    """Queue a write that will be sent after the one just made, unless one not yet taken by any
    worker is queued already (a taken one may have been sent before the write just made)."""
    waiting = session.scalar(
        select(OutboxRow.id).where(
            OutboxRow.destination == destination,
            OutboxRow.key == key,
            OutboxRow.kind == kind,
            OutboxRow.status == "pending",
            OutboxRow.next_attempt_at <= now,
        )
    )
    if waiting is None:
        repo.enqueue(session, destinations=[destination], kind=kind, key=key, lead_id=lead_id, now=now, new=True)


def group_by_key(items: Iterable[OutboxItem]) -> dict[str, list[OutboxItem]]:
    """Items grouped by external id (lead id or task key), each group oldest first: what one write
    per id in a request settles."""
    groups: dict[str, list[OutboxItem]] = {}
    for item in sorted(items, key=lambda i: i.id):
        groups.setdefault(item.key, []).append(item)
    return groups


def save_link(session: Session, lead_id: str, system: str, crm_id: str) -> None:
    save_links(session, system, {lead_id: crm_id})


def save_links(session: Session, system: str, links: Mapping[str, str]) -> None:
    """Record each lead's record id in ``system`` (lead id → CRM id): one query for those known,
    one insert for the new ones."""
    if not links:
        return
    known = {
        row.lead_id: row
        for row in session.scalars(
            select(ExternalIdRow).where(ExternalIdRow.system == system, ExternalIdRow.lead_id.in_(list(links)))
        )
    }
    for lead_id, crm_id in links.items():
        row = known.get(lead_id)
        if row is None:
            session.add(ExternalIdRow(lead_id=lead_id, system=system, external_id=crm_id))
        elif row.external_id != crm_id:
            row.external_id = crm_id


def crm_id_of(session: Session, lead_id: str, system: str) -> str | None:
    return crm_ids_of(session, [lead_id], system).get(lead_id)


def crm_ids_of(session: Session, lead_ids: Iterable[str], system: str) -> dict[str, str]:
    """The leads' record ids in ``system`` by lead id (one query); leads without one are absent."""
    wanted = list(dict.fromkeys(lead_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(ExternalIdRow.lead_id, ExternalIdRow.external_id).where(
            ExternalIdRow.system == system, ExternalIdRow.lead_id.in_(wanted)
        )
    )
    return {str(lead_id): str(crm_id) for lead_id, crm_id in rows}
