"""Pull: what changed in a CRM since the saved cursor (minus an overlap), mapped back by the
mapping's inbound rules, resolved field by field, and committed through the lead policy; opt-outs
always win, consent grants never come in from a CRM."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.base import (
    Change,
)
from hub.connections import conversions
from hub.coordinator.views import lead_view
from hub.lifecycle.leads import commit_lead
from hub.store import repo
from hub.store.models import ExternalIdRow, LeadRow, ViolationRow
from hub.sync.model import REPAIR_STEP, Destination, PullReport
from hub.sync.outbox import crm_id_of
from hub.sync.tasks import Tasks
from mapping.apply import apply_inbound
from mapping.conflicts import resolve
from mapping.spec import FieldMapping, Rule
from nurture.errors import BudgetExhausted
from nurture.lead import Lead
from nurture.policy import ALLOWED_TRANSITIONS
from nurture.vocab import ConsentState, ContactChannel, Stage

log = logging.getLogger(__name__)

#: Stages in which a CRM status saying "contacted" must come with a next action.
_BEFORE_BOOKING = frozenset({Stage.NEW, Stage.ATTEMPTING, Stage.REACHED})


class Pull(Tasks):
    """Reads CRM changes into the hub."""

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
        if lead_id is None or crm_id_of(session, lead_id, dest.name) is not None:
            return None  # not ours, or a second record of a lead the CRM already has: not merged here
        self._adopt(session, dest, lead_id, change.crm_id, now=now)
        return lead_id

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
