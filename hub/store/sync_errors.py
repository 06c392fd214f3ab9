"""The sync errors as plain data: CRM writes that failed (outbox ``failed`` / ``dead``) and inbound
events that could not be processed (inbox ``parked`` / ``dead``), one :class:`SyncErrorItem` each,
their count, and a parked event's stored (encrypted) payload. Sending them again or dismissing them
is the sync engine's and the inbox's. Every function takes the session of the caller's
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.store.models import InboxRow, OutboxRow

__all__ = ["FAILED_INBOX", "FAILED_OUTBOX", "SyncErrorItem", "inbox_payload", "sync_error_count", "sync_error_items"]

#: The outbox's statuses of a CRM write that failed.
FAILED_OUTBOX = ("failed", "dead")
#: The inbox's statuses of an inbound event that could not be processed.
FAILED_INBOX = ("parked", "dead")


@dataclass(frozen=True, slots=True)
class SyncErrorItem:
    """One sync error.

    Attributes:
        origin: ``outbox`` (a CRM write) or ``inbox`` (an inbound event).
        id: the outbox or inbox row's id.
        where: the CRM (outbox) or the source (inbox).
        what: the write's kind or the event's type.
        kind: the error code (``error`` when none was kept).
        field: the field at fault ("" when not known).
        attempts: how many times it was tried.
        at: when the write was queued or the event received.
        message: the error's text (record values removed).
        again: times it was sent again before failing this time.
    """

    origin: str
    id: int
    where: str
    what: str
    status: str
    kind: str
    field: str
    lead_id: str | None
    attempts: int
    at: datetime
    message: str
    again: int = 0


def sync_error_items(session: Session, *, limit: int) -> list[SyncErrorItem]:
    """The failed CRM writes, oldest first, then the events that could not be processed, oldest
    first: at most ``limit`` of each."""
    items: list[SyncErrorItem] = []
    outbox = select(OutboxRow).where(OutboxRow.status.in_(FAILED_OUTBOX)).order_by(OutboxRow.id).limit(limit)
    for row in session.scalars(outbox):
        items.append(
            SyncErrorItem(
                "outbox",
                row.id,
                row.destination,
                row.kind,
                row.status,
                row.error_code or "error",
                row.error_field or "",
                row.lead_id,
                row.attempts,
                row.created_at,
                row.last_error or "",
                row.retries,
            )
        )
    inbox = select(InboxRow).where(InboxRow.status.in_(FAILED_INBOX)).order_by(InboxRow.id).limit(limit)
    for event in session.scalars(inbox):
        items.append(
            SyncErrorItem(
                "inbox",
                event.id,
                event.source,
                event.event_type,
                event.status,
                event.error_code or "error",
                event.error_field or "",
                event.lead_id,
                event.attempts,
                event.received_at,
                event.error or "",
                event.replays,
            )
        )
    return items


def sync_error_count(session: Session) -> int:
    """How many sync errors there are (failed CRM writes and unprocessed inbound events)."""
    outbox = session.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.status.in_(FAILED_OUTBOX)))
    inbox = session.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.status.in_(FAILED_INBOX)))
    return int(outbox or 0) + int(inbox or 0)


def inbox_payload(session: Session, row_id: int) -> bytes | None:
    """The stored (encrypted) payload of inbound event ``row_id``; None when there is no such event
    or its payload was purged."""
    row = session.get(InboxRow, row_id)
    return None if row is None else row.payload
