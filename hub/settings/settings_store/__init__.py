"""What the admin UI changes, kept as versioned documents in the store: field mappings (one per source
or CRM object) and the configuration sections an admin may edit (channels, sources, routing, cadence,
templates). Who changed what, when; history; roll back; import and export as TOML.

Every save writes a new version; nothing is changed or deleted, and a roll back saves the old document
again as the newest version. Every save, roll back and import is audited.

**Configuration sections** overlay the TOML file: :func:`effective_config` puts the newest stored
document of each section in place of the file's (``sources`` only changes a source's ``channel``,
``mapping`` and ``enabled``) and validates the result exactly as :func:`hub.settings.config.parse_config`
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

from hub.settings.settings_store.mappings import (
    MappingInfo,
    crm_mapping_for,
    current_mapping,
    import_mapping_toml,
    list_mappings,
    mapping_for,
    mapping_history,
    mapping_name_for,
    mapping_version,
    picklist_info,
    preflight,
    rollback_mapping,
    save_mapping,
    source_mapping_for,
)
from hub.settings.settings_store.preview import SampleEvent, recent_events, recent_lead_views, sources_using
from hub.settings.settings_store.sections import (
    SECTIONS,
    SOURCE_KEYS,
    SOURCE_TYPES,
    current_section,
    effective_config,
    export_section_toml,
    import_section_toml,
    overlay,
    rollback_section,
    save_sections,
    section_document,
    section_history,
    section_version_toml,
    stored_sections,
    validate_sections,
)
from hub.settings.settings_store.versions import Outcome, VersionInfo, latest_change, split_problem
from mapping.toml_io import dump_toml, toml_key, toml_string, toml_value

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
    "latest_change",
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
    "section_version_toml",
    "source_mapping_for",
    "sources_using",
    "split_problem",
    "stored_sections",
    "toml_key",
    "toml_string",
    "toml_value",
    "validate_sections",
]
