"""Source paths: where a rule finds its value in a webhook payload or a lead's plain view.

Grammar (dotted keys, list indexes and selectors)::

    path      := step ( "." key | "[" bracket "]" )*
    step      := key | "[" bracket "]"
    key       := one or more letters (any script), digits, or  _ - $ @ :
    bracket   := integer                      form_response.answers[0]      (negative counts from the end)
               | quoted                       payload.responses["What brings you in?"]
               | keypath "=" value            answers[ref=email]            first element whose ref is "email"
                                              answers[field.ref=email]      ... nested key path
               | keypath "=" quoted           questions_and_answers[question="Phone (mobile)"]
    quoted    := "..." or '...'               with \\" \\' \\\\ escapes

A selector ``[k=v]`` picks the first list element whose value at key path ``k`` equals ``v`` (compared
as text: numbers by their decimal spelling, booleans as ``true``/``false``). For a one-key selector, an
element without key ``k`` of its own is matched on its nested ``field.k``, so ``answers[ref=email]``
finds a Typeform answer whose reference sits in ``answer.field.ref``.

Resolution never raises: whatever the data, a path yields a value or :data:`ABSENT`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any, Final, TypeAlias

from mapping.errors import PathSyntaxError

__all__ = [
    "ABSENT",
    "Absent",
    "Index",
    "Key",
    "Path",
    "Select",
    "is_absent",
    "parse_path",
    "resolve",
]


class Absent(Enum):
    """The type of :data:`ABSENT`: "there is nothing at this path" (not an error)."""

    ABSENT = "absent"

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


#: The one "no value here" marker. ``None`` (JSON ``null``) is a value the caller may treat as absent.
ABSENT: Final = Absent.ABSENT

_KEY_CHARS = re.compile(r"[\w\-$@:]+")
_INDEX = re.compile(r"-?[0-9]+")
_MAX_PATH = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Key:
    """Step into a mapping.

    Attributes:
        name: the key to look up.
    """

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("Key.name must be non-empty text")


@dataclass(frozen=True, slots=True, kw_only=True)
class Index:
    """Step into a list by position.

    Attributes:
        position: the element's index; negative counts from the end (``-1`` is the last).
    """

    position: int

    def __post_init__(self) -> None:
        if isinstance(self.position, bool) or not isinstance(self.position, int):
            raise ValueError("Index.position must be an integer")


@dataclass(frozen=True, slots=True, kw_only=True)
class Select:
    """Step into a list: the first element whose value at ``keys`` equals ``value``.

    Attributes:
        keys: the key path inside each element (``("ref",)`` or ``("field", "ref")``).
        value: the text to compare with (numbers by their decimal spelling, booleans as true/false).
    """

    keys: tuple[str, ...]
    value: str

    def __post_init__(self) -> None:
        if not self.keys or not all(isinstance(k, str) and k for k in self.keys):
            raise ValueError("Select.keys must name at least one key")
        if not isinstance(self.value, str) or not self.value.strip():
            raise ValueError("Select.value must be non-blank text")


Step: TypeAlias = Key | Index | Select


@dataclass(frozen=True, slots=True, kw_only=True)
class Path:
    """A parsed source path.

    Attributes:
        text: the path as written (what error messages and the preview show).
        steps: the steps, in order.
    """

    text: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a Path needs at least one step")

    @property
    def is_plain(self) -> bool:
        """True when every step is a key: the path can be written to, not only read."""
        return all(isinstance(s, Key) for s in self.steps)

    @property
    def keys(self) -> tuple[str, ...]:
        """The key names of a plain path (``consent.sms.state`` → ``("consent", "sms", "state")``)."""
        if not self.is_plain:
            raise ValueError(f"path {self.text!r} has list steps; it has no plain key sequence")
        return tuple(s.name for s in self.steps if isinstance(s, Key))

    def __str__(self) -> str:
        return self.text


def is_absent(value: object) -> bool:
    """True for :data:`ABSENT` and ``None``: nothing usable at the path."""
    return value is ABSENT or value is None


@lru_cache(maxsize=2048)
def parse_path(text: str) -> Path:
    """Parse ``text`` into a :class:`Path`.

    Raises:
        PathSyntaxError: the text is not a path; the message names the position and what was expected.
    """
    if not isinstance(text, str):
        raise PathSyntaxError("a path must be text")
    if not text:
        raise PathSyntaxError("a path must not be empty")
    if len(text) > _MAX_PATH:
        raise PathSyntaxError(f"a path must be at most {_MAX_PATH} characters")
    parser = _Parser(text)
    return Path(text=text, steps=parser.parse())


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, expected: str) -> PathSyntaxError:
        return PathSyntaxError(f"{expected} at position {self.pos + 1}")

    def parse(self) -> tuple[Step, ...]:
        steps: list[Step] = []
        if self.peek() == "[":
            steps.append(self.bracket())
        else:
            steps.append(Key(name=self.key()))
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == ".":
                self.pos += 1
                steps.append(Key(name=self.key()))
            elif ch == "[":
                steps.append(self.bracket())
            else:
                raise self.fail("expected '.' or '['")
        return tuple(steps)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def key(self) -> str:
        m = _KEY_CHARS.match(self.text, self.pos)
        if not m:
            raise self.fail("expected a key name (letters, digits, _ - $ @ : or a quoted key)")
        self.pos = m.end()
        return m.group()

    def quoted(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch == quote:
                self.pos += 1
                return "".join(out)
            out.append(ch)
            self.pos += 1
        raise self.fail("unterminated quoted text")

    def bracket(self) -> Step:
        self.pos += 1  # "["
        ch = self.peek()
        if ch and ch in "\"'":
            name = self.quoted()
            self.close()
            return Key(name=name)
        m = _INDEX.match(self.text, self.pos)
        if m and self.text[m.end() : m.end() + 1] == "]":
            self.pos = m.end()
            self.close()
            return Index(position=int(m.group()))
        keys = [self.key()]
        while self.peek() == ".":
            self.pos += 1
            keys.append(self.key())
        if self.peek() != "=":
            raise self.fail("expected '=' in a selector like [ref=email], or an index like [0]")
        self.pos += 1
        if self.peek() in ('"', "'"):
            value = self.quoted()
        else:
            end = self.text.find("]", self.pos)
            if end < 0:
                self.pos = len(self.text)
                raise self.fail("expected ']'")
            value = self.text[self.pos : end]
            if "[" in value:
                raise self.fail("a selector value must not contain '[' (quote it)")
            self.pos = end
        if not value.strip():
            raise self.fail("a selector needs a value after '='")
        self.close()
        return Select(keys=tuple(keys), value=value)

    def close(self) -> None:
        if self.peek() != "]":
            raise self.fail("expected ']'")
        self.pos += 1


def resolve(data: object, path: Path | str) -> Any:
    """The value at ``path`` in ``data``, or :data:`ABSENT` when any step finds nothing.

    Never raises for any JSON-like ``data`` (a string path is parsed first and may raise
    :class:`PathSyntaxError`).
    """
    parsed = parse_path(path) if isinstance(path, str) else path
    current: object = data
    for step in parsed.steps:
        current = _step(current, step)
        if current is ABSENT:
            return ABSENT
    return current


def _step(current: object, step: Step) -> object:
    if isinstance(step, Key):
        if isinstance(current, Mapping):
            return current.get(step.name, ABSENT)
        return ABSENT
    if not _is_list(current):
        return ABSENT
    items: Sequence[object] = current  # type: ignore[assignment]
    if isinstance(step, Index):
        if -len(items) <= step.position < len(items):
            return items[step.position]
        return ABSENT
    for item in items:
        if _matches(item, step):
            return item
    return ABSENT


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def _matches(item: object, select: Select) -> bool:
    found = _walk(item, select.keys)
    if found is ABSENT and len(select.keys) == 1:
        found = _walk(item, ("field", select.keys[0]))
    return found is not ABSENT and as_text(found) == select.value


def _walk(item: object, keys: tuple[str, ...]) -> object:
    current = item
    for key in keys:
        if not isinstance(current, Mapping):
            return ABSENT
        current = current.get(key, ABSENT)
        if current is ABSENT:
            return ABSENT
    return current


def as_text(value: object) -> str | None:
    """A scalar's text for comparisons (``True`` → ``"true"``, ``3`` → ``"3"``); None for non-scalars."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return None
