"""What a coordinator works through: the leads due now and overdue in their queues ("My queue"),
the counts the navigation shows, and the leads list with search, filters and stable paging.

Read side only (query functions answering a page's question with plain dataclasses); the one
write is a person's choice of queues (:func:`set_user_queues`, audited). Names, phones and emails
are returned for coordinators' pages; nothing here logs them, and a search is audited without its
text.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.store.errors import unavailable_on_error
from hub.store.models import LeadRow, UserQueueRow
from nurture.contact import InvalidContact, normalize_email, normalize_phone
from nurture.errors import Refused
from nurture.vocab import CLOSED_STAGES, Channel, Intent, Stage

__all__ = [
    "DUE_SOON",
    "LeadFilters",
    "LeadPage",
    "LeadRowView",
    "QueueCounts",
    "Worklist",
    "audit_search",
    "known_queues",
    "my_queue",
    "nav_counts",
    "queue_counts",
    "search_leads",
    "set_user_queues",
    "user_queues",
]

#: "Due now": what falls due within this span is in the queue with what is overdue.
DUE_SOON = timedelta(hours=1)
_OPEN = [s.value for s in CLOSED_STAGES]


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadRowView:
    """One lead as a list shows it.

    Attributes:
        id: the lead.
        first_name, last_name: the patient's name (PHI: coordinators' pages only).
        channel, intent, stage, score: codes.
        urgent: a red flag fired.
        kind, due_at, queue: its next action (None when closed).
        created_at: when the first inquiry came.
    """

    id: str
    first_name: str
    last_name: str
    channel: str
    intent: str | None
    stage: str
    score: str | None
    urgent: bool
    kind: str | None
    due_at: datetime | None
    queue: str | None
    created_at: datetime

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


_COLUMNS = (
    LeadRow.id,
    LeadRow.first_name,
    LeadRow.last_name,
    LeadRow.channel,
    LeadRow.intent,
    LeadRow.stage,
    LeadRow.score,
    LeadRow.urgent,
    LeadRow.next_action_kind,
    LeadRow.next_action_due_at,
    LeadRow.next_action_queue,
    LeadRow.created_at,
)


def _view(row: Sequence[object]) -> LeadRowView:
    (lead_id, first, last, channel, intent, stage, score, urgent, kind, due, queue, created) = row
    return LeadRowView(
        id=str(lead_id),
        first_name=str(first or ""),
        last_name=str(last or ""),
        channel=str(channel),
        intent=intent if isinstance(intent, str) else None,
        stage=str(stage),
        score=score if isinstance(score, str) else None,
        urgent=bool(urgent),
        kind=kind if isinstance(kind, str) else None,
        due_at=due if isinstance(due, datetime) else None,
        queue=queue if isinstance(queue, str) else None,
        created_at=created,  # type: ignore[arg-type]
    )


# --- a person's queues ---------------------------------------------------------------------------


def user_queues(session: Session, user_id: int) -> list[str]:
    """The queues ``user_id`` works, by name (empty: none chosen, which means every queue)."""
    return sorted(session.scalars(select(UserQueueRow.queue).where(UserQueueRow.user_id == user_id)))


def set_user_queues(session: Session, user_id: int, queues: Iterable[str], *, actor: str, now: datetime) -> list[str]:
    """Replace the queues ``user_id`` works (audited). Returns them, sorted."""
    wanted = sorted({q.strip() for q in queues if q.strip()})
    session.execute(delete(UserQueueRow).where(UserQueueRow.user_id == user_id))
    session.add_all(UserQueueRow(user_id=user_id, queue=q[:120]) for q in wanted)
    repo.audit(
        session, actor=actor, action="user.queues", subject_type="user", subject_id=str(user_id), now=now,
        detail={"queues": wanted},
    )  # fmt: skip
    session.flush()
    return wanted


def known_queues(config: HubConfig, session: Session | None = None) -> list[str]:
    """Every queue the configuration names (channel owners, specialist and language queues), and
    every queue an open lead's next action is in."""
    settings = config.settings
    names = {s.owner_queue for s in settings.channels.values()}
    routing = settings.routing
    names |= {routing.clinical_queue, routing.insurance_queue, routing.referral_queue}
    names |= set(routing.language_queues.values())
    if session is not None:
        names |= {
            q
            for q in session.scalars(
                select(LeadRow.next_action_queue)
                .where(LeadRow.next_action_queue.is_not(None), LeadRow.stage.not_in(_OPEN))
                .distinct()
            )
            if q
        }
    return sorted(n for n in names if n)


# --- My queue -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Worklist:
    """The leads due now and overdue in some queues, urgent first, then the longest overdue.

    Attributes:
        queues: the queues looked at (empty: every queue).
        items: the leads (at most the limit asked for).
        overdue: how many are overdue in all.
        due_soon: how many fall due within :data:`DUE_SOON`.
        urgent: how many of them are urgent.
        as_of: when.
    """

    queues: tuple[str, ...]
    items: tuple[LeadRowView, ...]
    overdue: int
    due_soon: int
    urgent: int
    as_of: datetime

    @property
    def total(self) -> int:
        return self.overdue + self.due_soon


def _due_conditions(queues: Sequence[str], now: datetime, soon: timedelta) -> list[ColumnElement[bool]]:
    where = [
        LeadRow.next_action_kind.is_not(None),
        LeadRow.next_action_due_at < now + soon,
        LeadRow.stage.not_in(_OPEN),
    ]
    if queues:
        where.append(LeadRow.next_action_queue.in_(list(queues)))
    return where


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueCounts:
    """What the navigation shows beside "My queue"."""

    overdue: int = 0
    due_soon: int = 0
    urgent: int = 0

    @property
    def total(self) -> int:
        return self.overdue + self.due_soon


def queue_counts(session: Session, queues: Sequence[str], *, now: datetime, soon: timedelta = DUE_SOON) -> QueueCounts:
    """Overdue, due-soon and urgent counts in ``queues`` (empty: every queue), in one query."""
    late = func.sum(case((LeadRow.next_action_due_at < now, 1), else_=0))
    urgent = func.sum(case((LeadRow.urgent.is_(True), 1), else_=0))
    row = session.execute(
        select(func.count(), func.coalesce(late, 0), func.coalesce(urgent, 0)).where(
            *_due_conditions(queues, now, soon)
        )
    ).one()
    total, overdue, flagged = int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)
    return QueueCounts(overdue=overdue, due_soon=total - overdue, urgent=flagged)


def nav_counts(store: Store, user_id: int, *, now: datetime) -> QueueCounts:
    """The counts of the queues ``user_id`` works, for the navigation, read in a session of their own.

    Raises:
        StoreUnavailable: the database could not answer.
    """
    with unavailable_on_error(), store.session() as session:
        return queue_counts(session, user_queues(session, user_id), now=now)


def my_queue(
    session: Session, queues: Sequence[str], *, now: datetime, soon: timedelta = DUE_SOON, limit: int = 200
) -> Worklist:
    """The leads whose next action is overdue or due within ``soon`` in ``queues``."""
    counts = queue_counts(session, queues, now=now, soon=soon)
    rows = session.execute(
        select(*_COLUMNS)
        .where(*_due_conditions(queues, now, soon))
        .order_by(LeadRow.urgent.desc(), LeadRow.next_action_due_at, LeadRow.id)
        .limit(limit)
    ).all()
    return Worklist(
        queues=tuple(queues),
        items=tuple(_view(r) for r in rows),
        overdue=counts.overdue,
        due_soon=counts.due_soon,
        urgent=counts.urgent,
        as_of=now,
    )


# --- the leads list -------------------------------------------------------------------------------


class FilterError(Refused, ValueError):
    """A filter value the list does not know (the message names the filter, never the value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_filter")


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadFilters:
    """What the leads list shows.

    Attributes:
        search: a name, phone number or email address (PHI: never logged or audited).
        urgent: only urgent leads.
        overdue: only open leads whose next action is overdue.
        intent, channel, queue, stage: codes (None: any). ``stage`` also takes ``open`` and ``closed``.
    """

    search: str = ""
    urgent: bool = False
    overdue: bool = False
    intent: str | None = None
    channel: str | None = None
    queue: str | None = None
    stage: str | None = None

    def __post_init__(self) -> None:
        checks = (
            ("intent", self.intent, {i.value for i in Intent}),
            ("channel", self.channel, {c.value for c in Channel}),
            ("stage", self.stage, {s.value for s in Stage} | {"open", "closed"}),
        )
        for name, value, allowed in checks:
            if value is not None and value not in allowed:
                raise FilterError(f"the {name} filter has a value the list does not know")
        if len(self.search) > 200:
            raise FilterError("a search is limited to 200 characters")

    @property
    def active(self) -> bool:
        return bool(
            self.search or self.urgent or self.overdue or self.intent or self.channel or self.queue or self.stage
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadPage:
    """One page of the leads list, newest first.

    Attributes:
        rows: the leads on this page.
        next_cursor: the cursor of the next (older) page, or None on the last page.
        searched_by: how the search text was read (``name``, ``phone``, ``email``), or None.
    """

    rows: tuple[LeadRowView, ...]
    next_cursor: str | None
    searched_by: str | None = None


def encode_cursor(created_at: datetime, lead_id: str) -> str:
    """An opaque page cursor: the last row's creation time and id."""
    raw = f"{created_at.isoformat()}|{lead_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises FilterError for a cursor this module did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, lead_id = raw.partition("|")
        when = datetime.fromisoformat(at)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise FilterError("the page link is malformed") from None
    if when.tzinfo is None or not lead_id:
        raise FilterError("the page link is malformed")
    return when, lead_id


def _search_condition(text: str, phone_region: str) -> tuple[ColumnElement[bool], str]:
    """The condition for a search, and what it was read as."""
    text = text.strip()
    if "@" in text:
        try:
            return LeadRow.email == normalize_email(text), "email"
        except InvalidContact:
            return func.lower(LeadRow.email).like(f"%{_escape_like(text.lower())}%", escape="\\"), "email"
    digits = sum(ch.isdigit() for ch in text)
    if digits >= 7 and digits >= len(text.replace(" ", "")) * 0.6:
        try:
            return LeadRow.phone == normalize_phone(text, default_region=phone_region), "phone"
        except InvalidContact:
            only = "".join(ch for ch in text if ch.isdigit())
            return LeadRow.phone.like(f"%{only}%"), "phone"
    words = [w for w in text.lower().split() if w]
    full = func.lower(LeadRow.first_name + " " + LeadRow.last_name)
    return and_(*(full.like(f"%{_escape_like(w)}%", escape="\\") for w in words)), "name"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_leads(
    session: Session,
    filters: LeadFilters,
    *,
    now: datetime,
    cursor: str | None = None,
    page_size: int = 50,
    phone_region: str = "US",
) -> LeadPage:
    """One page of leads matching ``filters``, newest first, paged by (created time, id).

    Raises:
        FilterError: a malformed cursor.
    """
    where: list[ColumnElement[bool]] = []
    searched_by = None
    if filters.search.strip():
        condition, searched_by = _search_condition(filters.search, phone_region)
        where.append(condition)
    if filters.urgent:
        where.append(LeadRow.urgent.is_(True))
    if filters.overdue:
        where += [
            LeadRow.next_action_due_at < now,
            LeadRow.next_action_kind.is_not(None),
            LeadRow.stage.not_in(_OPEN),
        ]
    if filters.intent:
        where.append(LeadRow.intent == filters.intent)
    if filters.channel:
        where.append(LeadRow.channel == filters.channel)
    if filters.queue:
        where.append(LeadRow.next_action_queue == filters.queue)
    if filters.stage == "open":
        where.append(LeadRow.stage.not_in(_OPEN))
    elif filters.stage == "closed":
        where.append(LeadRow.stage.in_(_OPEN))
    elif filters.stage:
        where.append(LeadRow.stage == filters.stage)
    if cursor:
        at, lead_id = decode_cursor(cursor)
        where.append(or_(LeadRow.created_at < at, and_(LeadRow.created_at == at, LeadRow.id < lead_id)))
    rows = session.execute(
        select(*_COLUMNS).where(*where).order_by(LeadRow.created_at.desc(), LeadRow.id.desc()).limit(page_size + 1)
    ).all()
    views = [_view(r) for r in rows[:page_size]]
    more = len(rows) > page_size
    return LeadPage(
        rows=tuple(views),
        next_cursor=encode_cursor(views[-1].created_at, views[-1].id) if more and views else None,
        searched_by=searched_by,
    )


def audit_search(session: Session, found: LeadPage, *, actor: str, now: datetime, via: str | None = None) -> None:
    """Record that ``actor`` searched the leads, without the text searched for (it is PHI): how it
    was read and how many leads it found (``via``: where from, when not the web UI)."""
    detail: dict[str, object] = {"by": found.searched_by, "results": len(found.rows)}
    if via is not None:
        detail["via"] = via
    repo.audit(session, actor=actor, action="lead.search", subject_type="lead", subject_id="*", now=now, detail=detail)
