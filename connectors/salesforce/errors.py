"""The Salesforce connector's one translation table: what each failed response means for the caller.

The connector hands every HTTP failure to :func:`classify` and acts on the :class:`Action`; nothing
else in the connector decides what a status code means. The table, in order (first match wins):

=======  ==========================================  ===========  ===============================
status   errorCode (and message)                     action       becomes
=======  ==========================================  ===========  ===============================
401      any (``INVALID_SESSION_ID``)                REFRESH      refresh once, then ConfigError
403      ``REQUEST_LIMIT_EXCEEDED`` "TotalRequests"  BUDGET       BudgetExhausted, calls stop
403      ``REQUEST_LIMIT_EXCEEDED`` (concurrency)    WAIT         backoff, retry, then RetryLater
403      anything else (API disabled, no access)     CONFIG       ConfigError
429      any (the sandbox's injected fault)          WAIT         Retry-After, retry, RetryLater
5xx      any                                         WAIT         Retry-After/backoff, RetryLater
400      ``INVALID_FIELD``                           CONFIG       ConfigError naming the field
400      ``INVALID_TYPE``                            CONFIG       ConfigError naming the object
400      ``INVALID_QUERY_LOCATOR``                   RETRY_LATER  RetryLater (restart the read)
400      ``JSON_PARSER_ERROR``                       RECORD       split the batch; the record fails
404      any                                         CONFIG       ConfigError naming the resource
other    any                                         FATAL        FatalError (a bug of ours)
=======  ==========================================  ===========  ===============================

Per-record errors inside a 200 (sObject Collections) are not exceptions: they become failed
``WriteOutcome`` values, with :data:`RETRIABLE_RECORD_CODES` marked retriable and the message passed
through :func:`redact`, because Salesforce echoes the offending value ("…restricted picklist field:
Zebulon") and values may be PHI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from connectors.base import WriteOutcome

__all__ = [
    "RETRIABLE_RECORD_CODES",
    "RULES",
    "Action",
    "Rule",
    "VendorError",
    "classify",
    "field_from_message",
    "object_from_message",
    "record_outcome",
    "redact",
]


class Action(StrEnum):
    """What the connector does about a failed response."""

    REFRESH = "refresh"  # refresh the access token once and repeat the call
    WAIT = "wait"  # transient: wait (Retry-After, else backoff) and repeat, up to max_retries
    RETRY_LATER = "retry_later"  # transient, but repeating this call cannot help: RetryLater now
    BUDGET = "budget"  # the org's daily allowance is spent: BudgetExhausted, stop calling
    CONFIG = "config"  # a missing field/object or refused access: ConfigError
    RECORD = "record"  # one record's value broke the whole call: split the batch to find it
    FATAL = "fatal"  # a request we should never have sent: FatalError


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One row of the table.

    Attributes:
        statuses: the HTTP statuses it covers.
        code: the ``errorCode`` it needs, or None for any.
        message_contains: text the message must contain, or None.
        action: what to do.
    """

    statuses: range
    action: Action
    code: str | None = None
    message_contains: str | None = None

    def __post_init__(self) -> None:
        if not self.statuses or self.statuses.start < 300:
            raise ValueError("a rule covers failure statuses (300 and up)")

    def matches(self, error: VendorError) -> bool:
        return (
            error.status in self.statuses
            and (self.code is None or error.code == self.code)
            and (self.message_contains is None or self.message_contains in error.message)
        )


def _status(n: int) -> range:
    return range(n, n + 1)


RULES: Final[tuple[Rule, ...]] = (
    Rule(statuses=_status(401), action=Action.REFRESH),
    Rule(
        statuses=_status(403),
        code="REQUEST_LIMIT_EXCEEDED",
        message_contains="TotalRequests",
        action=Action.BUDGET,
    ),
    # The same code names the concurrent-request limits ("ConcurrentPerOrgLongTxn Limit exceeded"),
    # which clear by themselves.
    Rule(statuses=_status(403), code="REQUEST_LIMIT_EXCEEDED", action=Action.WAIT),
    Rule(statuses=_status(403), action=Action.CONFIG),
    Rule(statuses=_status(429), action=Action.WAIT),
    Rule(statuses=range(500, 600), action=Action.WAIT),
    Rule(statuses=_status(400), code="INVALID_FIELD", action=Action.CONFIG),
    Rule(statuses=_status(400), code="INVALID_TYPE", action=Action.CONFIG),
    Rule(statuses=_status(400), code="INVALID_QUERY_LOCATOR", action=Action.RETRY_LATER),
    Rule(statuses=_status(400), code="JSON_PARSER_ERROR", action=Action.RECORD),
    Rule(statuses=_status(404), action=Action.CONFIG),
    Rule(statuses=range(300, 600), action=Action.FATAL),
)

#: Per-record status codes that say "this record is fine, try it again".
RETRIABLE_RECORD_CODES: Final = frozenset(
    {
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "UNABLE_TO_LOCK_ROW",
        "REQUEST_RUNNING_TOO_LONG",
        "SERVER_UNAVAILABLE",
        "UNKNOWN_EXCEPTION",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorError:
    """A failed response, as Salesforce described it.

    Attributes:
        status: the HTTP status.
        code: the first error's ``errorCode`` ("" when the body had none).
        message: the first error's message, redacted (no record values).
        fields: the fields the error names, if any.
    """

    status: int
    code: str
    message: str
    fields: tuple[str, ...] = ()

    @classmethod
    def of(cls, status: int, content: Any) -> VendorError:
        """From simple-salesforce's ``exc.status`` and ``exc.content`` (parsed JSON, or text)."""
        entry: Any = content[0] if isinstance(content, list) and content else content
        if not isinstance(entry, dict):
            return cls(status=status, code="", message="")
        code = str(entry.get("errorCode") or entry.get("statusCode") or "")
        fields = entry.get("fields") or ()
        return cls(
            status=status,
            code=code,
            message=redact(str(entry.get("message") or "")),
            fields=tuple(str(f) for f in fields) if isinstance(fields, list) else (),
        )


def classify(error: VendorError) -> Action:
    """The action of the first rule that matches ``error``."""
    for rule in RULES:
        if rule.matches(error):
            return rule.action
    return Action.FATAL


# Messages that end with the value at fault: keep the sentence, drop the value.
_VALUE_TAILS: Final = (
    re.compile(r"(?P<keep>.*?bad value for restricted picklist field)\s*:.*", re.DOTALL),
    re.compile(r"(?P<keep>.*?data value too large)\s*:.*?(?P<tail>\s*\(max length=\d+\))?\s*\Z", re.DOTALL),
    re.compile(r"(?P<keep>.*?invalid email address)\s*:.*", re.DOTALL),
    re.compile(r"(?P<keep>.*?id value of incorrect type)\s*:.*", re.DOTALL),
    re.compile(r"(?P<keep>Duplicate external id specified)\s*:.*", re.DOTALL),
    re.compile(r"(?P<keep>Cannot deserialize instance of \S+ from \S+ value)\s.*", re.DOTALL),
    re.compile(r"(?P<keep>.*?invalid (?:date|datetime|number|phone|url))\s*:.*", re.DOTALL | re.IGNORECASE),
)
_MAX_MESSAGE: Final = 300
_NO_SUCH_COLUMN: Final = re.compile(r"No such column '(?P<field>[A-Za-z0-9_]+)'")
_NOT_SUPPORTED_TYPE: Final = re.compile(r"sObject type '(?P<object>[A-Za-z0-9_]+)'")


def redact(message: str, values: Iterable[Any] = ()) -> str:
    """``message`` without the record values Salesforce echoes in it.

    Known message shapes lose their trailing value; then any of ``values`` (the record's own field
    values, three characters or longer) still present is replaced by ``…``.
    """
    for pattern in _VALUE_TAILS:
        m = pattern.fullmatch(message)
        if m:
            groups = m.groupdict()
            message = groups["keep"] + (groups.get("tail") or "")
            break
    for value in values:
        if isinstance(value, bool) or value is None:
            continue
        text = str(value)
        if len(text) >= 3 and text in message:
            message = message.replace(text, "…")
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return message


def field_from_message(message: str) -> str | None:
    """The field an ``INVALID_FIELD`` message names ("No such column 'X' on …"), if it names one."""
    m = _NO_SUCH_COLUMN.search(message)
    return m.group("field") if m else None


def object_from_message(message: str) -> str | None:
    """The object an ``INVALID_TYPE`` message names ("sObject type 'X' is not supported.")."""
    m = _NOT_SUPPORTED_TYPE.search(message)
    return m.group("object") if m else None


def record_outcome(key: str, result: Mapping[str, Any], values: Iterable[Any] = ()) -> WriteOutcome:
    """One record's :class:`WriteOutcome` from its sObject Collections result.

    Args:
        key: the external id or task key the record was written under.
        result: ``{"id", "success", "created", "errors": [{"statusCode", "message", "fields"}]}``.
        values: the record's field values, blanked out of the message if Salesforce echoed them.
    """
    if result.get("success"):
        return WriteOutcome(
            key=key, ok=True, crm_id=str(result.get("id") or "") or None, created=bool(result.get("created"))
        )
    errors = result.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN_EXCEPTION")
    fields = first.get("fields") or []
    return WriteOutcome(
        key=key,
        ok=False,
        code=code,
        message=redact(str(first.get("message") or ""), values),
        field=str(fields[0]) if fields else None,
        retriable=code in RETRIABLE_RECORD_CODES,
    )
