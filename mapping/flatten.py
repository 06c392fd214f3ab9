"""marshmallow's nested error dicts → ``key.path: message`` lines (``rules[3].transforms[0].params.region:
must be …``), the same spelling ``hub.settings.config`` uses for configuration errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["flatten_errors", "flatten_pairs"]


def flatten_errors(messages: Any, prefix: str = "") -> list[str]:
    """Flatten marshmallow's ``ValidationError.messages`` into ``key.path: message`` lines."""
    return [f"{key}: {message}" for key, message in flatten_pairs(messages, prefix)]


def flatten_pairs(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten marshmallow's ``ValidationError.messages`` into ``(key.path, message)`` pairs."""
    out: list[tuple[str, str]] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "value" and prefix:  # fields.Dict nests value errors under "value"
                out += flatten_pairs(value, prefix)
                continue
            if key == "key" and prefix:
                out += [(f"{prefix} (key)", m) for m in _leaf(value)]
                continue
            if key == "_schema":
                out += [(prefix or "(top level)", m) for m in _leaf(value)]
                continue
            path = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
            out += flatten_pairs(value, path)
    elif isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        out += [(prefix or "(top level)", m) for m in messages]
    elif isinstance(messages, list | tuple):
        for item in messages:
            out += flatten_pairs(item, prefix)
    else:
        out.append((prefix or "(top level)", str(messages)))
    return out


def _leaf(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if isinstance(value, Mapping):
        return [f"{k}: {v}" for k, v in value.items()]
    return [str(value)]
