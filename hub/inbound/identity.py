"""One lead per person, held by the database whatever the number of web and worker processes.

Intake runs, inside the transaction that writes the lead:

1. :func:`lock_keys` — on PostgreSQL a transaction-scoped advisory lock per normalised key of the
   inquiry (email, E.164 phone, ids in other systems), taken in one order so two intakes never wait
   on each other in a circle. Two inquiries sharing any key are decided one after the other, the
   second seeing the first's lead (READ COMMITTED reads what committed before each statement).
   SQLite has one writer at a time (``BEGIN IMMEDIATE``): nothing to lock.
2. :func:`identify` — the leads sharing a key, and the rule of :mod:`nurture.identity`.
3. :func:`claim_keys` (after the lead is written) — ``INSERT … ON CONFLICT DO NOTHING`` of the
   lead's email and phone into ``lead_identity_keys``, whose primary key holds each once. A new lead
   whose key another lead took meanwhile is refused (:class:`~nurture.errors.RetryLater`: the whole
   transaction rolls back and the event is processed again, then finding that lead). So even a
   writer that skipped the locks cannot make a second lead for an email or a first phone.

A lead sharing a phone under another name is linked (``lead_links``) as "possibly the same
household"; a coordinator merges (:func:`merge_leads`) or keeps them apart (:func:`keep_apart`) on
the lead page. How a merge reaches the CRMs is in ``docs/identity.md``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, and_, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hub.lifecycle.leads import CommitResult, commit_lead
from hub.settings.config import HubConfig
from hub.store import repo
from hub.store.models import (
    AppointmentRow,
    ClearanceRow,
    ExternalIdRow,
    IdentityKeyRow,
    InboxRow,
    LeadLinkRow,
    LeadRow,
    TouchRow,
)
from nurture.errors import Refused, RetryLater
from nurture.identity import Candidate, Match, decide, merged_consent
from nurture.vocab import CLOSED_STAGES, Stage

log = logging.getLogger(__name__)

__all__ = [
    "CRM_SYSTEMS",
    "LinkView",
    "MergeRefused",
    "claim_keys",
    "identify",
    "keep_apart",
    "key_names",
    "link",
    "links_of",
    "lock",
    "lock_keys",
    "merge_leads",
]

#: External-id systems that are CRM records (closed as duplicates on a merge, never moved).
CRM_SYSTEMS = frozenset({"salesforce", "hubspot"})
#: The advisory-lock class of identity keys (the scheduler's lock is a single bigint: another space).
_LOCK_CLASS = int.from_bytes(hashlib.sha256(b"nurturehub identity").digest()[:4], "big", signed=True)
#: Most leads read per key (a phone shared by more is a call centre, not a household).
_CANDIDATES = 50
_CLOSED = tuple(s.value for s in CLOSED_STAGES)


def key_names(phone: str | None, email: str | None, external_ids: Mapping[str, str]) -> list[str]:
    """The identity keys of normalised contacts and external ids (what :func:`lock` takes)."""
    keys = [f"email:{email}" if email else "", f"phone:{phone}" if phone else ""]
    keys += [f"id:{system}:{value}" for system, value in external_ids.items()]
    return [k for k in keys if k]


def lock_keys(
    session: Session, *, phone: str | None, email: str | None, external_ids: Mapping[str, str] | None = None
) -> None:
    """Take the identity locks of these keys until the transaction ends (PostgreSQL only)."""
    lock(session, key_names(phone, email, external_ids or {}))


def lock(session: Session, keys: Iterable[str]) -> None:
    """Take the identity locks of ``keys`` (of any number of inquiries: the inbox locks a whole
    batch's at once) until the transaction ends, in one statement (PostgreSQL only). They are
    taken in one order everywhere — ascending lock id, the array's order, which a function scan
    keeps — so no two intakes wait on each other in a circle."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted({int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big", signed=True) for key in keys})
    if ids:
        session.execute(
            text("SELECT count(pg_advisory_xact_lock(:c, k)) FROM unnest(CAST(:ids AS integer[])) AS k"),
            {"c": _LOCK_CLASS, "ids": ids},
        )


def _survivor(session: Session, lead_id: str) -> str:
    """The lead a merged lead lives on in (a merge of a merge followed, a few steps at most)."""
    for _ in range(8):
        merged = session.scalar(select(LeadRow.merged_into).where(LeadRow.id == lead_id))
        if not merged:
            return lead_id
        lead_id = merged
    return lead_id


def identify(
    session: Session,
    *,
    first_name: str,
    last_name: str,
    phone: str | None,
    email: str | None,
    external_ids: Mapping[str, str],
) -> Match:
    """Who the inquiry's person is (call after :func:`lock_keys`, in the same transaction)."""
    by_id: set[str] = set()
    if external_ids:
        pairs = [and_(ExternalIdRow.system == s, ExternalIdRow.external_id == e) for s, e in external_ids.items()]
        found = session.execute(select(ExternalIdRow.system, ExternalIdRow.lead_id).where(or_(*pairs))).all()
        ranked = {r.system: r.lead_id for r in found}
        for system in external_ids:  # the inquiry's own order of preference
            if system in ranked:
                by_id.add(_survivor(session, str(ranked[system])))
                break
    holders = {
        (r.kind, str(r.lead_id))
        for r in session.execute(
            select(IdentityKeyRow.kind, IdentityKeyRow.lead_id).where(
                or_(
                    and_(IdentityKeyRow.kind == "email", IdentityKeyRow.value == (email or "")),
                    and_(IdentityKeyRow.kind == "phone", IdentityKeyRow.value == (phone or "")),
                )
            )
        )
    }
    contacts = [c == v for c, v in ((LeadRow.phone, phone), (LeadRow.email, email)) if v]
    wanted = [LeadRow.id.in_([*by_id, *(lead for _, lead in holders)])]
    rows = session.execute(
        select(LeadRow.id, LeadRow.first_name, LeadRow.last_name, LeadRow.phone, LeadRow.email, LeadRow.stage,
               LeadRow.created_at, LeadRow.merged_into)
        .where(or_(*contacts, *wanted))
        .order_by(LeadRow.created_at.desc())
        .limit(_CANDIDATES)
    ).all()  # fmt: skip
    candidates = [
        Candidate(
            lead_id=r.id,
            first_name=r.first_name,
            last_name=r.last_name,
            email=r.email,
            by_external_id=r.id in by_id,
            by_email=bool(email) and (r.email == email or ("email", r.id) in holders),
            by_phone=bool(phone) and r.phone == phone,
            phone_holder=("phone", r.id) in holders,
            closed=r.stage in _CLOSED,
            created_at=r.created_at,
        )
        for r in rows
        if not r.merged_into  # a merged lead's keys and ids live on in the lead it was merged into
    ]
    return decide(first_name=first_name, last_name=last_name, email=email, candidates=candidates)


def claim_keys(
    session: Session,
    lead_id: str,
    *,
    emails: Iterable[str | None],
    phones: Iterable[str | None],
    new: bool,
    now: datetime,
    household: bool = False,
) -> list[str]:
    """Claim emails and phones for ``lead_id`` in ``lead_identity_keys`` (those another lead holds
    stay that lead's). Returns the leads already holding one of these emails (to link for a
    coordinator: duplicates made before identity was enforced).

    Raises:
        RetryLater: a ``new`` lead whose email (or, unless it joined a ``household``, phone) another
            lead claimed first — the transaction must roll back and the inquiry be matched again.
    """
    wanted = sorted({("email", e) for e in emails if e} | {("phone", p) for p in phones if p})
    if not wanted:
        return []
    table = IdentityKeyRow.__table__
    assert isinstance(table, Table)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    claimed = session.execute(
        insert(table)
        .values([{"kind": kind, "value": value, "lead_id": lead_id, "claimed_at": now} for kind, value in wanted])
        .on_conflict_do_nothing(index_elements=["kind", "value"])
        .returning(table.c.kind, table.c.value)
    ).all()
    held = set(wanted) - {(kind, value) for kind, value in claimed}
    holders = (
        session.execute(
            select(IdentityKeyRow.kind, IdentityKeyRow.value, IdentityKeyRow.lead_id).where(
                or_(*(and_(IdentityKeyRow.kind == kind, IdentityKeyRow.value == value) for kind, value in held))
            )
        ).all()
        if held
        else []
    )
    conflicts: list[str] = []
    for kind, _value, holder in sorted(holders):
        if holder == lead_id:
            continue
        if new and not (kind == "phone" and household):
            raise RetryLater(f"identity key ({kind}) of new lead {lead_id} was claimed by lead {holder} meanwhile")
        if kind == "email":
            conflicts.append(str(holder))
    return conflicts


def link(session: Session, lead_id: str, others: Iterable[str], *, reason: str, now: datetime) -> int:
    """Link ``lead_id`` to each of ``others`` (once per pair, whichever way round). Returns how many
    links are new."""
    added = 0
    for other in others:
        if other == lead_id:
            continue
        exists = session.scalar(
            select(LeadLinkRow.id).where(
                or_(
                    and_(LeadLinkRow.lead_id == lead_id, LeadLinkRow.other_lead_id == other),
                    and_(LeadLinkRow.lead_id == other, LeadLinkRow.other_lead_id == lead_id),
                )
            )
        )
        if exists is None:
            session.add(LeadLinkRow(lead_id=lead_id, other_lead_id=other, reason=reason, status="open", created_at=now))
            added += 1
    if added:
        log.info("lead %s: linked to %d lead(s) that may be the same person or household (%s)", lead_id, added, reason)
    return added


# --- the lead page --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkView:
    """A link as the lead page shows it (the other lead's id, stage and what it shares).

    Attributes:
        id: the link's row id.
        other_lead_id: the lead on the other end.
        other_stage: its stage.
        reason: ``phone_other_name``, ``same_email``, ``same_phone``, ``merged``.
        status: ``open``, ``kept_apart`` or ``merged``.
        decided_by, decided_at: who kept them apart or merged them, and when.
    """

    id: int
    other_lead_id: str
    other_stage: str
    reason: str
    status: str
    decided_by: str | None
    decided_at: datetime | None


def links_of(session: Session, lead_id: str) -> list[LinkView]:
    """The lead's links, open ones first."""
    rows = session.scalars(
        select(LeadLinkRow).where(or_(LeadLinkRow.lead_id == lead_id, LeadLinkRow.other_lead_id == lead_id))
    ).all()
    others = {r.other_lead_id if r.lead_id == lead_id else r.lead_id for r in rows}
    stages = {r.id: r.stage for r in session.execute(select(LeadRow.id, LeadRow.stage).where(LeadRow.id.in_(others)))}
    views = [
        LinkView(
            id=r.id,
            other_lead_id=(other := r.other_lead_id if r.lead_id == lead_id else r.lead_id),
            other_stage=stages.get(other, "?"),
            reason=r.reason,
            status=r.status,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
        )
        for r in rows
    ]
    return sorted(views, key=lambda v: (v.status != "open", v.other_lead_id))


def _pair(session: Session, a: str, b: str) -> LeadLinkRow | None:
    return session.scalars(
        select(LeadLinkRow).where(
            or_(
                and_(LeadLinkRow.lead_id == a, LeadLinkRow.other_lead_id == b),
                and_(LeadLinkRow.lead_id == b, LeadLinkRow.other_lead_id == a),
            )
        )
    ).one_or_none()


def keep_apart(session: Session, lead_id: str, other_id: str, *, actor: str, now: datetime) -> bool:
    """A coordinator decided the two leads are different people. Audited. False: no such link."""
    row = _pair(session, lead_id, other_id)
    if row is None or row.status != "open":
        return False
    row.status, row.decided_at, row.decided_by = "kept_apart", now, actor
    repo.audit(session, actor=actor, action="leads_kept_apart", subject_type="lead", subject_id=lead_id, now=now,
               detail={"other_lead_id": other_id, "reason": row.reason})  # fmt: skip
    return True


# --- merging --------------------------------------------------------------------------------------


class MergeRefused(Refused):
    """A merge the hub will not make as asked; the message says why, in words (no PHI)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="merge_refused")


def merge_leads(
    session: Session,
    *,
    keep_id: str,
    absorb_id: str,
    config: HubConfig,
    now: datetime,
    actor: str,
    destinations: Sequence[str],
) -> CommitResult:
    """Merge lead ``absorb_id`` into ``keep_id``, in the caller's transaction.

    Moves the absorbed lead's inquiries (inbox events), touches (inquiries included), appointments,
    identity keys, clearance and ids in form and booking tools to the lead that stays; keeps the
    most restrictive consent of the two; fills the kept lead's blanks (name, phone, email) and
    appends the absorbed lead's words. The absorbed lead is closed as ``duplicate`` with
    ``merged_into`` set: its open CRM tasks are withdrawn and its CRM records marked closed (stage
    "duplicate") on the next push, while the kept lead's records get the merged values. Audited on
    both leads.

    Raises:
        MergeRefused: the same lead twice, a lead already merged, a missing lead, or a booked lead
            that would be absorbed by an unbooked one (keep the booked lead instead).
    """
    if keep_id == absorb_id:
        raise MergeRefused("a lead cannot be merged into itself")
    for lead_id in sorted((keep_id, absorb_id)):  # row locks in one order
        if session.scalar(select(LeadRow.merged_into).where(LeadRow.id == lead_id)):
            raise MergeRefused(f"lead {lead_id} was already merged into another lead")
    rows = {r.id: r for r in session.scalars(select(LeadRow).where(LeadRow.id.in_([keep_id, absorb_id])))}
    for lead_id in (keep_id, absorb_id):
        if lead_id not in rows:
            raise MergeRefused(f"there is no lead {lead_id}")
    for row in rows.values():
        lock_keys(session, phone=row.phone, email=row.email)
    found_keep = repo.load_lead(session, keep_id, for_update=True)
    found_absorb = repo.load_lead(session, absorb_id, for_update=True)
    assert found_keep is not None
    assert found_absorb is not None
    keep, keep_version = found_keep
    absorbed, absorbed_version = found_absorb
    if absorbed.stage.is_booked and not keep.stage.is_booked:
        raise MergeRefused(f"lead {absorb_id} has an appointment and {keep_id} has none: keep lead {absorb_id}")

    moved_ids = {s: v for s, v in absorbed.external_ids.items() if s not in CRM_SYSTEMS and s not in keep.external_ids}
    counts = {
        "inquiries": _move(session, InboxRow, absorb_id, keep_id),
        "touches": _move(session, TouchRow, absorb_id, keep_id),
        "appointments": _move(session, AppointmentRow, absorb_id, keep_id),
        "identity_keys": _move(session, IdentityKeyRow, absorb_id, keep_id),
        "external_ids": len(moved_ids),
    }
    if moved_ids:
        session.execute(
            update(ExternalIdRow)
            .where(ExternalIdRow.lead_id == absorb_id, ExternalIdRow.system.in_(list(moved_ids)))
            .values(lead_id=keep_id)
        )
    if session.get(ClearanceRow, keep_id) is None and session.get(ClearanceRow, absorb_id) is not None:
        session.execute(update(ClearanceRow).where(ClearanceRow.lead_id == absorb_id).values(lead_id=keep_id))
    session.flush()

    source = f"merge:{absorb_id}"
    merged = keep.evolve(
        first_name=keep.first_name or absorbed.first_name,
        last_name=keep.last_name or absorbed.last_name,
        phone=keep.phone or absorbed.phone,
        email=keep.email or absorbed.email,
        inquiry_text="\n".join(t for t in (keep.inquiry_text, absorbed.inquiry_text) if t),
        urgent=keep.urgent or absorbed.urgent,
        needs=keep.needs | absorbed.needs,
        triage_keywords=tuple(dict.fromkeys((*keep.triage_keywords, *absorbed.triage_keywords))),
        consent=merged_consent(keep.consent, absorbed.consent, at=now, source=source),
        external_ids={**keep.external_ids, **moved_ids},
        updated_at=now,
    )
    kept = commit_lead(
        session, before=keep, version=keep_version, proposed=merged, config=config, now=now, actor=actor,
        action="lead_merged", destinations=destinations,
    )  # fmt: skip
    if not kept.ok:
        rules = ", ".join(v.rule for v in kept.violations)
        raise MergeRefused(f"the policy refused the merged lead ({rules})")
    closed = absorbed.evolve(
        stage=Stage.DUPLICATE,
        next_action=None,
        close_reason=f"merged into {keep_id}",
        external_ids={s: v for s, v in absorbed.external_ids.items() if s not in moved_ids},
        updated_at=now,
    )
    gone = commit_lead(
        session, before=absorbed, version=absorbed_version, proposed=closed, config=config, now=now, actor=actor,
        action="lead_merged_away", destinations=destinations,
    )  # fmt: skip
    if not gone.ok:
        rules = ", ".join(v.rule for v in gone.violations)
        raise MergeRefused(f"the policy refused closing lead {absorb_id} ({rules})")
    session.execute(update(LeadRow).where(LeadRow.id == absorb_id).values(merged_into=keep_id))
    pair = _pair(session, keep_id, absorb_id)
    if pair is None:
        session.add(LeadLinkRow(lead_id=absorb_id, other_lead_id=keep_id, reason="merged", status="merged",
                                created_at=now, decided_at=now, decided_by=actor))  # fmt: skip
    else:
        pair.status, pair.decided_at, pair.decided_by = "merged", now, actor
    for subject, other in ((keep_id, absorb_id), (absorb_id, keep_id)):
        repo.audit(session, actor=actor, action="leads_merged", subject_type="lead", subject_id=subject, now=now,
                   detail={"kept": keep_id, "absorbed": absorb_id, "other_lead_id": other, **counts})  # fmt: skip
    log.info("lead %s merged into lead %s (%s)", absorb_id, keep_id, ", ".join(f"{k}={v}" for k, v in counts.items()))
    return kept


def _move(session: Session, model: type[InboxRow | TouchRow | AppointmentRow | IdentityKeyRow], a: str, b: str) -> int:
    result = session.execute(update(model).where(model.lead_id == a).values(lead_id=b))
    return int(result.rowcount)  # type: ignore[attr-defined]
