"""The mapping engine's errors, grouped by what the caller must do::

    ConfigError (and ValueError)
    └── MappingError        the mapping document is invalid: fix configuration (every problem listed)
        └── PathSyntaxError one source path is malformed
    SkipRecord (and ValueError)
    └── TransformError      one value could not be transformed: becomes a row in
                            ``MappingResult.errors``; never escapes ``apply``

Both sit in the hub's one error tree (``nurture.errors``). Messages name the rule, the field and the
transform at fault and never repeat a payload value (payloads carry PHI).
"""

from __future__ import annotations

from collections.abc import Sequence

from nurture.errors import ConfigError, SkipRecord

__all__ = ["MappingError", "PathSyntaxError", "TransformError"]


class MappingError(ConfigError, ValueError):
    """A mapping is invalid.

    Attributes:
        problems: every problem as a ``key.path: message`` line.
        pairs: the same problems as ``(key.path, message)`` pairs.
        source: what was being validated (``mapping 'typeform_default'``, ``TOML``).
    """

    def __init__(self, problems: Sequence[str | tuple[str, str]], *, source: str = "mapping") -> None:
        self.pairs: tuple[tuple[str, str], ...] = tuple(p if isinstance(p, tuple) else _split(p) for p in problems)
        super().__init__([f"{k}: {m}" if k else m for k, m in self.pairs], source=source)
        self.problems = tuple(self.problems)


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


class TransformError(SkipRecord, ValueError):
    """A value could not be transformed. The message describes the problem, never the value."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field, code="transform_failed")
