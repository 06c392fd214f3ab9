"""Sync errors: CRM writes that failed (outbox ``failed`` / ``dead``) and inbound events that could
not be processed (inbox ``parked`` / ``dead``), grouped by kind and field, with the affected leads
(ids and links only: no patient details in lists). Fix the mapping, then replay (inbox) or retry
(outbox) a group, the selected groups, or everything; export as CSV.

The error texts shown are the hub's own and the CRMs' messages with record values removed: they
name fields, codes and lead ids, never a patient's details.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from hub import settings_store
from hub.csv_export import CsvWriter
from hub.store import repo
from hub.store.models import InboxRow, OutboxRow
from hub.sync import SyncEngine
from hub.users import Role
from webapp import current_hub
from webapp.admin.common import actor, effective, now, page, tx
from webapp.auth import require

bp = page("sync_errors", __name__, url_prefix="/sync-errors")

_FIELD = re.compile(r"\[field ([^\]]+)\]")
_CODE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*): ")
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

    @property
    def key(self) -> str:
        return f"{self.origin}|{self.where}|{self.kind}|{self.field}"


def _classify_outbox(message: str | None) -> tuple[str, str]:
    text = message or ""
    code = _CODE.match(text)
    found = _FIELD.search(text)
    return (code.group(1) if code else "error"), (found.group(1) if found else "")


def _classify_inbox(message: str | None) -> tuple[str, str]:
    text = message or ""
    code = _CODE.match(text)
    if not code:
        return (text.split(":")[0][:40] or "error"), ""
    rest = text[code.end() :]
    target = re.match(r"^([A-Za-z_][A-Za-z0-9_.]*): ", rest) if code.group(1) == "unmappable" else None
    return code.group(1), target.group(1) if target else ""


@dataclass(frozen=True, slots=True)
class Item:
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


def _items() -> list[Item]:
    items: list[Item] = []
    with tx() as session:
        for row in session.scalars(
            select(OutboxRow).where(OutboxRow.status.in_(("failed", "dead"))).order_by(OutboxRow.id).limit(LIMIT)
        ):
            kind, fld = _classify_outbox(row.last_error)
            items.append(
                Item(
                    "outbox",
                    row.id,
                    row.destination,
                    row.kind,
                    row.status,
                    kind,
                    fld,
                    row.lead_id,
                    row.attempts,
                    row.created_at,
                    row.last_error or "",
                )
            )
        for inbox in session.scalars(
            select(InboxRow).where(InboxRow.status.in_(("parked", "dead"))).order_by(InboxRow.id).limit(LIMIT)
        ):
            kind, fld = _classify_inbox(inbox.error)
            items.append(
                Item(
                    "inbox",
                    inbox.id,
                    inbox.source,
                    inbox.event_type,
                    inbox.status,
                    kind,
                    fld,
                    inbox.lead_id,
                    inbox.attempts,
                    inbox.received_at,
                    inbox.error or "",
                )
            )
    return items


def _groups(items: Iterable[Item]) -> list[Group]:
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


@bp.get("")
@require(Role.VIEWER)
def index() -> Any:
    groups = _groups(_items())
    return render_template("sync_errors.html", groups=groups, fix_links=_fix_links(groups))


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
