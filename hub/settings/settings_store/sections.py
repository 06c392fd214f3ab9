"""The configuration sections an admin may edit (channels, sources, routing, cadence, templates):
the stored documents overlaid on the TOML file and validated as the file is; save, history, roll
back, import and export as TOML."""

from __future__ import annotations

import json
import threading
import tomllib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.settings.config import ENV_DATABASE_URL, HubConfig, parse_config
from hub.settings.settings_store.versions import (
    _SECTION,
    Outcome,
    Problem,
    VersionInfo,
    _history,
    _info,
    _latest,
    _refused,
    _version_row,
    _write,
    split_problem,
)
from mapping.toml_io import dump_toml
from nurture.errors import ConfigError

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
    validated exactly like :func:`hub.settings.config.parse_config`.

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
