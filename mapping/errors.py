"""The mapping engine's errors, grouped by what the caller must do::

    ValueError
    ├── MappingError        the mapping document is invalid: fix configuration (every problem listed)
    │   └── PathSyntaxError one source path is malformed
    └── TransformError      one value could not be transformed: becomes a row in
                            ``MappingResult.errors``; never escapes ``apply``

The hub translates :class:`MappingError` into its ``ConfigError``. Messages name the rule, the field
and the transform at fault and never repeat a payload value (payloads carry PHI).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MappingError", "PathSyntaxError", "TransformError"]


class MappingError(ValueError):
    """A mapping is invalid.

    Attributes:
        problems: every problem as a ``key.path: message`` line.
        pairs: the same problems as ``(key.path, message)`` pairs.
        source: what was being validated (``mapping 'typeform_default'``, ``TOML``).
    """

    def __init__(self, problems: Sequence[str | tuple[str, str]], *, source: str = "mapping") -> None:
        self.pairs: tuple[tuple[str, str], ...] = tuple(p if isinstance(p, tuple) else _split(p) for p in problems)
        self.problems: tuple[str, ...] = tuple(f"{k}: {m}" if k else m for k, m in self.pairs)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} has {len(self.problems)} problem(s):\n{lines}")


def _split(line: str) -> tuple[str, str]:
    key, sep, message = line.partition(": ")
    return (key, message) if sep else ("", line)


class PathSyntaxError(MappingError):
    """A source path does not follow the path grammar (see :mod:`mapping.paths`)."""

    def __init__(self, message: str) -> None:
        super().__init__([("", message)], source="path")
        self.message = message

    def __str__(self) -> str:
        return self.message


class TransformError(ValueError):
    """A value could not be transformed. The message describes the problem, never the value."""
