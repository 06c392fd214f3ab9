"""What the Salesforce connector puts on the wire and reads back, as pure functions: SOQL text
(names checked, values quoted, datetime literals), Salesforce's datetime stamps, ``IN`` lists cut
to a safe URL length, and staff's free-text call results turned into the hub's outcomes.

Nothing here talks HTTP or imports simple-salesforce; the connector's other modules do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import quote_plus

from connectors.base import FieldInfo
from nurture.clock import require_aware

__all__ = [
    "IDENTIFIER",
    "TEXT_TYPES",
    "check_name",
    "datetime_literal",
    "field_info",
    "format_datetime",
    "in_chunks",
    "in_list",
    "is_id",
    "normalise_outcome",
    "parse_datetime",
    "quote",
    "select",
    "wire_value",
]

#: Field types whose values are text limited to the field's ``length`` (describe).
TEXT_TYPES: Final = frozenset(
    {"string", "textarea", "phone", "email", "url", "picklist", "multipicklist", "combobox", "encryptedstring"}
)

#: An API name: ``Lead``, ``FirstName``, ``Nurture_Id__c``, ``ns__Thing__c``.
IDENTIFIER: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

# Salesforce's documented escapes inside a quoted SOQL string.
_ESCAPES: Final = str.maketrans(
    {
        "\\": "\\\\",
        "'": "\\'",
        '"': '\\"',
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\b": "\\b",
        "\f": "\\f",
    }
)

_SF_ID: Final = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?\Z")

#: Longest SOQL text (URL-encoded) one GET carries. Salesforce refuses request lines past ~16 KB;
#: this leaves room for the host, path and headers.
MAX_ENCODED_QUERY: Final = 12_000


def check_name(name: str, what: str) -> str:
    """``name`` if it is a valid API name, else ValueError naming ``what``; nothing else ever reaches
    SOQL unquoted."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"{what} {name!r} is not a Salesforce API name")
    return name


def is_id(value: str, *prefixes: str) -> bool:
    """Whether ``value`` is a 15- or 18-character Salesforce id (with one of ``prefixes``, if given:
    ``005`` User, ``00G`` Group, ``00Q`` Lead …)."""
    return bool(_SF_ID.match(value)) and (not prefixes or value[:3] in prefixes)


def quote(value: str) -> str:
    """A SOQL string literal."""
    return "'" + value.translate(_ESCAPES) + "'"


def datetime_literal(value: datetime) -> str:
    """A SOQL dateTime literal in a documented form, ``2026-11-26T10:00:00Z``.

    Salesforce documents second precision only (``YYYY-MM-DDThh:mm:ssZ``), so the value is floored
    to the second; callers that need millisecond precision filter the rows they get back.
    """
    moment = require_aware(value, "SOQL datetime").astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_datetime(value: datetime) -> str:
    """A datetime as a field value: UTC, milliseconds, ``Z`` (``2026-12-01T16:15:00.000Z``)."""
    moment = require_aware(value, "datetime field value").astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_datetime(text: str) -> datetime:
    """An aware datetime from Salesforce's ``2026-11-26T10:00:00.000+0000`` (or any ISO form)."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed


def wire_value(value: Any) -> Any:
    """A field value as JSON: datetimes in UTC with ``Z``, dates as ``YYYY-MM-DD``, the rest as is."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def in_chunks(
    values: Sequence[str], *, max_items: int = 200, max_chars: int = MAX_ENCODED_QUERY
) -> Iterator[list[str]]:
    """Cut ``values`` into lists whose quoted, URL-encoded ``IN (...)`` stays within ``max_chars``
    and ``max_items`` (the rest of the query needs well under 1,000 characters)."""
    chunk: list[str] = []
    size = 0
    for value in values:
        cost = len(quote_plus(quote(value))) + 3  # the comma, encoded
        if chunk and (len(chunk) >= max_items or size + cost > max_chars):
            yield chunk
            chunk, size = [], 0
        chunk.append(value)
        size += cost
    if chunk:
        yield chunk


def in_list(values: Sequence[str]) -> str:
    """``('a','b')`` for a SOQL ``IN``."""
    return "(" + ",".join(quote(v) for v in values) + ")"


# Phrases staff (or a dialer) write into CallDisposition, by the hub outcome they mean. The first
# outcome with a matching phrase wins, so "declined to book" is declined and "no answer, left VM"
# is left_voicemail.
_OUTCOME_PHRASES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("declined", ("declined", "decline", "not interested", "refused", "do not call", "opted out")),
    ("booked", ("booked", "booking made", "scheduled", "appointment set", "appointment made")),
    ("left_voicemail", ("left voicemail", "left vm", "voicemail", "vm", "left message", "left msg")),
    ("no_answer", ("no answer", "noanswer", "not answered", "unanswered", "no response", "busy")),
    ("reached", ("reached", "spoke", "spoke with patient", "spoke to patient", "talked", "connected")),
)
_OUTCOME_PATTERNS: Final = tuple(
    (
        outcome,
        re.compile(r"\b(?:" + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)) + r")\b"),
    )
    for outcome, phrases in _OUTCOME_PHRASES
)
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")


def normalise_outcome(disposition: str | None) -> str | None:
    """The hub's outcome (no_answer, left_voicemail, reached, booked, declined) for a
    ``CallDisposition``, or None when it says nothing the hub recognises."""
    if not disposition:
        return None
    text = _NOT_WORD.sub(" ", disposition.lower()).strip()
    if text in {"no answer", "left voicemail", "reached", "booked", "declined"}:
        return text.replace(" ", "_")
    for outcome, pattern in _OUTCOME_PATTERNS:
        if pattern.search(text):
            return outcome
    return None


def select(fields: Sequence[str], sobject: str, *, where: str = "", order_by: Sequence[str] = ()) -> str:
    """``SELECT fields FROM sobject [WHERE where] [ORDER BY ...]``.

    Names are checked here; ``where`` must be built only from checked names and :func:`quote`,
    :func:`in_list` and :func:`datetime_literal` output, which is what makes the text safe.
    """
    names = ", ".join(check_name(f, "field") for f in fields)
    text = f"SELECT {names} FROM {check_name(sobject, 'object')}"  # noqa: S608 - names checked above
    if where:
        text += f" WHERE {where}"
    if order_by:
        text += " ORDER BY " + ", ".join(check_name(f, "field") for f in order_by)
    return text


def field_info(raw: Mapping[str, Any]) -> FieldInfo:
    """A :class:`FieldInfo` from one ``fields[]`` entry of ``GET /sobjects/{Object}/describe``.

    Picklists list active values only; a field is required when it is not nillable, can be set on
    create and Salesforce fills in no default; unique covers external ids too.
    """
    ftype = str(raw.get("type") or "")
    values = raw.get("picklistValues") or []
    picklist = (
        tuple(str(v["value"]) for v in values if v.get("active", True))
        if ftype in {"picklist", "multipicklist", "combobox"}
        else None
    )
    createable = bool(raw.get("createable"))
    defaulted = bool(raw.get("defaultedOnCreate")) or raw.get("defaultValue") is not None
    default = next((str(v["value"]) for v in values if v.get("defaultValue") and v.get("active", True)), None)
    length = raw.get("length")
    return FieldInfo(
        name=str(raw["name"]),
        label=str(raw.get("label") or raw["name"]),
        type=ftype,
        writable=createable or bool(raw.get("updateable")),
        required=not raw.get("nillable", True) and createable and not defaulted,
        picklist=picklist,
        restricted=bool(raw.get("restrictedPicklist")),
        unique=bool(raw.get("unique")) or bool(raw.get("externalId")),
        length=int(length) if ftype in TEXT_TYPES and isinstance(length, int) and length > 0 else None,
        default=default,
    )
