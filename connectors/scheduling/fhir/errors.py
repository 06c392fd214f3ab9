"""The FHIR connector's one error table, :data:`RULES` (HTTP status → :class:`Action`, first match
wins), and reading an ``OperationOutcome`` into a short, PHI-free issue code and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import requests


class Action(StrEnum):
    """What the connector does about a failed response."""

    REFRESH = "refresh"
    CONFIG = "config"
    REFUSED = "refused"  # the caller decides (not found, conflict, business rule)
    WAIT = "wait"
    FATAL = "fatal"


@dataclass(frozen=True, slots=True)
class _Rule:
    statuses: range
    action: Action


def _s(*codes: int) -> range:
    return range(codes[0], codes[-1] + 1)


RULES: Final[tuple[_Rule, ...]] = (
    _Rule(_s(401), Action.REFRESH),
    _Rule(_s(403), Action.CONFIG),
    _Rule(_s(404), Action.REFUSED),
    _Rule(_s(409, 410), Action.REFUSED),
    _Rule(_s(412), Action.REFUSED),
    _Rule(_s(422), Action.REFUSED),
    _Rule(_s(429), Action.WAIT),
    _Rule(_s(500, 599), Action.WAIT),
    _Rule(_s(300, 499), Action.FATAL),
)


def classify(status: int) -> Action:
    """The action :data:`RULES` gives a failed status."""
    for rule in RULES:
        if status in rule.statuses:
            return rule.action
    return Action.FATAL


class _Refused(Exception):
    def __init__(self, status: int, code: str, diagnostics: str) -> None:
        super().__init__(f"{status} {code}: {diagnostics}")
        self.status = status
        self.code = code
        self.diagnostics = diagnostics


def _issue(response: requests.Response) -> tuple[str, str]:
    """The first issue's code and (shortened) diagnostics of an OperationOutcome body."""
    try:
        body = response.json()
    except ValueError:
        return "unknown", f"HTTP {response.status_code}"
    issues = body.get("issue") if isinstance(body, dict) else None
    if not issues:
        return "unknown", f"HTTP {response.status_code}"
    first = issues[0]
    text = str(first.get("diagnostics") or first.get("details", {}).get("text") or "")
    return str(first.get("code", "unknown")), text[:200]


# --- the connector ---------------------------------------------------------------------------------
