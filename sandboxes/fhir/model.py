"""The FHIR sandbox's vocabulary: media type, paths, identifier and code systems, the EHR profiles
and Argonaut operations, search limits, ``OperationOutcome`` errors (:class:`FhirError`), and
parsing instants and search values (dates with prefixes, tokens, references).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

Json = dict[str, Any]
Clock = Callable[[], datetime]

FHIR_JSON = "application/fhir+json; fhirVersion=4.0"
BASE_PATH = "/fhir"
TOKEN_PATH = "/auth/token"  # noqa: S105 - a URL path, not a secret

#: The clinic's own code systems (an EHR names its services and requirements its own way).
SERVICE_SYSTEM = "https://nurturehub.dev/fhir/CodeSystem/service"
REQUIREMENT_SYSTEM = "https://nurturehub.dev/fhir/CodeSystem/service-requirement"
INTERPRETER_EXTENSION = "https://nurturehub.dev/fhir/StructureDefinition/interpreter-language"
LEAD_SYSTEM = "https://nurturehub.dev/fhir/lead"
BOOKING_SYSTEM = "https://nurturehub.dev/fhir/booking"
BCP47 = "urn:ietf:bcp:47"
PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
NPI = "http://hl7.org/fhir/sid/us-npi"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

SEARCHABLE = ("Practitioner", "Location", "HealthcareService", "Schedule", "Slot", "Appointment", "Patient")
#: The EHR behaviours the sandbox can play (see the module docstring).
PROFILES = ("generic", "argonaut", "oracle")
#: The Argonaut Scheduling IG's operation definitions (canonical URLs).
ARGONAUT_FIND = "http://fhir.org/guides/argonaut-scheduling/OperationDefinition/appointment-find"
ARGONAUT_HOLD = "http://fhir.org/guides/argonaut-scheduling/OperationDefinition/appointment-hold"
ARGONAUT_BOOK = "http://fhir.org/guides/argonaut-scheduling/OperationDefinition/appointment-book"
#: Appointment search parameters that narrow a search enough for an EHR to answer it.
APPOINTMENT_NARROWING = frozenset({"_id", "identifier", "patient", "practitioner", "actor", "location", "slot"})
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "zh": "Chinese"}
MAX_COUNT = 100
DEFAULT_COUNT = 20


# --- errors and wire helpers ------------------------------------------------------------------


class FhirError(Exception):
    """An error answered as an OperationOutcome."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        *,
        severity: str = "error",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.severity = severity
        self.headers = dict(headers or {})


def operation_outcome(code: str, diagnostics: str, *, severity: str = "error") -> Json:
    """An OperationOutcome with one issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def _instant(at: datetime, tz: ZoneInfo | None = None) -> str:
    """A FHIR instant: seconds precision, with the offset of ``tz`` (UTC ``Z`` without one)."""
    if tz is None:
        return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return at.astimezone(tz).isoformat(timespec="seconds")


def _key(at: datetime) -> str:
    """A sortable UTC key for comparisons in SQL."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_instant(value: str) -> datetime:
    text = value.strip()
    if len(text) == 10:  # a date: the start of that day, UTC
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("a time without a time zone")
    return parsed


_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")


def _date_filter(column: str, values: Sequence[str]) -> tuple[str, list[str]]:
    """SQL for FHIR date search parameters (each value ANDed; a value with a prefix)."""
    clauses: list[str] = []
    args: list[str] = []
    ops = {"eq": "=", "ne": "!=", "gt": ">", "lt": "<", "ge": ">=", "le": "<="}
    for raw in values:
        for value in raw.split(","):
            prefix = value[:2] if value[:2] in _PREFIXES else "eq"
            text = value[2:] if value[:2] in _PREFIXES else value
            try:
                at = _parse_instant(text)
            except ValueError:
                raise FhirError(400, "invalid", f"date search value {value!r} is not a FHIR dateTime") from None
            clauses.append(f"{column} {ops[prefix]} ?")
            args.append(_key(at))
    return " AND ".join(clauses), args


def _token(value: str) -> tuple[str | None, str]:
    """A token search value: ``system|code``, ``|code`` or ``code``."""
    if "|" in value:
        system, code = value.split("|", 1)
        return (system or None), code
    return None, value


def _ref_id(value: str, rtype: str) -> str:
    """``Schedule/abc``, a full URL ending so, or a bare id → ``abc``."""
    text = value.rstrip("/")
    marker = f"{rtype}/"
    if marker in text:
        text = text.rsplit(marker, 1)[1]
    return text.split("/")[0]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _b64json(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
