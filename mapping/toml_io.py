"""Mappings as TOML files: :func:`to_toml` writes one by hand (no dependency), :func:`from_toml` reads
it with ``tomllib`` and validates it with :class:`~mapping.schemas.MappingSchema`. The two round-trip:
``from_toml(to_toml(m)) == m`` for every valid mapping.

Layout::

    name = "salesforce_lead_default"
    kind = "crm_object"
    version = 1
    system = "salesforce"
    object = "Lead"

    [[rules]]
    target = "Status"
    sources = ["stage"]
    direction = "both"
    conflict = "newest_wins"

    [[rules.transforms]]
    name = "map_values"

    [rules.transforms.params.table]
    new = "Open - Not Contacted"
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from mapping.errors import MappingError
from mapping.schemas import dump_mapping, load_mapping
from mapping.spec import FieldMapping

__all__ = ["dump_toml", "from_toml", "to_toml", "toml_key", "toml_string", "toml_value"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def to_toml(mapping: FieldMapping) -> str:
    """The mapping as a TOML document (UTF-8 text) that :func:`from_toml` reads back unchanged."""
    header = f"# nurturehub field mapping: {mapping.name} (version {mapping.version})\n"
    return header + dump_toml(dump_mapping(mapping))


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _emit(path: tuple[str, ...], table: Mapping[str, Any], lines: list[str], *, array: bool = False) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping) and not _is_table_array(v)}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    arrays = {k: v for k, v in table.items() if _is_table_array(v)}
    name = ".".join(toml_key(p) for p in path)
    if array:
        lines += ["", f"[[{name}]]"]
    elif path and (scalars or not (tables or arrays)):
        lines += ["", f"[{name}]"]
    lines += [f"{toml_key(str(k))} = {toml_value(v)}" for k, v in scalars.items() if v is not None]
    for key, sub in tables.items():
        _emit((*path, str(key)), sub, lines)
    for key, items in arrays.items():
        for item in items:
            _emit((*path, str(key)), item, lines, array=True)


def dump_toml(data: Mapping[str, Any]) -> str:
    """Plain data (tables, arrays of tables, scalars) as a TOML document that ``tomllib`` reads
    back: the one TOML writer (mappings here, the settings' sections in hub.settings_store)."""
    lines: list[str] = []
    _emit((), data, lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def toml_key(key: str) -> str:
    """A TOML key: bare when it can be, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_string(text: str) -> str:
    """A TOML basic string, with every character TOML requires escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """One value in TOML's inline syntax (tables as ``{k = v}``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write a {type(value).__name__} to TOML")


def from_toml(text: str, *, source: str = "TOML") -> FieldMapping:
    """Read a mapping from TOML text and validate it.

    Args:
        text: the TOML document.
        source: what to call it in errors (the file name).

    Raises:
        MappingError: the text is not TOML, or the mapping is invalid (every problem listed).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError([("(toml)", str(exc))], source=source) from None
    return load_mapping(data, source=source)
