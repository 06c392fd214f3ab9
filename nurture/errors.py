"""The hub's one error tree, grouped by what the caller must do::

    HubError
    ├── ConfigError          fix configuration (config file, environment, mapping); do not retry
    ├── FatalError           a bug or a broken invariant; stop and alert
    ├── RetryLater           a transient fault (network, 429, 5xx, lock); retry with backoff
    │   └── BudgetExhausted  the API's daily allowance is spent; queue locally, retry tomorrow
    └── SkipRecord           this one record cannot be processed as it is; park it with the reason

Vendor exceptions are translated into these once, at the edge (``connectors/``). Messages name the
thing at fault and never carry PHI: ids, field names and rule codes only.

The tree lives in ``nurture`` (the bottom of the house) so that every room can raise and catch it;
nothing in the domain rules themselves raises it — they return values.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["BudgetExhausted", "ConfigError", "FatalError", "HubError", "RetryLater", "SkipRecord"]


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """Configuration is wrong. ``problems`` lists every problem found, each starting with its key."""

    def __init__(self, problems: Sequence[str], *, source: str = "configuration") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} has {len(self.problems)} problem(s):\n{lines}")


class FatalError(HubError):
    """Something that must not happen happened; retrying will not help."""


class RetryLater(HubError):
    """A transient failure.

    Attributes:
        retry_after: seconds the remote side asked us to wait, if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BudgetExhausted(RetryLater):
    """The remote system's daily API allowance is spent: stop calling it, keep queueing."""


class SkipRecord(HubError):
    """One record cannot be processed as it is (bad value, unmapped field, vendor rejection).

    Attributes:
        field: the field at fault, if known.
        code: a stable code (vendor's error code or ours).
    """

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid_record") -> None:
        super().__init__(message)
        self.field = field
        self.code = code
