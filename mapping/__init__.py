"""The field-mapping engine (pure: no I/O, no framework, no clock).

A mapping is a list of field rules for one webhook source or one CRM object. Source mappings turn a
webhook payload into the hub's inquiry JSON; CRM mappings turn a lead's plain view into CRM fields and,
for reversible rules, back. See ``docs/mapping.md``.

Public API::

    parse_path, resolve, ABSENT                       paths
    TRANSFORMS                                        the transform table
    FieldMapping, Rule, TransformStep, is_reversible  rules and mappings
    load_mapping, dump_mapping, record_problems       marshmallow schemas
    apply, apply_outbound, apply_inbound, reverse,    running mappings
    preview, MappingResult, FieldError
    resolve_conflict, Resolution, Winner              conflict resolution
    picklist_problems, FieldInfo                      picklist pre-flight
    to_toml, from_toml                                TOML import/export
    DEFAULT_MAPPINGS, default_source_mapping,         default mappings
    default_crm_mapping
"""

from __future__ import annotations

from mapping.apply import (
    FieldError,
    MappingResult,
    Preview,
    PreviewCell,
    PreviewRow,
    apply,
    apply_inbound,
    apply_outbound,
    preview,
    reverse,
)
from mapping.conflicts import Resolution, Winner
from mapping.conflicts import resolve as resolve_conflict
from mapping.defaults import DEFAULT_MAPPINGS, default_crm_mapping, default_source_mapping
from mapping.errors import MappingError, PathSyntaxError, TransformError
from mapping.paths import ABSENT, Path, parse_path, resolve
from mapping.picklists import FieldInfo, picklist_problems
from mapping.schemas import dump_mapping, load_mapping, record_problems
from mapping.spec import (
    Conflict,
    CrmSystem,
    Direction,
    FieldMapping,
    MappingKind,
    Rule,
    SourceType,
    TransformStep,
    is_reversible,
)
from mapping.toml_io import from_toml, to_toml
from mapping.transforms import TRANSFORMS

__all__ = [
    "ABSENT",
    "DEFAULT_MAPPINGS",
    "TRANSFORMS",
    "Conflict",
    "CrmSystem",
    "Direction",
    "FieldError",
    "FieldInfo",
    "FieldMapping",
    "MappingError",
    "MappingKind",
    "MappingResult",
    "Path",
    "PathSyntaxError",
    "Preview",
    "PreviewCell",
    "PreviewRow",
    "Resolution",
    "Rule",
    "SourceType",
    "TransformError",
    "TransformStep",
    "Winner",
    "apply",
    "apply_inbound",
    "apply_outbound",
    "default_crm_mapping",
    "default_source_mapping",
    "dump_mapping",
    "from_toml",
    "is_reversible",
    "load_mapping",
    "parse_path",
    "picklist_problems",
    "preview",
    "record_problems",
    "resolve",
    "resolve_conflict",
    "reverse",
    "to_toml",
]
