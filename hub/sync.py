"""The two-way sync between the hub and each connected CRM.

**Push** drains the outbox per destination in batches (sObject Collections of 200, HubSpot batches
of 100): each item is *leased* (its next attempt moved a few minutes ahead, its attempt counted) in
a short transaction, the payload is built from the store as it is now, the connector writes it
idempotently (upsert by the hub's id; tasks by lead + step), and the outcomes are recorded in a
second short transaction. A crash anywhere leaves the item to come due again when its lease runs
out, and the retry is harmless because every external write is an upsert. No database lock is held
while a CRM is called, so webhooks keep being accepted.

**Pull** reads what changed in the CRM since the saved cursor, minus an overlap window (a record
committed late with an earlier stamp is not lost; records read twice change nothing, because only
values that differ from the hub's are changes — which is also how the hub's own writes are not read
back as new changes). Each change is mapped back with the CRM mapping's inbound rules, resolved
field by field with the rule's conflict policy, and committed through the same policy as every
other lead change. Opt-outs always win; consent *grants* never come in from a CRM (a grant needs
the wording the patient saw). Task completions become touches that advance the cadence.

**Reconcile** notices CRM records that were merged away or deleted and flags their leads.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import event, exists, select, text, update
from sqlalchemy.orm import Session, aliased

from connectors.base import (
    Change,
    CrmConnector,
    FieldInfo,
    RecordWrite,
    TaskChange,
    TaskKind,
    TaskState,
    TaskWrite,
    WriteOutcome,
)
from hub import conversions
from hub.config import HubConfig
from hub.inbox import backoff
from hub.leads import commit_lead
from hub.metrics import API_BUDGET_REMAINING, API_CALLS, OUTBOX_PROCESSED, SPEED_TO_LEAD
from hub.store import Store, repo
from hub.store.models import ConnectionRow, ExternalIdRow, FollowUpRow, LeadRow, OutboxRow, ViolationRow
from hub.views import lead_view
from mapping.apply import apply_inbound, apply_outbound
from mapping.conflicts import resolve
from mapping.defaults import default_crm_mapping
from mapping.spec import FieldMapping, Rule
from nurture.errors import BudgetExhausted, RetryLater
from nurture.lead import Lead, NextAction
from nurture.policy import ALLOWED_TRANSITIONS
from nurture.touches import Touch
from nurture.vocab import ConsentState, ContactChannel, NextActionKind, Stage, TouchOutcome

log = logging.getLogger(__name__)

__all__ = ["Destination", "PullReport", "PushReport", "SyncEngine"]

#: The repair task's step key: "set the next action" for a lead contacted without one.
REPAIR_STEP = "set_next_action"
_TASK_KIND = {"call": TaskKind.CALL, "email": TaskKind.EMAIL, "sms": TaskKind.SMS}
_OUTCOME = {
    "no_answer": TouchOutcome.MISSED,
    "left_voicemail": TouchOutcome.LEFT_VOICEMAIL,
    "reached": TouchOutcome.REACHED,
    "booked": TouchOutcome.REACHED,
    "declined": TouchOutcome.REACHED,
}


#: Stages in which a CRM status saying "contacted" must come with a next action.
_BEFORE_BOOKING = frozenset({Stage.NEW, Stage.ATTEMPTING, Stage.REACHED})

#: The CRM field showing the hub's next action, per CRM (read for the "contacted without a next
#: action" rule).
NEXT_ACTION_FIELD = {"salesforce": "Next_Action__c", "hubspot": "nurturehub_next_action"}


@dataclass(slots=True, kw_only=True)
class Destination:
    """One connected CRM.

    Attributes:
        name: the destination name in the outbox ("salesforce", "hubspot").
        connector: how to reach it.
        mapping: the CRM object mapping (lead view ↔ CRM fields).
        next_action_field: the CRM field showing the hub's next action (read for the repair rule).
        overlap: how far before the saved cursor each pull starts again.

    An outbox item is dead-lettered after ``[inbox] max_attempts`` attempts, as inbox events are.
    """

    name: str
    connector: CrmConnector
    mapping: FieldMapping
    next_action_field: str
    overlap: timedelta = timedelta(minutes=5)
    describe_ttl: timedelta = timedelta(hours=1)
    _describe: tuple[datetime, Mapping[str, FieldInfo]] | None = field(default=None, repr=False)

    @classmethod
    def default(cls, name: str, connector: CrmConnector, *, obj: str | None = None) -> Destination:
        """A CRM with the built-in mapping of its object (Salesforce ``Lead`` unless ``obj``; HubSpot
        contacts) and its next-action field."""
        obj = obj or ("Lead" if name == "salesforce" else "contacts")
        return cls(
            name=name, connector=connector, mapping=default_crm_mapping(name, obj),
            next_action_field=NEXT_ACTION_FIELD[name],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an outbox item did not go through, as data: the code Sync errors groups it by (ours, or
    the CRM's), the field at fault when one is, and a sentence (ids and field names, never values).
    Stored as columns beside the message, so nothing reads the code back out of the text."""

    code: str
    text: str
    field: str | None = None

    @property
    def message(self) -> str:
        return f"{self.code}: {self.text}"

    def columns(self) -> dict[str, str | None]:
        return {
            "last_error": self.message[:2000],
            "error_code": self.code[:80],
            "error_field": self.field[:200] if self.field else None,
        }


@dataclass(slots=True)
class PushReport:
    written: int = 0
    failed: int = 0
    retrying: int = 0
    dead: int = 0
    calls: int = 0
    paused: bool = False
    #: Lead writes not sent because the CRM converted the record (read-only there).
    skipped: int = 0


@dataclass(slots=True)
class PullReport:
    records: int = 0
    changed: int = 0
    violations: int = 0
    tasks: int = 0
    touches: int = 0


@dataclass(frozen=True, slots=True)
class _Item:
    id: int
    kind: str
    key: str
    lead_id: str
    attempts: int


class SyncEngine:
    """Push and pull for every destination."""

    def __init__(
        self,
        store: Store,
        config: HubConfig,
        destinations: Mapping[str, Destination],
        *,
        rng: random.Random | None = None,
        base_url: str = "",
    ) -> None:
        self.store = store
        self.config = config
        self.destinations = dict(destinations)
        self._rng = rng or random.Random()
        self.base_url = base_url.rstrip("/")
        #: How long a claimed outbox item is reserved for the worker that claimed it.
        self.lease = timedelta(seconds=config.jobs.lease_seconds)
        self._calls_counted: dict[str, int] = {}
        self._calls_lock = threading.Lock()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.destinations)

    # ------------------------------------------------------------------------------------------
    # push

    def push(self, name: str, *, now: datetime, limit: int = 2000) -> PushReport:
        """Drain up to ``limit`` due outbox items for ``name``: lead upserts first, then tasks."""
        dest = self.destinations[name]
        report = PushReport()
        begun = time.monotonic()
        if self._paused(name, now):
            report.paused = True
            return report
        tried: set[int] = set()  # an item is tried once per push: a retry waits for its backoff
        try:
            # Links first: a lead's record made in the CRM gets the hub's id before any upsert by it.
            for kinds in (("link_record",), ("upsert_lead",), ("upsert_task", "cancel_task")):
                while report.written + report.failed + report.retrying + report.dead < limit:
                    # Leases are stamped with the time as it is now, not as it was when this push
                    # began: a long push would otherwise lease items that already look expired
                    # to other workers (and think theirs expired), and both would send them.
                    current = now + timedelta(seconds=time.monotonic() - begun)
                    items = self._lease(name, kinds, now=current, limit=dest.connector.max_batch, skip=tried)
                    if not items:
                        break
                    tried.update(item.id for item in items)
                    report.calls += 1
                    if kinds == ("link_record",):
                        self._push_links(dest, items, now=now, report=report)
                    elif kinds == ("upsert_lead",):
                        self._push_leads(dest, items, now=now, report=report)
                    else:
                        self._push_tasks(dest, items, now=now, report=report)
        except BudgetExhausted as exc:
            self._pause(name, now, exc)
            report.paused = True
        finally:
            self._count_calls(name)
        for outcome in ("written", "failed", "retrying", "dead"):
            if count := getattr(report, outcome):
                OUTBOX_PROCESSED.labels(destination=name, outcome=outcome).inc(count)
        if report.calls:  # an idle worker loop writes nothing
            with self.store.tx() as session:
                row = self._connection(session, name, now)
                row.last_push_at = now
                # The API usage the CRM reported on its last answer (Sforce-Limit-Info), when it did.
                used: object = getattr(dest.connector, "api_used", None)
                allowance: object = getattr(dest.connector, "api_limit", None)
                if isinstance(used, int) and isinstance(allowance, int):
                    row.api_used, row.api_limit = used, allowance
                    API_BUDGET_REMAINING.labels(destination=name).set(allowance - used)
        return report

    def _lease(
        self, name: str, kinds: Sequence[str], *, now: datetime, limit: int, skip: Collection[int] = ()
    ) -> list[_Item]:
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
            return [_Item(r.id, r.kind, r.key, r.lead_id, r.attempts) for r in rows]

    def _push_links(self, dest: Destination, items: list[_Item], *, now: datetime, report: PushReport) -> None:
        with self.store.tx() as session:
            pairs = {item.lead_id: _crm_id(session, item.lead_id, dest.name) for item in items}
        links = [(crm_id, lead_id) for lead_id, crm_id in pairs.items() if crm_id]
        sent = self._send(lambda: dest.connector.link(links), items if links else [], now=now, report=report)
        if sent is None:
            return
        outcomes = {o.key: o for o in sent}
        with self.store.tx() as session:
            for item in items:
                outcome = outcomes.get(item.lead_id)
                if outcome is None:
                    self._fail(
                        session, item.id, Problem("link", f"lead {item.lead_id} has no {dest.name} record to link"),
                        now=now,
                    )  # fmt: skip
                    report.failed += 1
                elif outcome.ok:
                    self._done(session, item.id, now=now)
                    report.written += 1
                else:
                    self._settle_failure(session, dest, item, outcome, now=now, report=report)

    def _send(
        self, call: Callable[[], list[WriteOutcome]], items: list[_Item], *, now: datetime, report: PushReport
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

    def _push_leads(self, dest: Destination, items: list[_Item], *, now: datetime, report: PushReport) -> None:
        writes: list[RecordWrite] = []
        by_key = _by_key(items)  # one write per lead, whatever number of upserts were queued for it
        failures: dict[int, Problem] = {}
        versions: dict[str, int] = {}  # the version each write was built from
        fields = self._fields(dest, now)
        with self.store.tx() as session:
            # A record the CRM converted is read-only there: not written again (its tasks follow
            # the contact it became, see hub.conversions).
            converted = conversions.converted(session, dest.name, [i.lead_id for i in items])
            for key, group in list(by_key.items()):
                if group[0].lead_id in converted:
                    for item in by_key.pop(key):
                        self._done(session, item.id, now=now)
                        report.skipped += 1
                    continue
                found = repo.load_lead(session, group[0].lead_id)
                problem = None
                if found is None:
                    problem = Problem("lead_missing", "the lead no longer exists in the hub")
                else:
                    result = apply_outbound(dest.mapping, lead_view(found[0]))
                    problems = [f"{e.target}: {e.message}" for e in result.errors]
                    problems += _picklist_problems(result.values, fields, dest.name)
                    if problems:
                        problem = Problem("mapping", "; ".join(problems))
                    else:
                        values = {k: _wire(v) for k, v in result.values.items()}
                        writes.append(RecordWrite(external_id=key, fields=values))
                        versions[key] = found[1]
                if problem is not None:
                    for item in by_key.pop(key):
                        failures[item.id] = problem
        sending = [item for group in by_key.values() for item in group]
        outcomes = self._send(lambda: dest.connector.upsert(writes), sending, now=now, report=report) if writes else []
        with self.store.tx() as session:
            for item_id, message in failures.items():
                self._fail(session, item_id, message, now=now)
                report.failed += 1
            if outcomes is None:
                return
            answered: set[str] = set()
            for outcome in outcomes:
                group = by_key.get(outcome.key, [])
                answered.add(outcome.key)
                if not group:
                    continue
                lead_id = group[0].lead_id
                if outcome.ok:
                    for item in group:
                        self._done(session, item.id, now=now)
                        report.written += 1
                    if outcome.crm_id:
                        _link(session, lead_id, dest.name, outcome.crm_id)
                    if outcome.notes:  # a value shortened to fit this CRM's field: written, noted
                        repo.audit(
                            session, actor=f"crm:{dest.name}", action="crm_value_shortened", subject_type="lead",
                            subject_id=lead_id, now=now, detail={"notes": list(outcome.notes)},
                        )  # fmt: skip
                    now_version = session.scalar(select(LeadRow.version).where(LeadRow.id == lead_id))
                    if now_version is not None and now_version != versions.get(outcome.key):
                        # The lead changed while this write was on its way (another worker may have
                        # sent the newer state first): send the newest state once more, after this.
                        _requeue(session, dest.name, "upsert_lead", outcome.key, lead_id, now=now)
                elif outcome.converted is not None:
                    record_id = outcome.crm_id or _crm_id(session, lead_id, dest.name) or ""
                    conversions.record(
                        session, lead_id=lead_id, system=dest.name, record_id=record_id,
                        conversion=outcome.converted, now=now,
                    )  # fmt: skip
                    for item in group:
                        self._done(session, item.id, now=now)
                        report.skipped += 1
                elif outcome.duplicate_of and _crm_id(session, lead_id, dest.name) is None:
                    # The CRM already holds this person (made there by staff): link, then upsert.
                    self._adopt(session, dest, lead_id, outcome.duplicate_of, now=now)
                    for item in group:
                        self._retry(session, item, Problem(outcome.code, "linking to the record the CRM holds"),
                                    now=now, report=report, delay=timedelta(0))  # fmt: skip
                else:
                    for item in group:
                        self._settle_failure(session, dest, item, outcome, now=now, report=report)
            for key, group in by_key.items():
                if key not in answered:
                    for item in group:
                        self._retry(session, item, Problem("no_outcome", "the CRM did not answer for this record"),
                                    now=now, report=report)  # fmt: skip

    def _push_tasks(self, dest: Destination, items: list[_Item], *, now: datetime, report: PushReport) -> None:
        """One write per task key, in the state the store holds now: an upsert and a cancel for the
        same task in one batch are one cancel (never two writes for one external id in a request),
        and every item taken is settled with the outcome of its key's write."""
        writes: list[TaskWrite] = []
        by_key: dict[str, list[_Item]] = {}
        waiting: list[_Item] = []
        failures: dict[int, Problem] = {}
        settled: list[_Item] = []  # nothing to write any more (the task was completed by staff)
        for key, group in _by_key(items).items():
            by_key[key] = group
        with self.store.tx() as session:
            converted = conversions.converted(session, dest.name, [i.lead_id for i in items])
            for key, group in list(by_key.items()):
                lead_id, _, step = key.partition(":")
                # A converted lead's tasks go to the contact it became.
                moved = conversions.task_target(session, lead_id, dest.name) if lead_id in converted else None
                crm_id = moved or _crm_id(session, lead_id, dest.name)
                if crm_id is None:
                    waiting += by_key.pop(key)  # the lead's own upsert has not landed yet
                    continue
                final = group[-1].kind  # the newest decision, where the store has no follow-up
                task = self._task(session, lead_id, step, crm_id, cancelled=final == "cancel_task", now=now)
                if task is None:
                    for item in by_key.pop(key):
                        failures[item.id] = Problem("follow_up_missing", f"no follow-up {step!r} for lead {lead_id}")
                    continue
                if task == "completed":
                    settled += by_key.pop(key)
                    continue
                writes.append(task)
        sending = [item for group in by_key.values() for item in group]
        sent = self._send(lambda: dest.connector.upsert_tasks(writes), sending, now=now, report=report)
        outcomes = sent or []  # None: put back for a retry; the failures and waits below still settle
        with self.store.tx() as session:
            for item in waiting:
                self._retry(
                    session,
                    item,
                    Problem("waiting_for_record", "waiting for the lead's record in the CRM"),
                    now=now,
                    report=report,
                    delay=timedelta(seconds=5),
                )
            for item_id, message in failures.items():
                self._fail(session, item_id, message, now=now)
                report.failed += 1
            for item in settled:
                self._done(session, item.id, now=now)
                report.written += 1
            answered: set[str] = set()
            for outcome in outcomes:
                group = by_key.get(outcome.key, [])
                answered.add(outcome.key)
                if outcome.ok:
                    lead_id, _, step = outcome.key.partition(":")
                    for item in group:
                        self._done(session, item.id, now=now)
                        report.written += 1
                    write = next((w for w in writes if w.key == outcome.key), None)
                    if write is not None and step != REPAIR_STEP:
                        status = session.scalar(
                            select(FollowUpRow.status).where(
                                FollowUpRow.lead_id == lead_id, FollowUpRow.step_key == step
                            )
                        )
                        # The follow-up changed while this write was on its way (a booking withdrew
                        # it, say, and another worker's cancel may have landed first): write the
                        # state the store holds now once more, after this one.
                        if write.state is TaskState.OPEN and status == "cancelled":
                            _requeue(session, dest.name, "cancel_task", outcome.key, lead_id, now=now)
                        elif write.state is TaskState.CANCELLED and status in ("planned", *repo.WITH_TASK):
                            _requeue(session, dest.name, "upsert_task", outcome.key, lead_id, now=now)
                    if write is not None and write.state is TaskState.OPEN:
                        session.execute(
                            update(FollowUpRow)
                            .where(
                                FollowUpRow.lead_id == lead_id,
                                FollowUpRow.step_key == step,
                                FollowUpRow.status == "task_requested",
                            )
                            .values(status="task_created", updated_at=now)
                        )
                elif outcome.converted is not None:  # its lead was converted: send it to the contact
                    lead_id = outcome.key.partition(":")[0]
                    conversions.record(
                        session, lead_id=lead_id, system=dest.name,
                        record_id=_crm_id(session, lead_id, dest.name) or "", conversion=outcome.converted, now=now,
                    )  # fmt: skip
                    for item in group:
                        self._retry(session, item, Problem(outcome.code, "the lead was converted; moving the task "
                                    "to its contact"), now=now, report=report, delay=timedelta(0))  # fmt: skip
                else:
                    for item in group:
                        self._settle_failure(session, dest, item, outcome, now=now, report=report)
            if sent is not None:  # a CRM that answered for fewer tasks than it was sent: try those again
                for key, group in by_key.items():
                    if key not in answered:
                        for item in group:
                            self._retry(session, item, Problem("no_outcome", "the CRM did not answer for this task"),
                                        now=now, report=report)  # fmt: skip

    def _task(
        self, session: Session, lead_id: str, step: str, crm_id: str, *, cancelled: bool, now: datetime
    ) -> TaskWrite | Literal["completed"] | None:
        """The task as the store says it should be now: open, cancelled (its follow-up was), or
        "completed" (staff completed it: the hub never writes over that); None when there is no
        such follow-up. ``cancelled`` is the newest queued decision, used for the repair task,
        which has no follow-up row."""
        link = f" Open it in nurturehub: {self.base_url}/leads/{lead_id}" if self.base_url else ""
        if step == REPAIR_STEP:
            state = TaskState.CANCELLED if cancelled else TaskState.OPEN
            lead = repo.load_lead(session, lead_id)
            queue = lead[0].next_action.owner_queue if lead and lead[0].next_action else "Front Desk"
            return TaskWrite(
                key=f"{lead_id}:{step}",
                lead_crm_id=crm_id,
                subject=f"Set the next action — lead {lead_id}",
                body="This lead was marked contacted without a next action. Record what happens next "
                "(book, call back, verify insurance …) with its due time." + link,
                kind=TaskKind.TODO,
                due_at=now,
                owner_queue=queue,
                state=state,
            )
        row = session.scalars(
            select(FollowUpRow).where(FollowUpRow.lead_id == lead_id, FollowUpRow.step_key == step)
        ).one_or_none()
        if row is None:
            return None
        if row.status == "done":
            return "completed"
        state = TaskState.CANCELLED if row.status == "cancelled" else TaskState.OPEN
        template = f" Approved script/template: {row.template}." if row.template else ""
        return TaskWrite(
            key=f"{lead_id}:{step}",
            lead_crm_id=crm_id,
            subject=f"{row.label} — lead {lead_id}",
            body=f"nurturehub follow-up ({step}) by {row.channel or 'task'}.{template}{link}",
            kind=_TASK_KIND.get(row.channel or "", TaskKind.TODO),
            due_at=row.due_at,
            owner_queue=row.owner_queue,
            state=state,
        )

    def _fields(self, dest: Destination, now: datetime) -> Mapping[str, FieldInfo]:
        """The CRM's fields (cached): what the picklist pre-flight checks against."""
        if dest._describe is None or now - dest._describe[0] > dest.describe_ttl:
            dest._describe = (now, dest.connector.describe(dest.connector.lead_object))
        return dest._describe[1]

    # --- recording outcomes -------------------------------------------------------------------

    def _done(self, session: Session, item_id: int, *, now: datetime) -> None:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == item_id)
            .values(status="done", done_at=now, last_error=None, error_code=None, error_field=None)
        )

    def _fail(self, session: Session, item_id: int, problem: Problem, *, now: datetime) -> None:
        """Not retriable as it is: a sync error for an admin, retriable after a fix."""
        session.execute(update(OutboxRow).where(OutboxRow.id == item_id).values(status="failed", **problem.columns()))
        log.warning("outbox item %d failed: %s", item_id, problem.code)

    def _retry(
        self,
        session: Session,
        item: _Item,
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
        items: Iterable[_Item],
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
        item: _Item,
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

    # --- pausing on a spent budget ------------------------------------------------------------

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

    # ------------------------------------------------------------------------------------------
    # pull

    def pull(self, name: str, *, now: datetime, backfill: bool = False) -> PullReport:
        """Read lead and task changes from ``name`` since the saved cursors."""
        dest = self.destinations[name]
        report = PullReport()
        if self._paused(name, now):
            return report
        try:
            self._pull_records(dest, now=now, backfill=backfill, report=report)
            self._pull_tasks(dest, now=now, backfill=backfill, report=report)
        except BudgetExhausted as exc:
            self._pause(name, now, exc)
        finally:
            self._count_calls(name)
        with self.store.tx() as session:
            self._connection(session, name, now).last_pull_at = now
        return report

    def queue_backfill(self, name: str, *, now: datetime) -> int:
        """Queue every lead the CRM ``name`` does not hold yet (made before it was connected), with
        the open follow-up tasks it should show. Idempotent: a write already pending is not queued
        twice, and a lead with a record there is left to the ordinary sync. Returns the leads queued."""
        queued = 0
        known = select(ExternalIdRow.lead_id).where(ExternalIdRow.system == name)
        with self.store.tx() as session:
            lead_ids = list(session.scalars(select(LeadRow.id).where(LeadRow.id.not_in(known)).order_by(LeadRow.id)))
        for start in range(0, len(lead_ids), 500):
            with self.store.tx() as session:
                for lead_id in lead_ids[start : start + 500]:
                    repo.enqueue(
                        session, destinations=[name], kind="upsert_lead", key=lead_id, lead_id=lead_id, now=now
                    )
                    for row in repo.follow_ups(session, lead_id):
                        if row.channel is not None and row.status in ("task_requested", "task_created"):
                            key = f"{lead_id}:{row.step_key}"
                            repo.enqueue(
                                session, destinations=[name], kind="upsert_task", key=key, lead_id=lead_id, now=now
                            )
                    queued += 1
        log.info("%s: backfill queued %d leads", name, queued)
        return queued

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

    def _since(self, cursor_name: str, dest: Destination, backfill: bool) -> datetime | None:
        if backfill:
            return None
        with self.store.tx() as session:
            value = repo.get_cursor(session, cursor_name)
        return datetime.fromisoformat(value) - dest.overlap if value else None

    def _advance(self, cursor_name: str, seen: datetime | None, now: datetime) -> None:
        if seen is None:
            return
        with self.store.tx() as session:
            current = repo.get_cursor(session, cursor_name)
            if current is None or datetime.fromisoformat(current) < seen:
                repo.set_cursor(session, cursor_name, seen.isoformat(), now=now)

    def _pull_records(self, dest: Destination, *, now: datetime, backfill: bool, report: PullReport) -> None:
        cursor = f"{dest.name}:records"
        fields = sorted({r.target for r in dest.mapping.inbound_rules()} | {dest.next_action_field})
        seen: datetime | None = None
        for change in dest.connector.read_changes(self._since(cursor, dest, backfill), fields):
            report.records += 1
            self._apply_change(dest, change, now=now, report=report)
            seen = change.modified_at if seen is None else max(seen, change.modified_at)
            if report.records % 500 == 0:  # a long backfill keeps its place
                self._advance(cursor, seen, now)
        self._advance(cursor, seen, now)

    def _apply_change(self, dest: Destination, change: Change, *, now: datetime, report: PullReport) -> None:
        with self.store.tx() as session:
            lead_id = _lead_for(session, dest.name, change) or self._match(session, dest, change, now=now)
            if lead_id is None:
                # A record made in the CRM: the hub does not import it, but holds it to the rules.
                if _contacted_without_next_action(dest, change):
                    self._violation(session, f"crm:{dest.name}:{change.crm_id}", dest.name, now)
                    report.violations += 1
                return
            found = repo.load_lead(session, lead_id, for_update=True)
            if found is None:
                return
            lead, version = found
            if change.converted is not None:
                conversions.record(
                    session, lead_id=lead.id, system=dest.name, record_id=change.crm_id,
                    conversion=change.converted, now=now,
                )  # fmt: skip
            proposed = self._merge_inbound(dest, lead, change, now=now)
            # A status saying "contacted" is a problem only while the hub's lead is at that point
            # (a booked or seen patient's lead shows "Working - Contacted" too).
            repair = _contacted_without_next_action(dest, change) and proposed.stage in _BEFORE_BOOKING
            if repair:
                self._violation(session, lead.id, dest.name, now)
                report.violations += 1
                repo.enqueue(
                    session, destinations=[dest.name], kind="upsert_task", key=f"{lead.id}:{REPAIR_STEP}",
                    lead_id=lead.id, now=now,
                )  # fmt: skip
                # The hub's next action goes back to the CRM with the next push.
                repo.enqueue(
                    session,
                    destinations=[dest.name],
                    kind="upsert_lead",
                    key=lead.id,
                    lead_id=lead.id,
                    now=now,
                )
            if proposed == lead:
                return
            result = commit_lead(
                session, before=lead, version=version, proposed=proposed, config=self.config, now=now,
                actor=f"crm:{dest.name}", action="lead_changed_in_crm", destinations=self.names,
            )  # fmt: skip
            if result.ok:
                report.changed += 1
                _resolve_violations(session, lead.id, now)
            else:
                for v in result.violations:
                    session.add(
                        ViolationRow(
                            lead_id=lead.id,
                            source=dest.name,
                            rule=v.rule,
                            field=v.field,
                            message=v.message,
                            at=now,
                        )
                    )
                report.violations += len(result.violations)

    def _match(self, session: Session, dest: Destination, change: Change, *, now: datetime) -> str | None:
        """A record made in the CRM whose E.164 phone or email is a hub lead's that has no record in
        this CRM yet: the same person. Link them (the hub's id goes onto that record before any
        upsert, so no second record is made) and treat the change as the lead's."""
        values = apply_inbound(dest.mapping, change.fields).values
        phone, email = values.get("contact.phone"), values.get("contact.email")
        if not (phone or email):
            return None
        lead_id = repo.find_lead_id(
            session, external_ids={}, phone=str(phone) if phone else None, email=str(email) if email else None
        )
        if lead_id is None or _crm_id(session, lead_id, dest.name) is not None:
            return None  # not ours, or a second record of a lead the CRM already has: not merged here
        self._adopt(session, dest, lead_id, change.crm_id, now=now)
        return lead_id

    def _adopt(self, session: Session, dest: Destination, lead_id: str, crm_id: str, *, now: datetime) -> None:
        """Make a record the CRM already holds the lead's: its id is linked now, and the hub's id is
        written onto it (``link_record``) before any upsert by that id may run."""
        _link(session, lead_id, dest.name, crm_id)
        repo.enqueue(session, destinations=[dest.name], kind="link_record", key=lead_id, lead_id=lead_id, now=now)
        repo.audit(
            session, actor=f"crm:{dest.name}", action="crm_record_linked", subject_type="lead", subject_id=lead_id,
            now=now, detail={"crm_id": crm_id},
        )  # fmt: skip
        log.info("lead %s: linked to %s record %s made in the CRM", lead_id, dest.name, crm_id)

    def _merge_inbound(self, dest: Destination, lead: Lead, change: Change, *, now: datetime) -> Lead:
        """The lead with the CRM's changes that win under each field's conflict rule."""
        inbound = apply_inbound(dest.mapping, change.fields)
        view = lead_view(lead)
        updates: dict[str, Any] = {}
        for path, crm_value in inbound.values.items():
            rule = _rule_from(dest.mapping, inbound.sources.get(path, ""))
            hub_value = _at(view, path)
            if path.startswith("consent."):
                continue  # consent is handled below: revocations only
            if rule is None:
                continue
            verdict = resolve(rule, hub_value, lead.updated_at, crm_value, change.modified_at)
            if verdict.writes_hub:
                updates[path] = verdict.value
        proposed = _apply_contact_updates(lead, updates)
        # A revocation takes effect when the hub learns of it at the latest (CRM clocks can lag ours).
        proposed = _revocations(proposed, inbound.values, dest.name, max(change.modified_at, now))
        return _stage_from_crm(dest, proposed, change)

    def _violation(self, session: Session, lead_id: str, source: str, now: datetime) -> None:
        exists = session.scalar(
            select(ViolationRow.id).where(
                ViolationRow.lead_id == lead_id,
                ViolationRow.rule == "contact_requires_next_action",
                ViolationRow.resolved_at.is_(None),
            )
        )
        if exists is None:
            session.add(
                ViolationRow(
                    lead_id=lead_id,
                    source=source,
                    rule="contact_requires_next_action",
                    field="stage,next_action",
                    message=f"marked contacted in {source} without a next action",
                    at=now,
                )
            )
            log.info("lead %s: contacted in %s without a next action", lead_id, source)

    def _pull_tasks(self, dest: Destination, *, now: datetime, backfill: bool, report: PullReport) -> None:
        cursor = f"{dest.name}:tasks"
        seen: datetime | None = None
        for change in dest.connector.read_task_changes(self._since(cursor, dest, backfill)):
            report.tasks += 1
            if self._apply_task(dest, change, now=now):
                report.touches += 1
            seen = change.modified_at if seen is None else max(seen, change.modified_at)
        self._advance(cursor, seen, now)

    def _apply_task(self, dest: Destination, change: TaskChange, *, now: datetime) -> bool:
        if change.key is None or change.state is not TaskState.COMPLETED:
            return False
        lead_id, _, step = change.key.partition(":")
        with self.store.tx() as session:
            found = repo.load_lead(session, lead_id, for_update=True)
            if found is None:
                return False
            lead, version = found
            at = change.completed_at or change.modified_at
            if step == REPAIR_STEP:
                return False
            follow_up = session.scalars(
                select(FollowUpRow).where(FollowUpRow.lead_id == lead_id, FollowUpRow.step_key == step)
            ).one_or_none()
            channel = ContactChannel(follow_up.channel) if follow_up and follow_up.channel else ContactChannel.CALL
            outcome = _OUTCOME.get(change.outcome or "", TouchOutcome.ATTEMPTED)
            touch = Touch(channel=channel, outcome=outcome, at=at, step=step)
            if not repo.add_touch(session, lead_id, touch, source_ref=f"{dest.name}:task:{change.crm_id}"):
                return False  # read before: nothing new
            if follow_up is not None:
                follow_up.status, follow_up.updated_at = "done", now
            first = repo.mark_speed_to_lead(session, lead_id, touch)
            if first is not None:  # observed once the touch is committed, so a retry cannot count it twice
                lead_channel, seconds = first
                event.listen(
                    session,
                    "after_commit",
                    lambda _session: SPEED_TO_LEAD.labels(channel=lead_channel).observe(seconds),
                    once=True,
                )
            proposed = _after_task(lead, change.outcome, at=at, now=now)
            if change.outcome == "booked":
                repo.mark_booked(session, lead_id, at)
            result = commit_lead(
                session, before=lead, version=version, proposed=proposed, config=self.config, now=now,
                actor=f"crm:{dest.name}", action=f"task_completed:{change.outcome or 'attempted'}",
                destinations=self.names,
            )  # fmt: skip
            if not result.ok:
                for v in result.violations:
                    session.add(
                        ViolationRow(
                            lead_id=lead_id,
                            source=dest.name,
                            rule=v.rule,
                            field=v.field,
                            message=v.message,
                            at=now,
                        )
                    )
            return True

    # ------------------------------------------------------------------------------------------
    # reconcile

    def reconcile(self, name: str, *, now: datetime, chunk: int = 200) -> list[str]:
        """Leads whose CRM record was merged away or deleted; their CRM id is dropped and flagged."""
        dest = self.destinations[name]
        with self.store.tx() as session:
            rows = session.execute(
                select(ExternalIdRow.lead_id, ExternalIdRow.external_id).where(ExternalIdRow.system == name)
            ).all()
        missing: list[str] = []
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            alive = dest.connector.existing([r.external_id for r in part])
            missing += [r.lead_id for r in part if r.external_id not in alive]
        if missing:
            with self.store.tx() as session:
                for lead_id in missing:
                    session.execute(
                        ExternalIdRow.__table__.delete().where(  # type: ignore[attr-defined]
                            ExternalIdRow.lead_id == lead_id, ExternalIdRow.system == name
                        )
                    )
                    session.add(
                        ViolationRow(
                            lead_id=lead_id, source=name, rule="crm_record_missing", field="external_ids",
                            message=f"the {name} record was merged or deleted; check for duplicates",
                            at=now,
                        )
                    )  # fmt: skip
                    repo.audit(session, actor=f"crm:{name}", action="crm_record_missing", subject_type="lead",
                               subject_id=lead_id, now=now)  # fmt: skip
            log.warning("%s: %d CRM records merged or deleted", name, len(missing))
        return missing


# --- helpers --------------------------------------------------------------------------------------


#: The advisory-lock class of outbox leases (identity keys and the scheduler use others).
_LEASE_LOCK_CLASS = int.from_bytes(hashlib.sha256(b"nurturehub outbox lease").digest()[:4], "big", signed=True)


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "big", signed=True)


def _requeue(session: Session, destination: str, kind: str, key: str, lead_id: str, *, now: datetime) -> None:
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


def _by_key(items: Iterable[_Item]) -> dict[str, list[_Item]]:
    """Items grouped by external id (lead id or task key), each group oldest first: what one write
    per id in a request settles."""
    groups: dict[str, list[_Item]] = {}
    for item in sorted(items, key=lambda i: i.id):
        groups.setdefault(item.key, []).append(item)
    return groups


def _wire(value: Any) -> Any:
    """A mapped value as a CRM expects it on the wire."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _picklist_problems(values: Mapping[str, Any], fields: Mapping[str, FieldInfo], system: str) -> list[str]:
    """Pre-flight: every value must be acceptable to the CRM before it is sent."""
    problems = []
    for name, value in values.items():
        info = fields.get(name)
        if info is None:
            problems.append(f"{name}: no such field in {system} (run nurturehub crm setup, or fix the mapping)")
        elif not info.writable:
            problems.append(f"{name}: the field is read-only in {system}")
        elif (
            info.picklist is not None
            and info.restricted
            and value not in (None, "")
            and not isinstance(value, bool)
            and str(value) not in info.picklist
        ):
            problems.append(f"{name}: {value!s} is not an active picklist value in {system}")
        elif info.reserved and isinstance(value, str) and value in info.reserved:
            problems.append(f"{name}: {value} is a converted status in {system}: only lead conversion sets it")
    return problems


def _link(session: Session, lead_id: str, system: str, crm_id: str) -> None:
    row = session.scalars(
        select(ExternalIdRow).where(ExternalIdRow.lead_id == lead_id, ExternalIdRow.system == system)
    ).one_or_none()
    if row is None:
        session.add(ExternalIdRow(lead_id=lead_id, system=system, external_id=crm_id))
    elif row.external_id != crm_id:
        row.external_id = crm_id


def _crm_id(session: Session, lead_id: str, system: str) -> str | None:
    return session.scalar(
        select(ExternalIdRow.external_id).where(ExternalIdRow.lead_id == lead_id, ExternalIdRow.system == system)
    )


def _lead_for(session: Session, system: str, change: Change) -> str | None:
    if change.external_id and session.get(LeadRow, change.external_id) is not None:
        return change.external_id
    return session.scalar(
        select(ExternalIdRow.lead_id).where(ExternalIdRow.system == system, ExternalIdRow.external_id == change.crm_id)
    )


def _rule_from(mapping: FieldMapping, target: str) -> Rule | None:
    try:
        return mapping.rule_for(target)
    except KeyError:
        return None


def _at(view: Mapping[str, Any], path: str) -> Any:
    value: Any = view
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _apply_contact_updates(lead: Lead, updates: Mapping[str, Any]) -> Lead:
    """Fields the CRM may change in the hub (names, phone, email, language)."""
    allowed = {
        "contact.first_name": "first_name",
        "contact.last_name": "last_name",
        "contact.phone": "phone",
        "contact.email": "email",
        "preferred_language": "preferred_language",
    }
    changes = {allowed[p]: v for p, v in updates.items() if p in allowed and v not in (None, "")}
    if "preferred_language" in changes and not (
        isinstance(changes["preferred_language"], str) and len(changes["preferred_language"]) == 2
    ):
        changes.pop("preferred_language")
    return lead.evolve(**changes) if changes else lead


def _revocations(lead: Lead, values: Mapping[str, Any], system: str, at: datetime) -> Lead:
    denied = [
        channel
        for channel in ContactChannel
        if values.get(f"consent.{channel.value}.state") in ("denied", ConsentState.DENIED)
        and lead.consent.state(channel) is not ConsentState.DENIED
    ]
    if not denied:
        return lead
    return lead.evolve(
        consent=lead.consent.revoke(denied, at=at, source=f"crm:{system}", wording="opted out in the CRM")
    )


def _stage_rule(mapping: FieldMapping) -> tuple[Rule, dict[str, list[Stage]]] | None:
    """The inbound rule writing the lead's stage to a CRM status, and each status's stages."""
    for rule in mapping.inbound_rules():
        if rule.sources == ("stage",):
            for step in rule.transforms:
                if step.name == "map_values":
                    groups: dict[str, list[Stage]] = {}
                    for stage, status in dict(step.params.get("table", {})).items():
                        groups.setdefault(str(status), []).append(Stage(stage))
                    return rule, groups
    return None


def _stage_from_crm(dest: Destination, lead: Lead, change: Change) -> Lead:
    """A CRM status that no longer matches the hub's stage moves the stage (through the policy)."""
    found = _stage_rule(dest.mapping)
    if found is None:
        return lead
    rule, groups = found
    status = change.fields.get(rule.target)
    if not status or str(status) not in groups or lead.stage in groups[str(status)]:
        return lead
    for stage in sorted(groups[str(status)], key=list(Stage).index):
        if stage in ALLOWED_TRANSITIONS[lead.stage]:
            if stage.is_closed:
                return lead.evolve(stage=stage, next_action=None, close_reason=f"closed in {dest.name}")
            return lead.evolve(stage=stage)
    return lead


def _contacted_without_next_action(dest: Destination, change: Change) -> bool:
    found = _stage_rule(dest.mapping)
    if found is None:
        return False
    rule, groups = found
    status = change.fields.get(rule.target)
    stages = groups.get(str(status), [])
    contacted = any(s in (Stage.ATTEMPTING, Stage.REACHED) for s in stages)
    return contacted and not change.fields.get(dest.next_action_field)


def _resolve_violations(session: Session, lead_id: str, now: datetime) -> None:
    session.execute(
        update(ViolationRow)
        .where(ViolationRow.lead_id == lead_id, ViolationRow.resolved_at.is_(None))
        .values(resolved_at=now)
    )


def _after_task(lead: Lead, outcome: str | None, *, at: datetime, now: datetime) -> Lead:
    """The lead after staff completed one of its tasks with ``outcome``."""
    if lead.stage.is_closed:
        return lead
    match outcome:
        case "booked":
            action = NextAction(
                kind=NextActionKind.SEND_PREP_INFO,
                due_at=now,
                owner_queue=lead.next_action.owner_queue if lead.next_action else "Front Desk",
                reason="booked",
            )
            return lead.evolve(stage=Stage.SCHEDULED, next_action=action)
        case "declined":
            return lead.evolve(stage=Stage.DECLINED, next_action=None, close_reason="declined (recorded in the CRM)")
        case "reached":
            return lead.evolve(stage=Stage.REACHED) if lead.stage in (Stage.NEW, Stage.ATTEMPTING) else lead
        case _:
            return lead.evolve(stage=Stage.ATTEMPTING) if lead.stage is Stage.NEW else lead
