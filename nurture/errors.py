"""The hub's one error tree, grouped by what the caller must do::

    HubError
    ├── ConfigError          fix configuration (config file, environment, mapping); do not retry
    │   └── MappingError     (mapping.errors) a field mapping is invalid: the editor shows each problem
    ├── FatalError           a bug or a broken invariant; stop and alert
    ├── RetryLater           a transient fault (network, 429, 5xx, lock); retry with backoff
    │   ├── BudgetExhausted  the API's daily allowance is spent; queue locally, retry tomorrow
    │   └── StoreUnavailable (hub.store) the database could not be reached or failed a statement
    ├── SkipRecord           this one record cannot be processed as it is; park it with the reason
    │   ├── InvalidContact   (nurture.contact) a phone number or email address that cannot be used
    │   └── TransformError   (mapping.errors) a value a mapping's transform cannot turn into a field
    └── Refused              what someone sent is refused as it is; answer them (4xx, a form message)
        ├── WebhookRejected  (connectors.inbound) not an authentic, well-formed delivery
        ├── AccountError     (hub.users) an account change that breaks a rule
        ├── FilterError      (hub.worklist) a leads-list filter or page link the list does not know
        └── MergeRefused     (hub.identity) a merge of two leads the hub will not make as asked

The errors raised for bad input also derive from ``ValueError`` where they did before, so code
that validates values (``except ValueError``) keeps working.

Vendor exceptions are translated into these once, at the edge (``connectors/``). Messages name the
thing at fault and never carry PHI: ids, field names and rule codes only.

The tree lives in ``nurture`` (the bottom of the house) so that every room can raise and catch it;
nothing in the domain rules themselves raises it — they return values.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["BudgetExhausted", "ConfigError", "FatalError", "HubError", "Refused", "RetryLater", "SkipRecord"]


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """Configuration is wrong. ``problems`` lists every problem found, each starting with its key."""

    def __init__(self, problems: Sequence[str], *, source: str = "configuration") -> None:
        self.problems: Sequence[str] = list(problems)
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


class Refused(HubError):
    """What a person or another system sent is refused as it is: tell them what (an HTTP 4xx with
    a JSON body, a message at the form's field). Retrying the same input will not help.

    Attributes:
        code: a stable snake_case reason.
        field: the input at fault, if one is.
    """

    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
