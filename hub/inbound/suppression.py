"""The suppression list: opt-outs from a phone number or email address the hub has no lead for.

A "STOP" texted from a number nobody wrote to us from, an "unsubscribe" from a newsletter reader who
never sent an inquiry: there is no lead to revoke consent on, and making one for a person who asked
to hear nothing would be wrong. The opt-out is kept here instead — the contact encrypted like other
PHI, found by its blind index — and every later lead with that contact inherits the denial (from the
moment it was said: a later, explicit consent on a form still counts). Each entry is audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.store import repo
from hub.store.crypto import Vault
from hub.store.models import SuppressionRow
from nurture.consent import ConsentEntry
from nurture.vocab import ConsentState, ContactChannel

__all__ = ["Suppressed", "inherited_denials", "suppress"]

#: The consent source of a denial a lead inherits from the list.
SOURCE = "suppression_list"


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppressed:
    """What was recorded: which kinds of contact, and which channels they may not be reached on."""

    contacts: tuple[str, ...]
    channels: tuple[ContactChannel, ...]


def _contacts(phone: str | None, email: str | None) -> list[tuple[str, str]]:
    return [(kind, value) for kind, value in (("phone", phone), ("email", email)) if value]


def _rows(session: Session, vault: Vault, phone: str | None, email: str | None) -> list[SuppressionRow]:
    """The entries of this phone and email, in one query."""
    wanted = [
        and_(SuppressionRow.kind == kind, SuppressionRow.contact_index.in_(vault.blind_indexes(value)))
        for kind, value in _contacts(phone, email)
    ]
    if not wanted:
        return []
    return list(session.scalars(select(SuppressionRow).where(or_(*wanted)).order_by(SuppressionRow.id)))


def suppress(
    session: Session,
    vault: Vault,
    *,
    phone: str | None,
    email: str | None,
    channels: Iterable[ContactChannel],
    source: str,
    actor: str,
    now: datetime,
) -> Suppressed:
    """Record that ``phone`` / ``email`` (normalised) may not be reached on ``channels``; an entry
    that exists gains the channels. Audited without the contact itself."""
    wanted = sorted(set(channels))
    kinds: list[str] = []
    for kind, value in _contacts(phone, email):
        indexes = vault.blind_indexes(value)
        row = session.scalars(
            select(SuppressionRow).where(SuppressionRow.kind == kind, SuppressionRow.contact_index.in_(indexes))
        ).first()
        if row is None:
            session.add(
                SuppressionRow(
                    kind=kind, contact_index=indexes[0], contact=vault.encrypt(value.encode("utf-8")),
                    channels=[c.value for c in wanted], source=source[:120], created_at=now, updated_at=now,
                )
            )  # fmt: skip
        else:
            row.channels = sorted(set(row.channels) | {c.value for c in wanted})
            row.updated_at = now
        kinds.append(kind)
    session.flush()
    repo.audit(
        session, actor=actor, action="suppression_recorded", subject_type="suppression",
        subject_id="+".join(kinds) or "-", now=now, detail={"channels": [c.value for c in wanted], "contacts": kinds},
    )  # fmt: skip
    return Suppressed(contacts=tuple(kinds), channels=tuple(wanted))


def inherited_denials(session: Session, vault: Vault, *, phone: str | None, email: str | None) -> list[ConsentEntry]:
    """The consent denials a new lead with these contacts inherits from the list."""
    out: list[ConsentEntry] = []
    for row in _rows(session, vault, phone, email):
        out.extend(
            ConsentEntry(
                channel=ContactChannel(channel),
                state=ConsentState.DENIED,
                at=row.created_at,
                source=SOURCE,
                wording=f"opted out before any inquiry ({row.source})",
            )
            for channel in row.channels
        )
    return out
