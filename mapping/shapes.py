"""The two hub-side shapes mappings speak, described here so that ``mapping`` needs nothing above it:

* **inquiry targets** — the keys of the hub's inquiry JSON (what ``hub.inbound.inquiry_schema`` accepts), which
  source mappings produce;
* **lead-view paths** — the dotted paths of a lead's plain view (what ``hub.coordinator.views.lead_view`` returns),
  which CRM mappings read and write back.

``tests/mapping/test_shapes.py`` checks both against the hub's real schema and view, so a change there
fails here rather than in production.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final

from mapping.paths import Index, Key, Path, Select
from nurture.vocab import (
    Channel,
    ConsentState,
    ContactChannel,
    ContactWindow,
    Intent,
    Need,
    NextActionKind,
    Score,
    Stage,
)

__all__ = [
    "CONSENT_KEYS",
    "INQUIRY_FIELDS",
    "LEAD_VIEW_VOCABULARIES",
    "inquiry_target_problem",
    "lead_view_path_problem",
    "vocabulary_of",
]

#: The inquiry JSON's top-level keys.
INQUIRY_FIELDS: Final = (
    "channel", "first_name", "last_name", "phone", "email", "language", "contact_window",
    "callback_at", "timezone", "region", "location", "service", "campaign", "referral_source",
    "text", "intent", "needs", "consent", "external_ids", "reply_via",
)  # fmt: skip
#: The keys of one consent statement in the inquiry JSON.
CONSENT_KEYS: Final = ("granted", "wording", "source")
_SYSTEM = re.compile(r"[A-Za-z0-9_:\-]{1,64}")
_CHANNELS = tuple(c.value for c in ContactChannel)


def inquiry_target_problem(target: str) -> str | None:
    """Why ``target`` is not an inquiry target, or None when it is.

    Targets are a top-level key (``email``), one consent statement or one of its keys
    (``consent.sms``, ``consent.sms.granted``), or one external id (``external_ids.calcom``).
    """
    parts = target.split(".")
    head = parts[0]
    if head not in INQUIRY_FIELDS:
        return f"not an inquiry field; known: {', '.join(INQUIRY_FIELDS)}"
    if len(parts) == 1:
        return None
    if head == "consent":
        if parts[1] not in _CHANNELS:
            return f"consent is kept per channel: {', '.join(_CHANNELS)}"
        if len(parts) == 2 or (len(parts) == 3 and parts[2] in CONSENT_KEYS):
            return None
        return f"a consent statement has the keys {', '.join(CONSENT_KEYS)}"
    if head == "external_ids":
        if len(parts) == 2 and _SYSTEM.fullmatch(parts[1]):
            return None
        return "an external id target is external_ids.<system> (letters, digits, _ : -)"
    return f"{head} has no sub-fields"


class _Any(Enum):
    """Marks a lead-view node whose contents are open (a list, or a mapping keyed by data)."""

    ANY = "any"


_OPEN: Final = _Any.ANY
_Tree = Mapping[str, "_Tree | _Any | None"]

_CONSENT_STATEMENT: _Tree = {"state": None, "source": None, "at": None, "wording": None}
LEAD_VIEW_TREE: _Tree = MappingProxyType(
    {
        "id": None, "stage": None, "intent": None, "needs": _OPEN, "urgent": None, "score": None,
        "next_action": {"kind": None, "due_at": None, "owner_queue": None, "reason": None},
        "channel": None, "campaign": None, "referral_source": None, "location": None, "service": None,
        "preferred_language": None, "contact_window": None, "requested_callback_at": None,
        "timezone": None, "region": None, "created_at": None, "updated_at": None,
        "close_reason": None, "triage_keywords": _OPEN,
        "consent": dict.fromkeys(_CHANNELS, _CONSENT_STATEMENT),
        "external_ids": _OPEN,
        "contact": {"first_name": None, "last_name": None, "phone": None, "email": None},
        "follow_ups": _OPEN, "touches": _OPEN,
    }
)  # fmt: skip


def lead_view_path_problem(path: Path) -> str | None:
    """Why ``path`` does not address the lead view, or None when it does."""
    node: _Tree | _Any | None = LEAD_VIEW_TREE
    for step in path.steps:
        if node is _OPEN:
            return None
        if node is None:
            return "goes below a field that has no sub-fields"
        if isinstance(step, Index | Select):
            return "the lead view has no list at this point"
        assert isinstance(step, Key)
        assert isinstance(node, Mapping)
        if step.name not in node:
            known = ", ".join(node)
            return f"the lead view has no {step.name!r} here; known: {known}"
        node = node[step.name]
    return None


#: Lead-view fields whose values come from a fixed vocabulary (used by picklist pre-flight).
LEAD_VIEW_VOCABULARIES: Mapping[str, tuple[object, ...]] = MappingProxyType(
    {
        "stage": tuple(s.value for s in Stage),
        "intent": tuple(i.value for i in Intent),
        "needs": tuple(n.value for n in Need),
        "score": tuple(s.value for s in Score),
        "next_action.kind": tuple(k.value for k in NextActionKind),
        "channel": tuple(c.value for c in Channel),
        "contact_window": tuple(w.value for w in ContactWindow),
        "urgent": (True, False),
        **{f"consent.{c}.state": tuple(s.value for s in ConsentState) for c in _CHANNELS},
    }
)


def vocabulary_of(path_text: str) -> tuple[object, ...] | None:
    """The values the lead-view field at ``path_text`` can take, when it is a fixed vocabulary."""
    return LEAD_VIEW_VOCABULARIES.get(path_text)
