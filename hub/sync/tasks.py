"""Cadence tasks in the CRM: written for each planned step (and withdrawn when the plan changes),
and read back when staff complete them — a completion becomes a touch that advances the cadence."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import event, select, tuple_, update
from sqlalchemy.orm import Session

from connectors.base import (
    TaskChange,
    TaskKind,
    TaskState,
    TaskWrite,
)
from hub.app.metrics import SPEED_TO_LEAD
from hub.connections import conversions
from hub.lifecycle.leads import commit_lead
from hub.store import repo
from hub.store.models import FollowUpRow, ViolationRow
from hub.sync.model import REPAIR_STEP, Destination, OutboxItem, Problem, PullReport, PushReport
from hub.sync.outbox import Outbox, crm_id_of, crm_ids_of, group_by_key, requeue
from nurture.lead import Lead, NextAction
from nurture.touches import Touch
from nurture.vocab import ContactChannel, NextActionKind, Stage, TouchOutcome

_TASK_KIND = {"call": TaskKind.CALL, "email": TaskKind.EMAIL, "sms": TaskKind.SMS}
_OUTCOME = {
    "no_answer": TouchOutcome.MISSED,
    "left_voicemail": TouchOutcome.LEFT_VOICEMAIL,
    "reached": TouchOutcome.REACHED,
    "booked": TouchOutcome.REACHED,
    "declined": TouchOutcome.REACHED,
}


class Tasks(Outbox):
    """Task writes and task completions."""

    def _push_tasks(self, dest: Destination, items: list[OutboxItem], *, now: datetime, report: PushReport) -> None:
        """One write per task key, in the state the store holds now: an upsert and a cancel for the
        same task in one batch are one cancel (never two writes for one external id in a request),
        and every item taken is settled with the outcome of its key's write. The batch's records,
        follow-ups and outcomes are read and written a few statements for the whole batch."""
        writes: dict[str, TaskWrite] = {}
        by_key = group_by_key(items)
        waiting: list[OutboxItem] = []
        failures: dict[int, Problem] = {}
        settled: list[OutboxItem] = []  # nothing to write any more (the task was completed by staff)
        lead_ids = list(dict.fromkeys(item.lead_id for item in items))
        with self.store.tx() as session:
            converted = conversions.converted(session, dest.name, lead_ids)
            crm_ids = crm_ids_of(session, lead_ids, dest.name)
            rows = _follow_ups(session, [key.partition(":") for key in by_key])
            for key, group in list(by_key.items()):
                lead_id, _, step = key.partition(":")
                # A converted lead's tasks go to the contact it became.
                moved = conversions.task_target(session, lead_id, dest.name) if lead_id in converted else None
                crm_id = moved or crm_ids.get(lead_id)
                if crm_id is None:
                    waiting += by_key.pop(key)  # the lead's own upsert has not landed yet
                    continue
                final = group[-1].kind  # the newest decision, where the store has no follow-up
                if step == REPAIR_STEP:
                    task: TaskWrite | Literal["completed"] | None = self._repair_task(
                        session, lead_id, crm_id, cancelled=final == "cancel_task", now=now
                    )
                else:
                    task = self._task(rows.get((lead_id, step)), lead_id, step, crm_id)
                if task is None:
                    for item in by_key.pop(key):
                        failures[item.id] = Problem("follow_up_missing", f"no follow-up {step!r} for lead {lead_id}")
                    continue
                if task == "completed":
                    settled += by_key.pop(key)
                    continue
                writes[key] = task
        sending = [item for group in by_key.values() for item in group]
        sent = self._send(lambda: dest.connector.upsert_tasks(list(writes.values())), sending, now=now, report=report)
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
            answered = {outcome.key for outcome in outcomes}
            written = [o.key for o in outcomes if o.ok]
            done = [item.id for item in settled] + [item.id for key in written for item in by_key.get(key, [])]
            self._done(session, done, now=now)
            report.written += len(done)
            self._settle_written(session, dest, [writes[key] for key in written if key in writes], now=now)
            for outcome in outcomes:
                group = by_key.get(outcome.key, [])
                if outcome.ok:
                    continue
                if outcome.converted is not None:  # its lead was converted: send it to the contact
                    lead_id = outcome.key.partition(":")[0]
                    conversions.record(
                        session, lead_id=lead_id, system=dest.name,
                        record_id=crm_id_of(session, lead_id, dest.name) or "", conversion=outcome.converted, now=now,
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

    def _settle_written(self, session: Session, dest: Destination, written: list[TaskWrite], *, now: datetime) -> None:
        """After the CRM took these writes: open tasks' follow-ups are marked created (one statement),
        and a follow-up that changed while its write was on its way (a booking withdrew it, say, and
        another worker's cancel may have landed first) gets the state the store holds now written
        once more, after this one."""
        rows = _follow_ups(session, [w.key.partition(":") for w in written])  # the repair task has none
        opened: list[tuple[str, str]] = []
        for write in written:
            lead_id, _, step = write.key.partition(":")
            now_status = rows[(lead_id, step)].status if (lead_id, step) in rows else None
            if write.state is TaskState.OPEN:
                opened.append((lead_id, step))
                if now_status == "cancelled":
                    requeue(session, dest.name, "cancel_task", write.key, lead_id, now=now)
            elif write.state is TaskState.CANCELLED and now_status in ("planned", *repo.WITH_TASK):
                requeue(session, dest.name, "upsert_task", write.key, lead_id, now=now)
        if opened:
            session.execute(
                update(FollowUpRow)
                .where(tuple_(FollowUpRow.lead_id, FollowUpRow.step_key).in_(opened))
                .where(FollowUpRow.status == "task_requested")
                .values(status="task_created", updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def _repair_task(self, session: Session, lead_id: str, crm_id: str, *, cancelled: bool, now: datetime) -> TaskWrite:
        """The task asking staff to set a next action (it has no follow-up row); ``cancelled`` is the
        newest queued decision."""
        lead = repo.load_lead(session, lead_id)
        queue = lead[0].next_action.owner_queue if lead and lead[0].next_action else "Front Desk"
        return TaskWrite(
            key=f"{lead_id}:{REPAIR_STEP}",
            lead_crm_id=crm_id,
            subject=f"Set the next action — lead {lead_id}",
            body="This lead was marked contacted without a next action. Record what happens next "
            "(book, call back, verify insurance …) with its due time." + self._link(lead_id),
            kind=TaskKind.TODO,
            due_at=now,
            owner_queue=queue,
            state=TaskState.CANCELLED if cancelled else TaskState.OPEN,
        )

    def _link(self, lead_id: str) -> str:
        return f" Open it in nurturehub: {self.base_url}/leads/{lead_id}" if self.base_url else ""

    def _task(
        self, row: FollowUpRow | None, lead_id: str, step: str, crm_id: str
    ) -> TaskWrite | Literal["completed"] | None:
        """The task as the store says it should be now: open, cancelled (its follow-up was), or
        "completed" (staff completed it: the hub never writes over that); None when there is no
        such follow-up."""
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
            body=f"nurturehub follow-up ({step}) by {row.channel or 'task'}.{template}{self._link(lead_id)}",
            kind=_TASK_KIND.get(row.channel or "", TaskKind.TODO),
            due_at=row.due_at,
            owner_queue=row.owner_queue,
            state=state,
        )

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


def _follow_ups(session: Session, steps: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], FollowUpRow]:
    """The follow-ups of (lead id, ":", step) triples, by (lead id, step), in one query."""
    pairs = list(dict.fromkeys((lead_id, step) for lead_id, _, step in steps if step != REPAIR_STEP))
    if not pairs:
        return {}
    rows = session.scalars(select(FollowUpRow).where(tuple_(FollowUpRow.lead_id, FollowUpRow.step_key).in_(pairs)))
    return {(row.lead_id, row.step_key): row for row in rows}
