"""What the mapping editor previews: the last inbound events of a mapping's sources (decrypted, each
view audited once per window) and recent leads' plain views for CRM mappings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.coordinator.views import lead_view
from hub.settings.config import HubConfig, Source
from hub.settings.settings_store.mappings import mapping_name_for
from hub.store import repo
from hub.store.crypto import Vault
from hub.store.models import AuditRow, InboxRow, LeadRow
from mapping.spec import FieldMapping, MappingKind

#: Repeated views of the same events by the same person within this window are audited once.
AUDIT_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleEvent:
    """A recent inbound event of a mapping's source, decrypted for the preview (PHI: audited).

    Attributes:
        id: the inbox row id.
        source: the source's name.
        event_id: the sender's event id.
        received_at: when it arrived.
        payload: the payload as the mapping sees it.
    """

    id: int
    source: str
    event_id: str
    received_at: datetime
    payload: Any = field(repr=False)


def sources_using(config: HubConfig, mapping: FieldMapping) -> list[Source]:
    """The sources whose events ``mapping`` maps."""
    if mapping.kind is not MappingKind.SOURCE:
        return []
    return [s for s in config.sources.values() if mapping_name_for(s) == mapping.name]


def _unwrap(source: Source, payload: Any) -> Any:
    # The same preparation hub.mapper.map_event makes: Jotform's answers live in rawRequest.
    if source.type == "jotform" and isinstance(payload, dict) and isinstance(payload.get("rawRequest"), dict):
        return {**payload["rawRequest"], "submissionID": payload.get("submissionID"), "formID": payload.get("formID")}
    return payload


def _audit_view(
    session: Session, *, actor: str, action: str, subject_type: str, subject_id: str, ids: list[Any], now: datetime
) -> None:
    recent = session.scalars(
        select(AuditRow.detail).where(
            AuditRow.actor == actor,
            AuditRow.action == action,
            AuditRow.subject_id == subject_id,
            AuditRow.at > now - AUDIT_WINDOW,
        )
    ).all()
    if any(isinstance(d, Mapping) and d.get("ids") == ids for d in recent):
        return
    repo.audit(
        session,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        now=now,
        detail={"ids": ids},
    )


def recent_events(
    session: Session,
    vault: Vault,
    config: HubConfig,
    mapping: FieldMapping,
    *,
    limit: int,
    actor: str,
    now: datetime,
) -> list[SampleEvent]:
    """The last ``limit`` inbound events of the sources ``mapping`` maps, decrypted (PHI: the view is
    audited, once per person and set of events within :data:`AUDIT_WINDOW`)."""
    sources = {s.name: s for s in sources_using(config, mapping)}
    if not sources:
        return []
    rows = session.scalars(
        select(InboxRow)
        .where(InboxRow.source.in_(sorted(sources)), InboxRow.payload.is_not(None))
        .order_by(InboxRow.received_at.desc(), InboxRow.id.desc())
        .limit(limit)
    ).all()
    events = []
    for row in rows:
        assert row.payload is not None
        payload = json.loads(vault.decrypt(row.payload))
        events.append(
            SampleEvent(
                id=row.id,
                source=row.source,
                event_id=row.event_id,
                received_at=row.received_at,
                payload=_unwrap(sources[row.source], payload),
            )
        )
    if events:
        _audit_view(
            session,
            actor=actor,
            action="inbox.payloads_viewed",
            subject_type="mapping",
            subject_id=mapping.name,
            ids=[e.id for e in events],
            now=now,
        )
    return events


def recent_lead_views(session: Session, *, limit: int, actor: str, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """The newest leads' plain views (what CRM mappings read), for the preview (PHI: audited)."""
    ids = list(session.scalars(select(LeadRow.id).order_by(LeadRow.created_at.desc(), LeadRow.id).limit(limit)))
    out = []
    for lead_id in ids:
        loaded = repo.load_lead(session, lead_id)
        if loaded is not None:
            out.append((lead_id, lead_view(loaded[0])))
    if out:
        _audit_view(
            session,
            actor=actor,
            action="lead.viewed_in_preview",
            subject_type="lead",
            subject_id=",".join(i for i, _ in out)[:120],
            ids=[i for i, _ in out],
            now=now,
        )
    return out
