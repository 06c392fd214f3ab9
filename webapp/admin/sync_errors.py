"""Sync errors: CRM writes that failed (outbox ``failed`` / ``dead``) and inbound events that could
not be processed (inbox ``parked`` / ``dead``), grouped by kind and field, with the affected leads
(ids and links only: no patient details in lists). Each group says what to do about its cause (the
mapping, the connection, nothing but sending again …); a parked inbound event shows the payload's
shape (keys and types, values masked) beside the fields its mapping looks for. Fix, then replay
(inbox) or retry (outbox) a group, the selected groups, or everything; or dismiss them with a reason
(audited); export as CSV. Items that failed again after being sent again say so.

The error texts shown are the hub's own and the CRMs' messages with record values removed: they
name fields, codes and lead ids, never a patient's details.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from hub.accounts.users import Role
from hub.inbound.parking import expected_fields, payload_shape, unread_fields
from hub.review.csv_export import CsvWriter
from hub.settings import settings_store
from hub.store import repo
from hub.store.sync_errors import SyncErrorItem, inbox_payload, sync_error_items
from hub.sync import SyncEngine
from nurture.errors import FatalError
from webapp import current_hub
from webapp.admin.common import actor, effective, now, page, tx
from webapp.auth import require

bp = page("sync_errors", __name__, url_prefix="/sync-errors")

#: Most items listed (the CSV has every one).
LIMIT = 2000


@dataclass(slots=True)
class Group:
    """Sync errors of one origin, place, kind and field.

    Attributes:
        origin: ``outbox`` (a CRM write) or ``inbox`` (an inbound event).
        where: the CRM (outbox) or the source (inbox).
        kind: the error code (``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``, ``unmappable`` …).
        field: the field at fault, when known.
        message: the first item's message.
        ids: the items' row ids.
        lead_ids: the affected leads.
        statuses: how many items are in each status.
        first_at, last_at: the oldest and newest item.
    """

    origin: str
    where: str
    kind: str
    field: str
    message: str
    ids: list[int] = dataclasses.field(default_factory=list)
    lead_ids: list[str] = dataclasses.field(default_factory=list)
    statuses: dict[str, int] = dataclasses.field(default_factory=dict)
    first_at: datetime | None = None
    last_at: datetime | None = None
    again: int = 0

    @property
    def key(self) -> str:
        return f"{self.origin}|{self.where}|{self.kind}|{self.field}"

    @property
    def fix(self) -> Fix:
        return suggested_fix(self.origin, self.kind)


@dataclass(frozen=True, slots=True)
class Fix:
    """What to do about a group's cause: a sentence, and where to do it (``mapping``,
    ``connections``, ``settings`` or nothing but the buttons on this page)."""

    text: str
    where: str = ""


#: The real cause of each error code, and what to do about it. Unknown codes: the message says.
FIXES: dict[tuple[str, str], Fix] = {
    ("outbox", "DUPLICATE_EXTERNAL_ID"): Fix("Two writes for one record were sent in one request. The hub now sends "
                                             "one write per record: send these again."),
    ("outbox", "DUPLICATE_VALUE"): Fix("The CRM already holds a record with this hub id (a write that was retried). "
                                       "Send again: the upsert updates it."),
    ("outbox", "DUPLICATES_DETECTED"): Fix("A duplicate rule in the CRM blocked the record. Merge the records in "
                                           "the CRM, or allow saving past alert-only rules (allow_duplicate_save).",
                                           "connections"),
    ("outbox", "mapping"): Fix("The CRM mapping produced a value the CRM does not accept.", "mapping"),
    ("outbox", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"): Fix("A picklist value the CRM does not have: add it in "
                                                               "the CRM or change the mapping.", "mapping"),
    ("outbox", "INVALID_OPTION"): Fix("A value HubSpot's property does not offer: add it in HubSpot or change the "
                                      "mapping.", "mapping"),
    ("outbox", "INVALID_FIELD"): Fix("A field the CRM does not have: run nurturehub crm setup, or fix the mapping.",
                                     "mapping"),
    ("outbox", "PROPERTY_DOESNT_EXIST"): Fix("A property HubSpot does not have: run nurturehub crm setup, or fix the "
                                             "mapping.", "mapping"),
    ("outbox", "INVALID_SESSION_ID"): Fix("The CRM refused the hub's sign-in: connect it again.", "connections"),
    ("outbox", "retry_later"): Fix("The CRM was unavailable or busy for longer than the retries allow. Send again "
                                   "once it answers."),
    ("outbox", "no_outcome"): Fix("The CRM did not answer for these items. Send again."),
    ("outbox", "lead_missing"): Fix("The lead no longer exists in the hub: nothing to send. Dismiss."),
    ("outbox", "follow_up_missing"): Fix("The follow-up was replanned away: nothing to send. Dismiss."),
    ("inbox", "unmappable"): Fix("A field was found but its value could not be used.", "mapping"),
    ("inbox", "unmapped_fields"): Fix("The payload's fields are not the ones the mapping reads: map them, then "
                                      "send again.", "mapping"),
    ("inbox", "no_contact_fields"): Fix("The mapping found no phone or email to call the patient back (renamed form "
                                        "fields?): fix the mapping, then send again.", "mapping"),
    ("inbox", "empty_object"): Fix("The sender posted an empty object: check the sender's set-up, then dismiss."),
    ("inbox", "not_an_object"): Fix("The sender posted JSON that is not an object: check which payload the "
                                    "sender is set to send, then dismiss."),
    ("inbox", "invalid_inquiry"): Fix("A value is out of range (unknown location or service?).", "mapping"),
    ("inbox", "invalid_contact"): Fix("The phone or email is not usable: nothing the hub can call back. Dismiss, "
                                      "or fix the mapping if the wrong field is read.", "mapping"),
    ("inbox", "policy_violation"): Fix("The inquiry broke a rule of the clinic's policy: see the message."),
    ("inbox", "unknown_source"): Fix("The source is no longer configured: add it again, or dismiss.", "settings"),
    ("inbox", "unknown_mapping"): Fix("The source names a mapping that does not exist.", "mapping"),
    ("inbox", "payload_purged"): Fix("The payload was deleted after the retention period: dismiss."),
    ("inbox", "payload_undecryptable"): Fix("The payload was stored under a data key the hub no longer has: put the "
                                            "old key back in NURTUREHUB_DATA_KEY, then send again."),
}  # fmt: skip
#: Reasons a coordinator can give for dismissing (codes: the audit holds no free text).
DISMISS_REASONS = {
    "test_or_spam": "A test or spam delivery",
    "handled_elsewhere": "Handled another way (the patient was reached)",
    "duplicate": "A duplicate of another event or write",
    "not_needed": "Nothing to send any more",
}


def suggested_fix(origin: str, code: str) -> Fix:
    """What to do about an error code (the real cause, never a guess at the mapping)."""
    found = FIXES.get((origin, code))
    if found is not None:
        return found
    if origin == "inbox":
        return Fix("See the message; fix the sender or the mapping, then send again.", "mapping")
    return Fix("See the message from the CRM; fix the cause there or in the mapping, then send again.")


def _items() -> list[SyncErrorItem]:
    with tx() as session:
        return sync_error_items(session, limit=LIMIT)


def _groups(items: Iterable[SyncErrorItem]) -> list[Group]:
    groups: dict[tuple[str, str, str, str], Group] = {}
    for item in items:
        key = (item.origin, item.where, item.kind, item.field)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(item.origin, item.where, item.kind, item.field, item.message)
        group.ids.append(item.id)
        if item.lead_id and item.lead_id not in group.lead_ids:
            group.lead_ids.append(item.lead_id)
        group.statuses[item.status] = group.statuses.get(item.status, 0) + 1
        group.first_at = min(group.first_at or item.at, item.at)
        group.last_at = max(group.last_at or item.at, item.at)
        group.again += 1 if item.again else 0
    return sorted(groups.values(), key=lambda g: (-len(g.ids), g.origin, g.where, g.kind, g.field))


def _fix_links(groups: list[Group]) -> dict[str, str]:
    """Where to fix each group: the mapping of the source, or of the CRM object."""
    hub = current_hub()
    links: dict[str, str] = {}
    with tx() as session:
        config, _ = effective(session)
    for group in groups:
        if group.origin == "inbox":
            source = config.sources.get(group.where)
            name = settings_store.mapping_name_for(source) if source else None
        else:
            settings = hub.crm.get(group.where)
            obj = (
                str(settings.options.get("object", "Lead")) if settings and group.where == "salesforce" else "contacts"
            )
            try:
                from mapping.defaults import default_crm_mapping

                name = default_crm_mapping(group.where, obj).name
            except (KeyError, ValueError):
                name = None
        if name:
            links[group.key] = url_for("mappings.edit", name=name)
    return links


@dataclass(frozen=True, slots=True)
class InboundDetail:
    """What a parked event's group shows: the first event's payload shape (values masked), the
    fields of it no rule reads, and where the mapping in force looks for the contact fields."""

    mapping: str | None
    shape: str
    unread: list[str]
    expected: list[tuple[str, tuple[str, ...]]]


def _inbound_details(groups: list[Group]) -> dict[str, InboundDetail]:
    hub = current_hub()
    details: dict[str, InboundDetail] = {}
    with tx() as session:
        config, _ = effective(session)
        for group in groups:
            if group.origin != "inbox":
                continue
            blob = inbox_payload(session, group.ids[0])
            source = config.sources.get(group.where)
            if blob is None:
                continue
            try:
                payload = json.loads(hub.vault.decrypt(blob))
            except (FatalError, ValueError):
                continue
            mapping = settings_store.source_mapping_for(session, source) if source is not None else None
            if isinstance(payload, dict) and isinstance(payload.get("rawRequest"), dict):
                payload = {**payload["rawRequest"], "submissionID": payload.get("submissionID")}
            details[group.key] = InboundDetail(
                mapping=mapping.name if mapping else None,
                shape=json.dumps(payload_shape(payload), indent=2, ensure_ascii=False),
                unread=unread_fields(mapping, payload) if mapping else [],
                expected=expected_fields(mapping) if mapping else [],
            )
    return details


@bp.get("")
@require(Role.VIEWER)
def index() -> Any:
    groups = _groups(_items())
    return render_template(
        "sync_errors.html", groups=groups, fix_links=_fix_links(groups), details=_inbound_details(groups),
        reasons=DISMISS_REASONS, connections=url_for("connections.index"),
    )  # fmt: skip


def _engine() -> SyncEngine:
    hub = current_hub()
    return hub.sync_engine() or SyncEngine(hub.store, hub.config, {})


def _selected(keys: list[str]) -> tuple[list[int], list[int]]:
    wanted = set(keys)
    outbox: list[int] = []
    inbox: list[int] = []
    for group in _groups(_items()):
        if "all" in wanted or group.key in wanted:
            (outbox if group.origin == "outbox" else inbox).extend(group.ids)
    return outbox, inbox


@bp.post("/retry")
@require(Role.COORDINATOR)
def retry() -> Any:
    """Replay the chosen inbound events and retry the chosen CRM writes (``group`` values, or ``all``)."""
    keys = request.form.getlist("group")
    if not keys:
        flash("Choose at least one group to retry.", "error")
        return redirect(url_for(".index"), code=303)
    outbox, inbox = _selected(keys)
    hub = current_hub()
    retried = _engine().retry_failed(item_ids=outbox, now=now()) if outbox else 0
    replayed = hub.inbox.replay(row_ids=inbox, now=now()) if inbox else 0
    with tx() as session:
        repo.audit(
            session,
            actor=actor(),
            action="sync_errors.retry",
            subject_type="sync_errors",
            subject_id="selected" if "all" not in keys else "all",
            now=now(),
            detail={"outbox": outbox[:500], "inbox": inbox[:500]},
        )
    flash(f"Sent again: {retried} CRM write(s) and {replayed} inbound event(s). Workers pick them up now.", "info")
    return redirect(url_for(".index"), code=303)


@bp.post("/dismiss")
@require(Role.COORDINATOR)
def dismiss() -> Any:
    """Set the chosen groups aside with a reason: they leave this page; each item is audited."""
    keys = request.form.getlist("group")
    reason = request.form.get("reason", "")
    if not keys:
        flash("Choose at least one group to dismiss.", "error")
        return redirect(url_for(".index"), code=303)
    if reason not in DISMISS_REASONS:
        flash("Choose why they are dismissed.", "error")
        return redirect(url_for(".index"), code=303)
    outbox, inbox = _selected(keys)
    hub = current_hub()
    dropped = _engine().dismiss_failed(outbox, reason=reason, actor=actor(), now=now()) if outbox else 0
    parked = hub.inbox.dismiss(inbox, reason=reason, actor=actor(), now=now()) if inbox else 0
    flash(f"Dismissed: {dropped} CRM write(s) and {parked} inbound event(s) ({DISMISS_REASONS[reason]}).", "info")
    return redirect(url_for(".index"), code=303)


@bp.get("/export.csv")
@require(Role.COORDINATOR)
def export() -> Any:
    items = _items()
    out = io.StringIO()
    writer = CsvWriter(out)
    writer.writerow(
        ["origin", "id", "where", "what", "status", "kind", "field", "lead_id", "attempts", "at", "message"]
    )
    for item in items:
        writer.writerow(
            [
                item.origin,
                item.id,
                item.where,
                item.what,
                item.status,
                item.kind,
                item.field,
                item.lead_id or "",
                item.attempts,
                item.at.isoformat(),
                item.message,
            ]
        )
    with tx() as session:
        repo.audit(
            session,
            actor=actor(),
            action="sync_errors.export",
            subject_type="sync_errors",
            subject_id="csv",
            now=now(),
            detail={"rows": len(items)},
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="nurturehub-sync-errors.csv"'},
    )
