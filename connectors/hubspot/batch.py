"""Batch writing helpers of the HubSpot connector: batches of at most 100 without repeated keys,
isolating the input HubSpot refused (HubSpot fails a whole batch because of one bad input), matching
results to inputs, and turning results and refusals into :class:`~connectors.base.WriteOutcome`.

Every input the connector sends carries an ``objectWriteTraceId`` (its key): HubSpot then answers a
batch with some bad inputs **207 Multi-Status** — the good inputs written, one error per bad input —
instead of failing the whole call. :func:`match` pairs both with their inputs; the all-or-nothing
400 is still handled by :func:`isolate` (an endpoint or portal without multi-status).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, TypeVar

from connectors.base import WriteOutcome
from connectors.hubspot.edge import Action, Failure, Refused, action_for, record_failures, retriable, translate
from connectors.hubspot.search import iso_ms
from nurture.errors import FatalError

__all__ = [
    "BATCH",
    "MAX_VALUE_LENGTH",
    "TRACE",
    "batches",
    "chunked",
    "fit",
    "isolate",
    "match",
    "rejected",
    "sets_any",
    "settled",
    "wire",
    "written",
]

#: The input field that switches HubSpot's batch writes to multi-status answers (207).
TRACE = "objectWriteTraceId"

#: The most characters HubSpot keeps in one property value (its documented cap for text values;
#: HubSpot's property definitions carry no per-property length).
MAX_VALUE_LENGTH = 65_536

#: Most inputs one batch call takes (HubSpot's limit for batch create, update, upsert and read).
BATCH = 100

T = TypeVar("T")

#: Value-free explanations of HubSpot's per-record error codes (HubSpot's own messages quote values).
REASONS = {
    "INVALID_OPTION": "the value is not one of the property's options",
    "INVALID_EMAIL": "the value is not a valid email address",
    "INVALID_INTEGER": "the value is not a number",
    "INVALID_DATE": "the value is not a valid date",
    "INVALID_BOOLEAN": "the value is not true or false",
    "INVALID_OWNER_ID": "the owner does not exist in HubSpot",
    "READ_ONLY_VALUE": "the property is read-only",
    "REQUIRED_PROPERTY": "a required property has no value",
    "CONFLICT": "another record already has this unique value",
    "OBJECT_NOT_FOUND": "the record it refers to does not exist",
    "RATE_LIMITS": "HubSpot was too busy to write this record; it is sent again later",
}


def batches(keys: Sequence[str], size: int) -> Iterator[list[int]]:
    """Indices in input order, at most ``size`` a batch, never one key twice in a batch (HubSpot
    refuses duplicate ids in a batch; a repeated write goes in the next batch, after the first)."""
    batch: list[int] = []
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if len(batch) == size or key in seen:
            yield batch
            batch, seen = [], set()
        batch.append(i)
        seen.add(key)
    if batch:
        yield batch


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` items (the last may be shorter)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def isolate(
    group: list[int],
    send: Callable[[list[int]], Mapping[int, Any]],
    implicated: Callable[[int, Failure], bool],
) -> tuple[dict[int, Any], dict[int, Failure]]:
    """Send ``group``; when HubSpot refuses a part because of what it carries (:class:`Refused`),
    split it until every refusal is pinned to one input. An input ``send`` answers with a
    :class:`Failure` (a per-record error of a 207) is refused at once, without another call.

    Inputs that set a property the refusal names are tried apart from the rest, and a lone such
    input is pinned without another call; otherwise the part is halved. One bad input among 100
    that all set the property costs 1 + 2 × 7 calls; among inputs that mostly do not, 2.

    Args:
        group: input indices.
        send: writes some inputs; answers index → HubSpot's result, its per-record
            :class:`Failure`, or None when it gave neither.
        implicated: whether an input sets a property the refusal names.

    Returns:
        (index → what ``send`` answered for it, index → the refusal pinned on it).
    """
    sent: dict[int, Any] = {}
    refused: dict[int, Failure] = {}
    pending: deque[list[int]] = deque([group])
    while pending:
        part = pending.popleft()
        try:
            answered = send(part)
        except Refused as exc:
            failure = exc.failure
        else:
            for i, value in answered.items():
                if isinstance(value, Failure):
                    refused[i] = value
                else:
                    sent[i] = value
            continue
        if len(part) == 1:
            refused[part[0]] = failure
            continue
        suspects = [i for i in part if implicated(i, failure)]
        if len(suspects) == 1:
            refused[suspects[0]] = failure
            pending.appendleft([i for i in part if i != suspects[0]])
        elif 0 < len(suspects) < len(part):
            chosen = set(suspects)
            pending.extendleft([suspects, [i for i in part if i not in chosen]])
        else:
            middle = len(part) // 2
            pending.extendleft([part[middle:], part[:middle]])
    return sent, refused


def sets_any(values: Mapping[str, str], failure: Failure) -> bool:
    """Whether ``values`` gives a value to a property ``failure`` names."""
    return any(values.get(name) not in (None, "") for name in failure.properties)


def match(part: list[int], key_of: Mapping[int, str], data: Any, key_property: str, *, what: str) -> dict[int, Any]:
    """Results and per-record failures by input.

    HubSpot does not promise batch results in input order, so a result is matched by the
    ``objectWriteTraceId`` it echoes (the input's key), else by the key property it echoes, and
    positionally only if none echoes either. The errors of a 207 are matched by trace id
    (:func:`~connectors.hubspot.edge.record_failures`). An input with neither gets None.

    Raises:
        ConfigError: a per-record error that is about configuration, not the record (a property
            that does not exist): the same table decides as for a whole call (``RULES``).
    """
    found = list(getattr(data, "results", None) or [])
    failures = record_failures(data)
    for failure in failures.values():
        action = action_for(failure)
        if action is not Action.REFUSED:  # a property that does not exist, an id property not unique …
            raise translate(what, failure, action)
    by_key: dict[str, Any] = {}
    for result in found:
        trace = getattr(result, "object_write_trace_id", None)
        value = trace if trace is not None else (result.properties or {}).get(key_property)
        if value is not None:
            by_key.setdefault(str(value), result)
    if not by_key and not failures and len(found) == len(part):
        return dict(zip(part, found, strict=True))
    return {i: by_key.get(key_of[i]) or failures.get(key_of[i]) for i in part}


def written(key: str, result: Any | None, *, created: bool | None = None) -> WriteOutcome:
    """The outcome of a write HubSpot answered with ``result`` (an object with ``id`` and maybe
    ``new``); no result is a retriable failure."""
    if result is None:
        return WriteOutcome(
            key=key,
            ok=False,
            code="NO_RESULT",
            retriable=True,
            message="HubSpot answered the batch without a result for this record",
        )
    new = bool(getattr(result, "new", False)) if created is None else created
    return WriteOutcome(key=key, ok=True, crm_id=str(result.id), created=new)


def rejected(key: str, failure: Failure) -> WriteOutcome:
    """The outcome of an input HubSpot refused: its code, the property, a message without values,
    and whether it is worth sending again as it is (:func:`~connectors.hubspot.edge.retriable`)."""
    field_name = failure.properties[0] if failure.properties else None
    reason = REASONS.get(failure.code) or REASONS.get(failure.category) or "HubSpot refused the record"
    return WriteOutcome(
        key=key,
        ok=False,
        code=failure.code,
        message=f"{field_name}: {reason}" if field_name else reason,
        field=field_name,
        retriable=retriable(failure),
        duplicate_of=failure.existing_id,
    )


def settled(outcomes: Sequence[WriteOutcome | None]) -> list[WriteOutcome]:
    """The outcomes, once every input has one (a gap is a bug: never hand back fewer than asked)."""
    missing = [i for i, o in enumerate(outcomes) if o is None]
    if missing:
        raise FatalError(f"hubspot: {len(missing)} input(s) got no outcome (first: #{missing[0]})")
    return [o for o in outcomes if o is not None]


def fit(values: Mapping[str, str], limit: int = MAX_VALUE_LENGTH) -> tuple[dict[str, str], tuple[str, ...]]:
    """``values`` with every value longer than HubSpot keeps shortened to ``limit`` characters, and
    a value-free note per property shortened (a lead is never refused for a long text)."""
    out: dict[str, str] = {}
    notes: list[str] = []
    for name, value in values.items():
        if len(value) > limit:
            out[name] = value[:limit]
            notes.append(f"{name} shortened to {limit} characters")
        else:
            out[name] = value
    return out, tuple(notes)


def wire(value: Any) -> str:
    """A property value as HubSpot's API takes it: a string; ``""`` clears the property."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_ms(value if value.tzinfo else value.replace(tzinfo=UTC))  # the hub's times are UTC
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
