"""Field mappings as versioned documents: the built-in defaults are version 1; the mapping a source
or a CRM object uses; a CRM mapping pre-flighted against the CRM's fields before it is saved."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.base import FieldInfo as CrmFieldInfo
from hub.settings.config import Source
from hub.settings.settings_store.sections import SOURCE_TYPES
from hub.settings.settings_store.versions import (
    _MAPPING,
    Outcome,
    VersionInfo,
    _current_version,
    _history,
    _info,
    _latest,
    _next_mapping_version,
    _refused,
    _version_row,
    _write,
)
from hub.store.models import SettingsVersionRow
from mapping.apply import FieldError
from mapping.defaults import DEFAULT_MAPPINGS, default_crm_mapping, default_source_mapping
from mapping.errors import MappingError
from mapping.picklists import FieldInfo, picklist_problems
from mapping.schemas import dump_mapping, load_mapping
from mapping.spec import FieldMapping, MappingKind
from mapping.toml_io import from_toml


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingInfo:
    """One mapping in the list: the version in force and where it comes from."""

    mapping: FieldMapping
    builtin: bool
    stored: bool
    author: str
    at: datetime | None

    @property
    def name(self) -> str:
        return self.mapping.name


def _load(row: SettingsVersionRow) -> FieldMapping:
    return load_mapping(row.document, source=f"stored mapping {row.name!r} version {row.version}")


def mapping_for(session: Session, name: str) -> FieldMapping | None:
    """The newest stored version of the mapping called ``name`` (None when none was saved)."""
    row = _latest(session, _MAPPING, name)
    return _load(row) if row is not None else None


def current_mapping(session: Session, name: str) -> FieldMapping | None:
    """The mapping in force under ``name``: the newest stored version, else the built-in default."""
    return mapping_for(session, name) or DEFAULT_MAPPINGS.get(name)


def mapping_name_for(source: Source) -> str | None:
    """The mapping a source uses: its ``mapping`` setting, or the default of its type (None: none)."""
    if source.mapping != "default":
        return source.mapping
    try:
        return default_source_mapping(SOURCE_TYPES.get(source.type, source.type)).name
    except (KeyError, ValueError):
        return None


def source_mapping_for(session: Session, source: Source) -> FieldMapping | None:
    """The mapping in force for ``source`` (what the inbox worker should map its events with)."""
    name = mapping_name_for(source)
    return current_mapping(session, name) if name else None


def crm_mapping_for(session: Session, system: str, object_name: str) -> FieldMapping:
    """The mapping in force for a CRM object (what the sync engine should write with)."""
    default = default_crm_mapping(system, object_name)
    return mapping_for(session, default.name) or default


def list_mappings(session: Session) -> list[MappingInfo]:
    """Every mapping: the built-in defaults and every stored name, each at the version in force."""
    latest = (
        select(SettingsVersionRow.name, func.max(SettingsVersionRow.version).label("version"))
        .where(SettingsVersionRow.kind == _MAPPING)
        .group_by(SettingsVersionRow.name)
        .subquery()
    )
    rows = session.scalars(
        select(SettingsVersionRow).join(
            latest,
            (SettingsVersionRow.name == latest.c.name) & (SettingsVersionRow.version == latest.c.version),
        )
    ).all()
    by_name = {r.name: r for r in rows if r.kind == _MAPPING}
    out: list[MappingInfo] = []
    for name in sorted(set(DEFAULT_MAPPINGS) | set(by_name)):
        row = by_name.get(name)
        if row is not None:
            out.append(
                MappingInfo(
                    mapping=_load(row),
                    builtin=name in DEFAULT_MAPPINGS,
                    stored=True,
                    author=row.author,
                    at=row.created_at,
                )
            )
        else:
            out.append(
                MappingInfo(mapping=DEFAULT_MAPPINGS[name], builtin=True, stored=False, author="built-in", at=None)
            )
    return out


def mapping_history(session: Session, name: str) -> list[VersionInfo]:
    """Every version of a mapping, newest first; a built-in default ends the list as version 1."""
    rows = _history(session, _MAPPING, name)
    out = [_info(r, current=i == 0) for i, r in enumerate(rows)]
    if name in DEFAULT_MAPPINGS:
        out.append(
            VersionInfo(
                name=name,
                version=DEFAULT_MAPPINGS[name].version,
                author="built-in",
                at=None,
                action="built-in",
                current=not rows,
            )
        )
    return out


def mapping_version(session: Session, name: str, version: int) -> FieldMapping | None:
    """One version of a mapping (the built-in default as its own version)."""
    row = _version_row(session, _MAPPING, name, version)
    if row is not None:
        return _load(row)
    default = DEFAULT_MAPPINGS.get(name)
    return default if default is not None and default.version == version else None


def picklist_info(describe: Mapping[str, CrmFieldInfo]) -> dict[str, FieldInfo]:
    """What a connector's ``describe`` says, as the mapping engine's pre-flight reads it (only a
    restricted picklist limits the values a CRM accepts)."""
    return {
        name: FieldInfo(
            exists=True,
            writable=info.writable,
            picklist_values=frozenset(info.picklist) if info.picklist is not None and info.restricted else None,
            reserved_values=frozenset(info.reserved),
            default_value=info.default if info.reserved else None,  # the lead-status default (IsDefault)
        )
        for name, info in describe.items()
    }


def preflight(mapping: FieldMapping, describe: Mapping[str, CrmFieldInfo]) -> list[FieldError]:
    """Every way the CRM would refuse ``mapping``: targets that do not exist or cannot be written,
    values a rule can produce that are not active values of a restricted picklist, converted lead
    statuses, and a new lead's status other than the org's default."""
    if mapping.kind is not MappingKind.CRM_OBJECT:
        return []
    return picklist_problems(mapping, picklist_info(describe))


def save_mapping(
    session: Session,
    document: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
    describe: Mapping[str, CrmFieldInfo] | None = None,
    expected: int | None = None,
    action: str = "save",
    restored_from: int | None = None,
) -> Outcome:
    """Validate a mapping document, pre-flight it against the CRM and save it as a new version.

    Args:
        session: the caller's transaction.
        document: the mapping as plain data (its ``version`` is replaced by the next number).
        actor: who.
        now: when.
        describe: the CRM's fields, for CRM mappings (None: not checked against the CRM).
        expected: the version the editor started from; refused if another was saved since.
        action: ``save``, ``rollback`` or ``import``.
        restored_from: the version a roll back restores.
    """
    name = document.get("name") if isinstance(document, Mapping) else None
    if not isinstance(name, str):
        return _refused([("name", "a mapping needs a name")])
    if expected is not None:
        current = _current_version(session, name)
        if current != expected:
            latest = _latest(session, _MAPPING, name)
            who = latest.author if latest else "someone"
            return _refused([("(mapping)", f"{who} saved version {current} since you opened it; reload to see it")])
    version = _next_mapping_version(session, name)
    try:
        mapping = load_mapping({**document, "version": version}, source=f"mapping {name!r}")
    except MappingError as exc:
        return _refused(exc.pairs)
    default = DEFAULT_MAPPINGS.get(name)
    if default is not None and (default.kind, default.source_type, default.system, default.object) != (
        mapping.kind,
        mapping.source_type,
        mapping.system,
        mapping.object,
    ):
        return _refused([("kind", f"{name} maps {_what(default)}; a mapping of another kind needs another name")])
    if describe is not None:
        problems = preflight(mapping, describe)
        if problems:
            index = {rule.target: i for i, rule in enumerate(mapping.rules)}
            return _refused([(f"rules[{index[p.target]}].target", p.message) for p in problems])
    _write(
        session,
        kind=_MAPPING,
        name=name,
        version=version,
        document=dump_mapping(mapping),
        actor=actor,
        now=now,
        action=action,
        restored_from=restored_from,
    )
    return Outcome(version=version, mapping=mapping)


def _what(mapping: FieldMapping) -> str:
    if mapping.kind is MappingKind.SOURCE:
        return f"{mapping.source_type} webhooks"
    return f"{mapping.system} {mapping.object}"


def rollback_mapping(
    session: Session,
    name: str,
    version: int,
    *,
    actor: str,
    now: datetime,
    describe: Mapping[str, CrmFieldInfo] | None = None,
) -> Outcome:
    """Put version ``version`` back in force as a new version (pre-flighted like a save)."""
    old = mapping_version(session, name, version)
    if old is None:
        return _refused([("version", f"{name} has no version {version}")])
    return save_mapping(
        session, dump_mapping(old), actor=actor, now=now, describe=describe, action="rollback", restored_from=version
    )


def import_mapping_toml(
    session: Session,
    text: str,
    *,
    actor: str,
    now: datetime,
    describe_for: Callable[[FieldMapping], Mapping[str, CrmFieldInfo] | None] | None = None,
) -> Outcome:
    """Save a mapping from TOML (``mapping.to_toml``'s layout) as the next version of its name.

    Args:
        describe_for: gives the CRM's fields for a CRM mapping's pre-flight (None: not checked).
    """
    try:
        parsed = from_toml(text, source="the imported file")
    except MappingError as exc:
        return _refused(exc.pairs)
    describe = describe_for(parsed) if describe_for is not None else None
    return save_mapping(session, dump_mapping(parsed), actor=actor, now=now, describe=describe, action="import")
