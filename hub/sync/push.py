"""Push: the outbox drained per destination in batches — record links first, then lead upserts,
then tasks — each write idempotent (upsert by the hub's id)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors.base import (
    FieldInfo,
    RecordWrite,
)
from hub.app.metrics import API_BUDGET_REMAINING, OUTBOX_PROCESSED
from hub.connections import conversions
from hub.coordinator.views import lead_view
from hub.store import repo
from hub.sync.model import Destination, OutboxItem, Problem, PushReport
from hub.sync.outbox import crm_id_of, crm_ids_of, group_by_key, requeue, save_links
from hub.sync.tasks import Tasks
from mapping.apply import apply_outbound
from nurture.errors import BudgetExhausted


class Push(Tasks):
    """Drains the outbox to each CRM."""

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

    def _push_links(self, dest: Destination, items: list[OutboxItem], *, now: datetime, report: PushReport) -> None:
        with self.store.tx() as session:
            pairs = crm_ids_of(session, [item.lead_id for item in items], dest.name)
        links = list({lead_id: (crm_id, lead_id) for lead_id, crm_id in pairs.items()}.values())
        sent = self._send(lambda: dest.connector.link(links), items if links else [], now=now, report=report)
        if sent is None:
            return
        outcomes = {o.key: o for o in sent}
        with self.store.tx() as session:
            done: list[int] = []
            for item in items:
                outcome = outcomes.get(item.lead_id)
                if outcome is None:
                    self._fail(
                        session, item.id, Problem("link", f"lead {item.lead_id} has no {dest.name} record to link"),
                        now=now,
                    )  # fmt: skip
                    report.failed += 1
                elif outcome.ok:
                    done.append(item.id)
                else:
                    self._settle_failure(session, dest, item, outcome, now=now, report=report)
            self._done(session, done, now=now)
            report.written += len(done)

    def _push_leads(self, dest: Destination, items: list[OutboxItem], *, now: datetime, report: PushReport) -> None:
        """One write per lead of the batch, built from the leads as the store holds them (read in a
        few queries for the whole batch), and the outcomes written back one statement per kind."""
        writes: list[RecordWrite] = []
        by_key = group_by_key(items)  # one write per lead, whatever number of upserts were queued for it
        failures: dict[int, Problem] = {}
        versions: dict[str, int] = {}  # the version each write was built from
        fields = self._fields(dest, now)
        with self.store.tx() as session:
            # A record the CRM converted is read-only there: not written again (its tasks follow
            # the contact it became, see hub.conversions).
            converted = conversions.converted(session, dest.name, [i.lead_id for i in items])
            gone = [key for key, group in by_key.items() if group[0].lead_id in converted]
            skipped = [item.id for key in gone for item in by_key.pop(key)]
            if skipped:
                self._done(session, skipped, now=now)
                report.skipped += len(skipped)
            leads = repo.load_leads(session, [group[0].lead_id for group in by_key.values()])
        for key, group in list(by_key.items()):
            found = leads.get(group[0].lead_id)
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
            answered = {outcome.key for outcome in outcomes}
            written = {o.key: o for o in outcomes if o.ok and by_key.get(o.key)}
            done = [item.id for key in written for item in by_key[key]]
            self._done(session, done, now=now)
            report.written += len(done)
            save_links(session, dest.name, {by_key[k][0].lead_id: o.crm_id for k, o in written.items() if o.crm_id})
            now_versions = repo.versions(session, [by_key[k][0].lead_id for k in written])
            for key, outcome in written.items():
                lead_id = by_key[key][0].lead_id
                if outcome.notes:  # a value shortened to fit this CRM's field: written, noted
                    repo.audit(
                        session, actor=f"crm:{dest.name}", action="crm_value_shortened", subject_type="lead",
                        subject_id=lead_id, now=now, detail={"notes": list(outcome.notes)},
                    )  # fmt: skip
                if lead_id in now_versions and now_versions[lead_id] != versions.get(key):
                    # The lead changed while this write was on its way (another worker may have
                    # sent the newer state first): send the newest state once more, after this.
                    requeue(session, dest.name, "upsert_lead", key, lead_id, now=now)
            for outcome in outcomes:
                group = by_key.get(outcome.key, [])
                if outcome.ok or not group:
                    continue
                lead_id = group[0].lead_id
                if outcome.converted is not None:
                    record_id = outcome.crm_id or crm_id_of(session, lead_id, dest.name) or ""
                    conversions.record(
                        session, lead_id=lead_id, system=dest.name, record_id=record_id,
                        conversion=outcome.converted, now=now,
                    )  # fmt: skip
                    self._done(session, [item.id for item in group], now=now)
                    report.skipped += len(group)
                elif outcome.duplicate_of and crm_id_of(session, lead_id, dest.name) is None:
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
