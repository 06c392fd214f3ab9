"""What the admin UI changes, kept as versioned documents in the store: field mappings (one per source
or CRM object) and the configuration sections an admin may edit (channels, sources, routing, cadence,
templates). Who changed what, when; history; roll back; import and export as TOML.

Every save writes a new version; nothing is changed or deleted, and a roll back saves the old document
again as the newest version. Every save, roll back and import is audited.

**Configuration sections** overlay the TOML file: :func:`effective_config` puts the newest stored
document of each section in place of the file's (``sources`` only changes a source's ``channel``,
``mapping`` and ``enabled``) and validates the result exactly as :func:`hub.config.parse_config`
does, so a stored section can never make a configuration the file could not. Version 0 of a section
is the file itself; rolling back to it stores an empty overlay ("use the file").

**Mappings** are :class:`~mapping.spec.FieldMapping` documents (``mapping.schemas.dump_mapping``).
The built-in defaults are version 1 of their names; the first save is version 2. A CRM mapping is
pre-flighted against what the CRM says about its fields before it is saved (:func:`preflight`).
:func:`mapping_for` returns the newest stored version of a name (None when only the default exists);
:func:`source_mapping_for` and :func:`crm_mapping_for` return what a source or a CRM object uses.

This module also gathers what the mapping editor previews: the last inbound events of a mapping's
sources (decrypted; each view audited) and recent leads' plain views for CRM mappings.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.base import FieldInfo as CrmFieldInfo
from hub.config import ENV_DATABASE_URL, HubConfig, Source, parse_config
from hub.crypto import Vault
from hub.store import repo
from hub.store.models import AuditRow, InboxRow, LeadRow, SettingsVersionRow
from hub.views import lead_view
from mapping.apply import FieldError
from mapping.defaults import DEFAULT_MAPPINGS, default_crm_mapping, default_source_mapping
from mapping.errors import MappingError
from mapping.picklists import FieldInfo, picklist_problems
from mapping.schemas import dump_mapping, load_mapping
from mapping.spec import FieldMapping, MappingKind
from mapping.toml_io import dump_toml, from_toml, toml_key, toml_string, toml_value
from nurture.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "SECTIONS",
    "SOURCE_KEYS",
    "SOURCE_TYPES",
    "MappingInfo",
    "Outcome",
    "SampleEvent",
    "VersionInfo",
    "crm_mapping_for",
    "current_mapping",
    "current_section",
    "dump_toml",
    "effective_config",
    "export_section_toml",
    "import_mapping_toml",
    "import_section_toml",
    "list_mappings",
    "mapping_for",
    "mapping_history",
    "mapping_name_for",
    "mapping_version",
    "overlay",
    "picklist_info",
    "preflight",
    "recent_events",
    "recent_lead_views",
    "rollback_mapping",
    "rollback_section",
    "save_mapping",
    "save_sections",
    "section_document",
    "section_history",
    "source_mapping_for",
    "sources_using",
    "split_problem",
    "stored_sections",
    "toml_key",
    "toml_string",
    "toml_value",
    "validate_sections",
]

#: The configuration sections the admin UI may change.
SECTIONS = ("channels", "sources", "routing", "cadence", "templates")
#: What the admin UI may change about a source (its type, secret and tolerance stay in the file).
SOURCE_KEYS = ("channel", "mapping", "enabled")
#: A source's config type → the mapping engine's source type.
SOURCE_TYPES = {
    "typeform": "typeform",
    "jotform": "jotform",
    "calcom": "calcom",
    "calendly": "calendly",
    "standard_webhook": "standard_webhook",
    "hubspot_v3": "hubspot_webhook",
}
_MAPPING, _SECTION = "mapping", "section"
#: Repeated views of the same events by the same person within this window are audited once.
AUDIT_WINDOW = timedelta(minutes=5)

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


# --- rows -----------------------------------------------------------------------------------------


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


# --- configuration sections -----------------------------------------------------------------------


def stored_sections(session: Session) -> dict[str, Any]:
    """The newest stored document of each section that has one (None: "use the file")."""
    out: dict[str, Any] = {}
    for name in SECTIONS:
        row = _latest(session, _SECTION, name)
        if row is not None and row.document is not None:
            out[name] = row.document
    return out


def overlay(raw: Mapping[str, Any], sections: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` (the parsed TOML) with ``sections`` in place of the file's."""
    out = dict(raw)
    for name, document in sections.items():
        if document is None:
            continue
        if name == "sources":
            merged = {k: dict(v) if isinstance(v, Mapping) else v for k, v in dict(raw.get("sources", {})).items()}
            for source, changes in dict(document).items():
                if source in merged and isinstance(merged[source], dict) and isinstance(changes, Mapping):
                    merged[source].update({k: v for k, v in changes.items() if k in SOURCE_KEYS})
            out["sources"] = merged
        else:
            out[name] = document
    return out


def _parse(base: HubConfig, raw: Mapping[str, Any]) -> HubConfig:
    environ = {ENV_DATABASE_URL: base.database_url} if base.database_url else {}
    config = parse_config(raw, source=f"{base.source} with the settings saved in the admin UI", environ=environ)
    return replace(config, instance_path=base.instance_path, database_url=base.database_url)


def effective_config(base: HubConfig, session: Session) -> HubConfig:
    """The configuration in force: the file's values with the stored sections in their place,
    validated exactly like :func:`hub.config.parse_config`.

    Raises:
        ConfigError: the stored sections no longer fit the file (every problem listed).
    """
    sections = stored_sections(session)
    if not sections:
        return base
    # Building a configuration compiles every triage rule (a tenth of a second or more); the pages
    # ask for it on every request, so the last few are kept, keyed by the stored sections' content.
    key = json.dumps(sections, sort_keys=True, default=str)
    with _EFFECTIVE_LOCK:
        cached = _EFFECTIVE.get(key)
        if cached is not None and cached[0] is base:
            _EFFECTIVE.move_to_end(key)
            return cached[1]
    config = _parse(base, overlay(base.raw, sections))
    with _EFFECTIVE_LOCK:
        _EFFECTIVE[key] = (base, config)
        while len(_EFFECTIVE) > _EFFECTIVE_KEPT:
            _EFFECTIVE.popitem(last=False)
    return config


#: The configurations last built by :func:`effective_config`: stored sections (JSON) → (base, config).
_EFFECTIVE: OrderedDict[str, tuple[HubConfig, HubConfig]] = OrderedDict()
_EFFECTIVE_KEPT = 8
_EFFECTIVE_LOCK = threading.Lock()


def section_document(config: HubConfig, name: str) -> Any:
    """A section as plain data, from a configuration's parsed TOML (``sources``: the editable keys)."""
    _known(name)
    if name == "sources":
        return {
            source: {k: values[k] for k in SOURCE_KEYS if k in values}
            for source, values in dict(config.raw.get("sources", {})).items()
            if isinstance(values, Mapping)
        }
    document = config.raw.get(name)
    return json.loads(json.dumps(document, default=str)) if document is not None else None


def current_section(session: Session, name: str) -> VersionInfo:
    """The version of ``name`` in force (version 0: the config file)."""
    _known(name)
    row = _latest(session, _SECTION, name)
    if row is None:
        return VersionInfo(name=name, version=0, author="config file", at=None, action="file", current=True)
    return _info(row, current=True)


def section_history(session: Session, name: str) -> list[VersionInfo]:
    """Every stored version of ``name``, newest first, ending with version 0 (the file)."""
    _known(name)
    rows = _history(session, _SECTION, name)
    out = [_info(r, current=i == 0) for i, r in enumerate(rows)]
    out.append(VersionInfo(name=name, version=0, author="config file", at=None, action="file", current=not rows))
    return out


def _known(name: str) -> None:
    if name not in SECTIONS:
        raise KeyError(f"{name!r} is not a section the admin UI edits; known: {', '.join(SECTIONS)}")


def _section_shape(name: str, document: Any) -> list[Problem]:
    if name == "templates":
        return [] if isinstance(document, list) else [(name, "must be a list of templates")]
    if not isinstance(document, Mapping):
        return [(name, "must be a table")]
    if name == "sources":
        problems: list[Problem] = []
        for source, changes in document.items():
            if not isinstance(changes, Mapping):
                problems.append((f"sources.{source}", "must be a table"))
                continue
            problems += [
                (f"sources.{source}.{key}", f"cannot be changed here (only {', '.join(SOURCE_KEYS)})")
                for key in changes
                if key not in SOURCE_KEYS
            ]
        return problems
    return []


def validate_sections(base: HubConfig, session: Session, changes: Mapping[str, Any]) -> list[Problem]:
    """Every problem the configuration would have with ``changes`` in force (empty: it is valid)."""
    problems: list[Problem] = []
    for name, document in changes.items():
        _known(name)
        if document is not None:
            problems += _section_shape(name, document)
    if problems:
        return problems
    if "sources" in changes and changes["sources"] is not None:
        unknown = sorted(set(changes["sources"]) - set(base.raw.get("sources", {})))
        problems += [(f"sources.{s}", "no such source in the config file") for s in unknown]
    sections = {**stored_sections(session), **changes}
    try:
        _parse(base, overlay(base.raw, sections))
    except ConfigError as exc:
        problems += [split_problem(p) for p in exc.problems]
    return problems


def save_sections(
    session: Session,
    base: HubConfig,
    changes: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
    action: str = "save",
    restored_from: int | None = None,
    expected: Mapping[str, int] | None = None,
) -> Outcome:
    """Save new versions of one or more sections together, if the configuration stays valid.

    Args:
        session: the caller's transaction.
        base: the configuration loaded from the file.
        changes: section name → its new document (None: "use the file").
        actor: who (for the history and the audit trail).
        now: when.
        action: ``save``, ``rollback`` or ``import``.
        restored_from: the version a roll back restores.
        expected: section → the version the editor started from; a section saved by someone else
            since is refused rather than overwritten.

    Returns:
        The outcome; ``version`` is the new version of the last section saved.
    """
    for name, seen in (expected or {}).items():
        latest = current_section(session, name)
        if latest.version != seen:
            return _refused(
                [(name, f"{latest.author} saved version {latest.version} since you opened this page; reload it")]
            )
    problems = validate_sections(base, session, changes)
    if problems:
        return _refused(problems)
    version = 0
    for name, document in changes.items():
        latest_row = _latest(session, _SECTION, name)
        version = (latest_row.version if latest_row else 0) + 1
        _write(
            session,
            kind=_SECTION,
            name=name,
            version=version,
            document=document,
            actor=actor,
            now=now,
            action=action,
            restored_from=restored_from,
        )
    return Outcome(version=version)


def rollback_section(
    session: Session, base: HubConfig, name: str, version: int, *, actor: str, now: datetime
) -> Outcome:
    """Put version ``version`` of ``name`` back in force, as a new version (0: the config file)."""
    _known(name)
    if version == 0:
        document = None
    else:
        row = _version_row(session, _SECTION, name, version)
        if row is None:
            return _refused([(name, f"there is no version {version}")])
        document = row.document
    return save_sections(
        session, base, {name: document}, actor=actor, now=now, action="rollback", restored_from=version
    )


def section_version_toml(session: Session, base: HubConfig, name: str, version: int) -> str | None:
    """Version ``version`` of a section as TOML (0: the configuration file's), or None when there
    is no such version (what the admin UI compares)."""
    _known(name)
    if version == 0:
        document = section_document(base, name)
    else:
        row = _version_row(session, _SECTION, name, version)
        if row is None:
            return None
        document = row.document if row.document is not None else section_document(base, name)
    return dump_toml({name: document if document is not None else {}})


def export_section_toml(config: HubConfig, name: str) -> str:
    """A section as TOML, in the layout of the config file (paste it there, or import it back)."""
    document = section_document(config, name)
    header = f"# nurturehub configuration section [{name}], as in force\n"
    return header + dump_toml({name: document if document is not None else {}})


def import_section_toml(
    session: Session, base: HubConfig, name: str, text: str, *, actor: str, now: datetime
) -> Outcome:
    """Save a section from TOML (as :func:`export_section_toml` writes it) as a new version."""
    _known(name)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return _refused([("(toml)", f"not TOML: {exc}")])
    others = sorted(set(data) - {name})
    if name not in data or others:
        return _refused([("(toml)", f"the file must hold the [{name}] section only")])
    return save_sections(session, base, {name: data[name]}, actor=actor, now=now, action="import")


# --- mappings -------------------------------------------------------------------------------------


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


# --- what the mapping editor previews -------------------------------------------------------------


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


def latest_change(session: Session) -> int:
    """A number that grows with every save or roll-back (the newest stored version's row id): what
    every process compares to know whether to reload its settings."""
    return int(session.scalar(select(func.max(SettingsVersionRow.id))) or 0)
