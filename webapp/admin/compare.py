"""Two versions of a document side by side as a person reads a change: the lines taken out and
the lines put in, with a few lines of context (difflib's unified diff of the TOML each version
exports to)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

__all__ = ["Line", "changes"]


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a comparison: ``kind`` is ``removed``, ``added``, ``same`` or ``gap`` (lines
    left out between two changes)."""

    kind: str
    text: str


def changes(old: str, new: str, *, context: int = 3) -> list[Line]:
    """What changes from ``old`` to ``new``, line by line (empty when they are the same)."""
    out: list[Line] = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=context):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            out.append(Line("gap", "…"))
        elif line.startswith("-"):
            out.append(Line("removed", line[1:]))
        elif line.startswith("+"):
            out.append(Line("added", line[1:]))
        else:
            out.append(Line("same", line[1:]))
    return out
