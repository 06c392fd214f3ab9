"""Versioned settings documents in the store: every save a new version, nothing changed or deleted;
who saved what and when, and the number every process compares to know it must reload."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.store import repo
from hub.store.models import SettingsVersionRow
from mapping.defaults import DEFAULT_MAPPINGS
from mapping.spec import FieldMapping

log = logging.getLogger(__name__)

_MAPPING, _SECTION = "mapping", "section"

Problem = tuple[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionInfo:
    """One version in a history.

    Attributes:
        name: the mapping or section name.
        version: its number (0: the config file; 1 for a mapping: the built-in default).
        author: who saved it (``user:<id>:<name>``, ``cli``, ``built-in``, ``config file``).
        at: when (None for the file and the built-in defaults).
        action: ``save``, ``rollback``, ``import`` or ``built-in`` / ``file``.
        restored_from: the version a roll back restored.
        current: the version in force.
    """

    name: str
    version: int
    author: str
    at: datetime | None
    action: str
    restored_from: int | None = None
    current: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a save, roll back or import did.

    Attributes:
        version: the version written (None when refused).
        problems: why it was refused: (key, message) pairs with keys like
            ``channels.website_form.response_minutes`` or ``rules[3].transforms[0].params``.
        mapping: the mapping saved (mapping saves only).
    """

    version: int | None = None
    problems: tuple[Problem, ...] = ()
    mapping: FieldMapping | None = None

    @property
    def ok(self) -> bool:
        return self.version is not None


def _refused(problems: Sequence[Problem]) -> Outcome:
    return Outcome(problems=tuple(problems))


def split_problem(line: str) -> Problem:
    """``"channels.other.owner_queue: message"`` → (key, message); keys lose a ``" (id)"`` suffix."""
    key, sep, message = line.partition(": ")
    if not sep:
        return "", line
    return re.sub(r" \([^)]*\)$", "", key), message


def _latest(session: Session, kind: str, name: str) -> SettingsVersionRow | None:
    return session.scalars(
        select(SettingsVersionRow)
        .where(SettingsVersionRow.kind == kind, SettingsVersionRow.name == name)
        .order_by(SettingsVersionRow.version.desc())
        .limit(1)
    ).one_or_none()


def _version_row(session: Session, kind: str, name: str, version: int) -> SettingsVersionRow | None:
    return session.scalars(
        select(SettingsVersionRow).where(
            SettingsVersionRow.kind == kind, SettingsVersionRow.name == name, SettingsVersionRow.version == version
        )
    ).one_or_none()


def _history(session: Session, kind: str, name: str) -> list[SettingsVersionRow]:
    return list(
        session.scalars(
            select(SettingsVersionRow)
            .where(SettingsVersionRow.kind == kind, SettingsVersionRow.name == name)
            .order_by(SettingsVersionRow.version.desc())
        )
    )


def _info(row: SettingsVersionRow, *, current: bool) -> VersionInfo:
    return VersionInfo(
        name=row.name,
        version=row.version,
        author=row.author,
        at=row.created_at,
        action=row.action,
        restored_from=row.restored_from,
        current=current,
    )


def _write(
    session: Session,
    *,
    kind: str,
    name: str,
    version: int,
    document: Any,
    actor: str,
    now: datetime,
    action: str,
    restored_from: int | None,
) -> None:
    session.add(
        SettingsVersionRow(
            kind=kind,
            name=name,
            version=version,
            document=document,
            author=actor[:120],
            created_at=now,
            action=action,
            restored_from=restored_from,
        )
    )
    detail: dict[str, Any] = {"version": version}
    if restored_from is not None:
        detail["restored_from"] = restored_from
    repo.audit(
        session,
        actor=actor,
        action=f"{kind}.{action}",
        subject_type=kind,
        subject_id=name,
        now=now,
        detail=detail,
    )
    session.flush()
    log.info("%s %s: version %d saved (%s)", kind, name, version, action)


def _next_mapping_version(session: Session, name: str) -> int:
    row = _latest(session, _MAPPING, name)
    default = DEFAULT_MAPPINGS.get(name)
    return max(row.version if row else 0, default.version if default else 0) + 1


def _current_version(session: Session, name: str) -> int:
    row = _latest(session, _MAPPING, name)
    if row is not None:
        return row.version
    default = DEFAULT_MAPPINGS.get(name)
    return default.version if default else 0


def latest_change(session: Session) -> int:
    """A number that grows with every save or roll-back (the newest stored version's row id): what
    every process compares to know whether to reload its settings."""
    return int(session.scalar(select(func.max(SettingsVersionRow.id))) or 0)
