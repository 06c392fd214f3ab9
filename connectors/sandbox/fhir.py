"""A local FHIR R4 (4.0.1) scheduling server: a clinic's calendar as an EHR's FHIR API exposes it.

Served under ``/fhir``: ``CapabilityStatement`` (``/metadata``), ``Practitioner``, ``Location``,
``HealthcareService``, ``Schedule`` and ``Slot`` (read and search, Bundle paging through ``next``
links), and ``Appointment`` (create referencing a slot, conditional create by identifier, read,
search by ``_lastUpdated``, update with ``If-Match`` to cancel or record a no-show). Errors are
``OperationOutcome`` resources with the status codes FHIR servers use (400, 401, 403, 404, 409, 412,
422, 429, 503). OAuth 2.0 client credentials in the SMART Backend Services style
(``/.well-known/smart-configuration``, ``/auth/token``): ``private_key_jwt`` (RS384/ES384 client
assertions checked against the client's JWKS) or a client secret (basic or post), SMART v1 and v2
system scopes.

The calendar (:data:`DEFAULT_CALENDAR`): six providers — two of them Spanish-speaking, one also
Chinese-speaking — at two clinic locations plus telehealth; primary care, physical therapy (needs a
referral) and sleep studies (need a referral and a prior authorization; booked out for the first two
weeks); an interpreter booked for Spanish on Thursdays with one provider. Slots are generated from
the sandbox clock's date for the next weeks; a seeded share of them is already busy. Booking marks a
slot busy (a pending appointment: busy-tentative), a second booking of a busy slot is refused with
409 and an ``OperationOutcome``, and a cancellation frees the slot.

State lives in SQLite (:class:`~connectors.sandbox.harness.SqliteState`), so a file-backed sandbox
survives restarts; faults come from the harness's :class:`~connectors.sandbox.harness.Faults`.
It plays one of three EHR *profiles* (``profile=``), as deployed EHRs differ in how they offer
availability — the connector reads ``/metadata`` to tell which it faces:

- ``generic``: Slot search by ``schedule`` and ``status`` (R4 core), Appointment create;
- ``argonaut`` (Epic-style): no Slot or Schedule search; ``Appointment/$find`` answers proposed
  appointments, ``$hold`` and ``$book`` (with ``patient-id``) hold and book one (Argonaut
  Scheduling IG operations, listed in the CapabilityStatement); direct Appointment create refused;
- ``oracle`` (Oracle Health Millennium-style): Slot search by ``service-type`` (or ``_id``) with
  ``start``, narrowed by ``schedule.actor`` and ``-location``, free slots only (no ``schedule`` or
  ``status`` parameter); an Appointment must name its patient as ``Patient/<id>``.

In every profile an Appointment search must be narrowed (patient, practitioner, actor, location,
identifier, slot or id): an unfiltered search of a clinic's appointments is refused, as EHRs do.
Patients are registered by the EHR (:meth:`FhirSandbox.register_patient`) and found by identifier.

What is faithful and what is not: ``docs/scheduling.md``.

Example:
    sandbox = FhirSandbox()
    with SandboxServer(sandbox) as server:
        requests.get(server.url + "/fhir/metadata")
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connectors.sandbox.harness import Faults, RequestLog, SqliteState

__all__ = [
    "BOOKING_SYSTEM",
    "DEFAULT_CALENDAR",
    "INTERPRETER_EXTENSION",
    "LEAD_SYSTEM",
    "PROFILES",
    "REQUIREMENT_SYSTEM",
    "SERVICE_SYSTEM",
    "ClinicCalendar",
    "ClinicLocation",
    "ClinicProvider",
    "ClinicSchedule",
    "ClinicService",
    "FhirSandbox",
]

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


# --- the clinic -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicService:
    """A service the clinic schedules.

    Attributes:
        code: the service code (the hub's service id).
        display: its name.
        minutes: the length of one slot.
        requires_referral, requires_authorization: what must be in before booking.
    """

    code: str
    display: str
    minutes: int
    requires_referral: bool = False
    requires_authorization: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicLocation:
    """A location; ``telehealth`` ones are virtual."""

    id: str
    name: str
    line: str = ""
    city: str = "Austin"
    state: str = "TX"
    postal_code: str = ""
    phone: str = "+15125550100"
    telehealth: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicProvider:
    """A provider; ``languages`` are BCP 47 primary tags."""

    id: str
    family: str
    given: str
    prefix: str
    qualification: str
    npi: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicSchedule:
    """One provider's schedule at one location.

    Attributes:
        id: the Schedule id.
        provider, location: ids.
        service: the service code its slots are for.
        weekdays: days it runs (0 = Monday).
        hours: local (start, end) windows each such day; an end before its start runs overnight.
        interpreter: weekday → language an interpreter is booked for on that day.
    """

    id: str
    provider: str
    location: str
    service: str
    weekdays: tuple[int, ...]
    hours: tuple[tuple[dtime, dtime], ...]
    interpreter: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicCalendar:
    """The clinic whose calendar the sandbox serves.

    Attributes:
        timezone: the clinic's IANA time zone.
        services, locations, providers, schedules: the clinic.
        weeks: slots are generated for this many weeks from the clock's date.
        busy_share: the share of slots already taken by other patients (seeded).
        booked_out: service code → days from today in which every slot is taken.
        seed: seeds which slots are busy.
    """

    timezone: str
    services: tuple[ClinicService, ...]
    locations: tuple[ClinicLocation, ...]
    providers: tuple[ClinicProvider, ...]
    schedules: tuple[ClinicSchedule, ...]
    weeks: int = 4
    busy_share: float = 0.35
    booked_out: Mapping[str, int] = field(default_factory=dict)
    seed: int = 8

    def service(self, code: str) -> ClinicService:
        return next(s for s in self.services if s.code == code)


def _h(text: str) -> dtime:
    return dtime.fromisoformat(text)


_DAY_HOURS = ((_h("08:00"), _h("12:00")), (_h("13:00"), _h("17:00")))

DEFAULT_CALENDAR = ClinicCalendar(
    timezone="America/Chicago",
    services=(
        ClinicService(code="primary_care", display="Primary care", minutes=30),
        ClinicService(code="physical_therapy", display="Physical therapy", minutes=60, requires_referral=True),
        ClinicService(
            code="sleep_study",
            display="Sleep study",
            minutes=600,
            requires_referral=True,
            requires_authorization=True,
        ),
    ),
    locations=(
        ClinicLocation(id="downtown", name="Downtown", line="200 Congress Ave", postal_code="78701"),
        ClinicLocation(id="eastside", name="Eastside", line="1400 E 7th St", postal_code="78702"),
        ClinicLocation(id="telehealth", name="Telehealth", telehealth=True),
    ),
    providers=(
        ClinicProvider(
            id="okafor",
            family="Okafor",
            given="Adaeze",
            prefix="Dr.",
            qualification="MD",
            npi="1912345670",
            languages=("en",),
        ),
        ClinicProvider(
            id="garcia",
            family="García",
            given="Lucía",
            prefix="Dr.",
            qualification="MD",
            npi="1923456781",
            languages=("es", "en"),
        ),
        ClinicProvider(
            id="chen",
            family="Chen",
            given="Wei",
            prefix="Dr.",
            qualification="MD",
            npi="1934567892",
            languages=("en", "zh"),
        ),
        ClinicProvider(
            id="nguyen",
            family="Nguyen",
            given="Minh",
            prefix="",
            qualification="DPT",
            npi="1945678903",
            languages=("en",),
        ),
        ClinicProvider(
            id="ramirez",
            family="Ramírez",
            given="Sofía",
            prefix="",
            qualification="DPT",
            npi="1956789014",
            languages=("es", "en"),
        ),
        ClinicProvider(
            id="patel",
            family="Patel",
            given="Priya",
            prefix="Dr.",
            qualification="MD",
            npi="1967890125",
            languages=("en",),
        ),
    ),
    schedules=(
        ClinicSchedule(
            id="okafor-downtown",
            provider="okafor",
            location="downtown",
            service="primary_care",
            weekdays=(0, 2, 4),
            hours=_DAY_HOURS,
        ),
        ClinicSchedule(
            id="okafor-telehealth",
            provider="okafor",
            location="telehealth",
            service="primary_care",
            weekdays=(1,),
            hours=((_h("09:00"), _h("12:00")),),
        ),
        ClinicSchedule(
            id="garcia-eastside",
            provider="garcia",
            location="eastside",
            service="primary_care",
            weekdays=(0, 1, 3),
            hours=_DAY_HOURS,
        ),
        ClinicSchedule(
            id="garcia-telehealth",
            provider="garcia",
            location="telehealth",
            service="primary_care",
            weekdays=(4,),
            hours=((_h("13:00"), _h("16:00")),),
        ),
        ClinicSchedule(
            id="chen-downtown",
            provider="chen",
            location="downtown",
            service="primary_care",
            weekdays=(1, 3),
            hours=_DAY_HOURS,
            interpreter={3: "es"},
        ),
        ClinicSchedule(
            id="nguyen-downtown",
            provider="nguyen",
            location="downtown",
            service="physical_therapy",
            weekdays=(0, 2, 3),
            hours=_DAY_HOURS,
        ),
        ClinicSchedule(
            id="ramirez-eastside",
            provider="ramirez",
            location="eastside",
            service="physical_therapy",
            weekdays=(1, 4),
            hours=_DAY_HOURS,
        ),
        ClinicSchedule(
            id="patel-downtown",
            provider="patel",
            location="downtown",
            service="sleep_study",
            weekdays=(1, 3),
            hours=((_h("20:00"), _h("06:00")),),
        ),
    ),
    booked_out={"sleep_study": 14},
)


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


@dataclass(slots=True)
class _Client:
    client_id: str
    secret: str | None
    jwks: KeySet | None
    scopes: frozenset[str]


@dataclass(slots=True)
class _Token:
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    calls: int = 0


_SCOPE = re.compile(r"^(system|user|patient)/([A-Za-z]+|\*)\.(read|write|\*|[cruds]+)$")

#: Every scope a registered client may ask for by default.
DEFAULT_SCOPES = frozenset(
    {
        "system/Practitioner.read",
        "system/Location.read",
        "system/HealthcareService.read",
        "system/Schedule.read",
        "system/Slot.read",
        "system/Appointment.read",
        "system/Appointment.write",
        "system/Patient.read",
        "system/Patient.rs",
        "system/*.read",
        "system/Practitioner.rs",
        "system/Location.rs",
        "system/HealthcareService.rs",
        "system/Schedule.rs",
        "system/Slot.rs",
        "system/Appointment.cruds",
        "system/Appointment.rs",
        "system/Appointment.cu",
    }
)


def _allows(scopes: Iterable[str], rtype: str, op: str) -> bool:
    """Whether SMART v1/v2 system scopes allow ``op`` ("read" or "write") on ``rtype``."""
    for scope in scopes:
        m = _SCOPE.match(scope)
        if m is None or m[1] != "system" or m[2] not in ("*", rtype):
            continue
        perm = m[3]
        if perm in ("*", op):
            return True
        if perm not in ("read", "write") and set(perm) & ({"r", "s"} if op == "read" else {"c", "u"}):
            return True
    return False


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- the sandbox ------------------------------------------------------------------------------


class FhirSandbox:
    """A FHIR R4 scheduling server on this machine (a WSGI app).

    Args:
        calendar: the clinic whose calendar it serves.
        state_path: SQLite file (the demo); None keeps state in memory (tests).
        faults: faults to inject into API calls (flip its fields while it runs).
        clock: the time resources are stamped with and slots are generated from (default real
            UTC); token lifetimes and client assertions use real time, as Authlib signs with it.
        client_id, client_secret: a client registered at start (client-secret authentication).
        token_ttl_s: access token lifetime.
        profile: the EHR behaviour to play: ``generic``, ``argonaut`` (Epic-style) or ``oracle``.
    """

    def __init__(
        self,
        *,
        calendar: ClinicCalendar = DEFAULT_CALENDAR,
        state_path: Path | None = None,
        faults: Faults | None = None,
        clock: Clock | None = None,
        client_id: str = "nurturehub",
        client_secret: str | None = "sandbox-secret",  # noqa: S107 - the sandbox client's documented demo secret
        token_ttl_s: int = 300,
        profile: str = "generic",
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}")
        self.profile = profile
        self.calendar = calendar
        self.tz = ZoneInfo(calendar.timezone)
        self.faults = faults if faults is not None else Faults()
        self.log = RequestLog()
        self.token_ttl_s = token_ttl_s
        self._clock = clock or _utc_now
        self._state = SqliteState(state_path)
        self._lock = threading.Lock()
        self._clients: dict[str, _Client] = {}
        self._tokens: dict[str, _Token] = {}
        self._jtis: dict[str, float] = {}
        self._last_stamp: datetime | None = None
        self._url_map = Map(
            [
                Rule(f"{BASE_PATH}/metadata", endpoint="metadata", methods=["GET"]),
                Rule(f"{BASE_PATH}/.well-known/smart-configuration", endpoint="smart", methods=["GET"]),
                Rule("/.well-known/smart-configuration", endpoint="smart", methods=["GET"]),
                Rule(TOKEN_PATH, endpoint="token", methods=["POST"]),
                Rule(f"{BASE_PATH}/Appointment/$find", endpoint="find", methods=["GET", "POST"]),
                Rule(f"{BASE_PATH}/Appointment/$hold", endpoint="hold", methods=["POST"]),
                Rule(f"{BASE_PATH}/Appointment/$book", endpoint="book", methods=["POST"]),
                Rule(f"{BASE_PATH}/<rtype>", endpoint="search", methods=["GET"]),
                Rule(f"{BASE_PATH}/Appointment", endpoint="create", methods=["POST"]),
                Rule(f"{BASE_PATH}/<rtype>/<rid>", endpoint="read", methods=["GET"]),
                Rule(f"{BASE_PATH}/Appointment/<rid>", endpoint="update", methods=["PUT"]),
            ]
        )
        self.register_client(client_id, secret=client_secret)
        self._init_db()

    # --- public helpers -----------------------------------------------------------------------

    def register_client(
        self,
        client_id: str,
        *,
        secret: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> None:
        """Register a backend client: a secret, a JWKS (public keys for ``private_key_jwt``), or both."""
        key_set = KeySet.import_key_set(dict(jwks)) if jwks is not None else None  # type: ignore[arg-type]
        with self._lock:
            self._clients[client_id] = _Client(client_id, secret, key_set, frozenset(scopes))

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (the next call gets a 401)."""
        with self._lock:
            self._tokens.clear()

    def resources(self, rtype: str | None = None) -> Iterator[Json]:
        """Every stored resource (of one type), as served."""
        with self._state.tx() as conn:
            if rtype is None:
                rows = conn.execute("SELECT body FROM resources ORDER BY type, id").fetchall()
            else:
                rows = conn.execute("SELECT body FROM resources WHERE type = ? ORDER BY id", (rtype,)).fetchall()
        for row in rows:
            yield json.loads(row["body"])

    def get(self, rtype: str, rid: str) -> Json | None:
        """One stored resource, or None."""
        with self._state.tx() as conn:
            row = conn.execute("SELECT body FROM resources WHERE type = ? AND id = ?", (rtype, rid)).fetchone()
        return json.loads(row["body"]) if row else None

    def register_patient(self, lead_id: str, *, system: str = LEAD_SYSTEM) -> str:
        """The front desk registers a patient who carries the hub's lead id as an identifier (how
        an EHR learns of a person the hub knows); answers the Patient id. No name is stored."""
        with self._state.tx() as conn:
            count = conn.execute("SELECT COUNT(*) FROM resources WHERE type = 'Patient'").fetchone()[0]
            patient = {
                "resourceType": "Patient",
                "id": f"pat-{count + 1:05d}",
                "active": True,
                "identifier": [{"system": system, "value": lead_id}],
            }
            return str(self._write(conn, patient)["id"])

    def set_appointment_status(self, appointment_id: str, status: str) -> Json:
        """Staff change an appointment in the EHR (``noshow``, ``fulfilled``, ``arrived`` …)."""
        with self._state.tx() as conn:
            current = self._load(conn, "Appointment", appointment_id)
            if current is None:
                raise KeyError(appointment_id)
            updated = dict(current, status=status)
            self._apply_status(conn, current, updated)
            return self._write(conn, updated)

    def close(self) -> None:
        """Close the state database."""
        self._state.close()

    # --- state --------------------------------------------------------------------------------

    def _stamp(self) -> datetime:
        with self._lock:
            now = self._clock()
            if self._last_stamp is not None and now <= self._last_stamp:
                now = self._last_stamp + timedelta(milliseconds=1)
            self._last_stamp = now
            return now

    def _init_db(self) -> None:
        with self._state.tx() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS resources ("
                " type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, updated TEXT NOT NULL,"
                " body TEXT NOT NULL, schedule TEXT, status TEXT, start TEXT, service TEXT, ident TEXT,"
                " slot TEXT, actors TEXT, PRIMARY KEY (type, id))"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS ix_resources_start ON resources (type, start)")
            conn.execute("CREATE INDEX IF NOT EXISTS ix_resources_updated ON resources (type, updated)")
            seeded = conn.execute("SELECT COUNT(*) FROM resources").fetchone()[0]
            if not seeded:
                for resource in self._generate():
                    self._write(conn, resource)

    def _load(self, conn: Any, rtype: str, rid: str) -> Json | None:
        row = conn.execute("SELECT body FROM resources WHERE type = ? AND id = ?", (rtype, rid)).fetchone()
        return json.loads(row["body"]) if row else None

    def _write(self, conn: Any, resource: Json) -> Json:
        """Store a new version of ``resource`` (meta stamped) and its search columns."""
        rtype, rid = resource["resourceType"], resource["id"]
        row = conn.execute("SELECT version FROM resources WHERE type = ? AND id = ?", (rtype, rid)).fetchone()
        version = (row["version"] if row else 0) + 1
        now = self._stamp()
        meta = {**resource.get("meta", {}), "versionId": str(version), "lastUpdated": _instant(now)}
        rest = {k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")}
        stored = {"resourceType": rtype, "id": rid, "meta": meta, **rest}
        cols = self._columns(stored)
        conn.execute(
            "INSERT OR REPLACE INTO resources (type, id, version, updated, body, schedule, status, start, service,"
            " ident, slot, actors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rtype, rid, version, _key(now), json.dumps(stored, ensure_ascii=False), *cols),
        )
        return stored

    @staticmethod
    def _columns(r: Json) -> tuple[str | None, ...]:
        rtype = r["resourceType"]
        schedule = r.get("schedule", {}).get("reference") if rtype == "Slot" else None
        status = r.get("status")
        if rtype == "Schedule":
            status = "true" if r.get("active", True) else "false"
        start = _key(_parse_instant(r["start"])) if r.get("start") else None
        codes = [
            f"{c.get('system', '')}|{c.get('code', '')}"
            for concept in (r.get("serviceType") or r.get("type") or [])
            for c in concept.get("coding", [])
        ]
        idents = [f"{i.get('system', '')}|{i.get('value', '')}" for i in r.get("identifier", [])]
        idents += [
            f"{p['actor']['identifier'].get('system', '')}|{p['actor']['identifier'].get('value', '')}"
            for p in r.get("participant", [])
            if "identifier" in p.get("actor", {})
        ]
        slot = ",".join(s.get("reference", "") for s in r.get("slot", [])) or None
        actors = [a.get("reference", "") for a in r.get("actor", [])]
        actors += [p["actor"].get("reference", "") for p in r.get("participant", []) if "actor" in p]
        joined = [("\n" + "\n".join(x) + "\n") if x else None for x in (codes, idents)]
        return (
            schedule,
            status,
            start,
            joined[0],
            joined[1],
            slot,
            ("\n" + "\n".join(a for a in actors if a) + "\n") if actors else None,
        )

    # --- the calendar ---------------------------------------------------------------------------

    def _generate(self) -> Iterator[Json]:
        cal = self.calendar
        now = self._clock()
        today = now.astimezone(self.tz).date()
        horizon_end = today + timedelta(weeks=cal.weeks)
        rng = random.Random(cal.seed)
        for loc in cal.locations:
            yield self._location(loc)
        for prov in cal.providers:
            yield self._practitioner(prov)
        for svc in cal.services:
            yield self._healthcare_service(svc)
        for sch in cal.schedules:
            yield self._schedule(sch, today, horizon_end)
            svc = cal.service(sch.service)
            booked_out_until = today + timedelta(days=cal.booked_out.get(sch.service, 0))
            for day in (today + timedelta(days=n) for n in range(cal.weeks * 7)):
                if day.weekday() not in sch.weekdays:
                    continue
                for start, end in self._slot_times(day, sch.hours, svc.minutes):
                    if start < now:
                        continue
                    if day < booked_out_until:
                        status = "busy"
                    else:
                        roll = rng.random()
                        status = "busy" if roll < cal.busy_share else "busy-unavailable" if roll > 0.98 else "free"
                    yield self._slot(sch, svc, start, end, status, sch.interpreter.get(day.weekday()))

    def _slot_times(
        self, day: date, hours: Sequence[tuple[dtime, dtime]], minutes: int
    ) -> Iterator[tuple[datetime, datetime]]:
        length = timedelta(minutes=minutes)
        for begin, finish in hours:
            start = datetime.combine(day, begin, tzinfo=self.tz)
            stop = datetime.combine(day + timedelta(days=1 if finish <= begin else 0), finish, tzinfo=self.tz)
            while start + length <= stop:
                yield start.astimezone(UTC), (start + length).astimezone(UTC)
                start += length

    def _coding(self, svc: ClinicService) -> Json:
        return {"coding": [{"system": SERVICE_SYSTEM, "code": svc.code, "display": svc.display}]}

    def _location(self, loc: ClinicLocation) -> Json:
        physical = {"code": "vi", "display": "Virtual"} if loc.telehealth else {"code": "bu", "display": "Building"}
        body: Json = {
            "resourceType": "Location",
            "id": loc.id,
            "status": "active",
            "name": loc.name,
            "mode": "instance",
            "physicalType": {"coding": [{"system": PHYSICAL_TYPE, **physical}]},
            "telecom": [{"system": "phone", "value": loc.phone, "use": "work"}],
        }
        if not loc.telehealth:
            body["address"] = {
                "use": "work",
                "line": [loc.line],
                "city": loc.city,
                "state": loc.state,
                "postalCode": loc.postal_code,
                "country": "US",
            }
        return body

    def _practitioner(self, prov: ClinicProvider) -> Json:
        name: Json = {"use": "official", "family": prov.family, "given": [prov.given]}
        if prov.prefix:
            name["prefix"] = [prov.prefix]
        return {
            "resourceType": "Practitioner",
            "id": prov.id,
            "identifier": [{"system": NPI, "value": prov.npi}],
            "active": True,
            "name": [name],
            "qualification": [{"code": {"text": prov.qualification}}],
            "communication": [
                {"coding": [{"system": BCP47, "code": lang, "display": LANGUAGE_NAMES.get(lang, lang)}]}
                for lang in prov.languages
            ],
        }

    def _healthcare_service(self, svc: ClinicService) -> Json:
        where = sorted({s.location for s in self.calendar.schedules if s.service == svc.code})
        requirements = [
            {"coding": [{"system": REQUIREMENT_SYSTEM, "code": code, "display": display}]}
            for code, display, needed in (
                ("referral-required", "Referral required", svc.requires_referral),
                ("prior-authorization-required", "Prior authorization required", svc.requires_authorization),
            )
            if needed
        ]
        body: Json = {
            "resourceType": "HealthcareService",
            "id": svc.code.replace("_", "-"),
            "active": True,
            "name": svc.display,
            "type": [self._coding(svc)],
            "location": [{"reference": f"Location/{loc}"} for loc in where],
            "appointmentRequired": True,
        }
        if requirements:
            body["characteristic"] = requirements
        return body

    def _schedule(self, sch: ClinicSchedule, first: date, last: date) -> Json:
        svc = self.calendar.service(sch.service)
        prov = next(p for p in self.calendar.providers if p.id == sch.provider)
        loc = next(loc for loc in self.calendar.locations if loc.id == sch.location)
        return {
            "resourceType": "Schedule",
            "id": sch.id,
            "active": True,
            "serviceType": [self._coding(svc)],
            "actor": [
                {"reference": f"Practitioner/{prov.id}", "display": f"{prov.given} {prov.family}"},
                {"reference": f"Location/{loc.id}", "display": loc.name},
            ],
            "planningHorizon": {
                "start": datetime.combine(first, dtime(0), tzinfo=self.tz).isoformat(timespec="seconds"),
                "end": datetime.combine(last, dtime(0), tzinfo=self.tz).isoformat(timespec="seconds"),
            },
        }

    def _slot(
        self,
        sch: ClinicSchedule,
        svc: ClinicService,
        start: datetime,
        end: datetime,
        status: str,
        interpreter: str | None,
    ) -> Json:
        body: Json = {
            "resourceType": "Slot",
            "id": f"{sch.id}-{start.astimezone(self.tz):%Y%m%d%H%M}",
            "schedule": {"reference": f"Schedule/{sch.id}"},
            "status": status,
            "start": _instant(start, self.tz),
            "end": _instant(end, self.tz),
            "serviceType": [self._coding(svc)],
        }
        if interpreter:
            body["extension"] = [{"url": INTERPRETER_EXTENSION, "valueCode": interpreter}]
        return body

    # --- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self._respond(request)
        self.log.add(request.method, request.path, response.status_code)
        return response(environ, start_response)

    def _base(self, request: Request) -> str:
        return request.host_url.rstrip("/") + BASE_PATH

    def _respond(self, request: Request) -> Response:
        self.faults.delay()
        try:
            adapter = self._url_map.bind_to_environ(request.environ)
            endpoint, args = adapter.match()
            handler: Callable[..., Response] = getattr(self, f"_h_{endpoint}")
            if endpoint in ("search", "create", "read", "update", "find", "hold", "book"):
                self._fault()
                token = self._authorize(request)
                rtype = args.get("rtype", "Appointment")
                op = "read" if request.method == "GET" or endpoint == "find" else "write"
                if rtype not in SEARCHABLE or (endpoint == "search" and rtype not in self._params()):
                    raise FhirError(404, "not-supported", f"resource type {rtype} is not supported here")
                if endpoint in ("find", "hold", "book") and self.profile != "argonaut":
                    raise FhirError(404, "not-supported", f"Appointment/${endpoint} is not supported here")
                if endpoint == "create" and self.profile == "argonaut":
                    raise FhirError(405, "not-supported", "appointments are booked with Appointment/$book here")
                if not _allows(token.scopes, rtype, op):
                    raise FhirError(403, "forbidden", f"the access token's scopes do not allow {op} on {rtype}")
            return handler(request, **args)
        except FhirError as exc:
            return self._outcome_response(exc)
        except HTTPException as exc:
            code = "not-supported" if exc.code == 405 else "not-found"
            return self._outcome_response(FhirError(exc.code or 400, code, exc.description or exc.name))

    def _outcome_response(self, exc: FhirError) -> Response:
        body = operation_outcome(exc.code, exc.diagnostics, severity=exc.severity)
        return self._json(body, status=exc.status, headers=exc.headers)

    def _json(self, body: Json, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        return Response(
            json.dumps(body, ensure_ascii=False), status=status, headers=dict(headers or {}), content_type=FHIR_JSON
        )

    def _fault(self) -> None:
        match self.faults.roll():
            case "429":
                raise FhirError(
                    429,
                    "throttled",
                    "rate limit exceeded; retry later",
                    headers={"Retry-After": str(self.faults.retry_after_s)},
                )
            case "5xx":
                raise FhirError(503, "transient", "the server is temporarily unavailable")
            case _:
                return

    def _authorize(self, request: Request) -> _Token:
        header = request.headers.get("Authorization", "")
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        if not header.startswith("Bearer "):
            raise FhirError(401, "login", "an access token is required", headers=challenge)
        value = header[len("Bearer ") :].strip()
        with self._lock:
            token = self._tokens.get(value)
            if token is None or token.expires_at <= time.time():
                self._tokens.pop(value, None)
                raise FhirError(401, "expired", "the access token is invalid or expired", headers=challenge)
            token.calls += 1
            limit = self.faults.expire_session_after
            if limit is not None and token.calls > limit:
                del self._tokens[value]
                raise FhirError(401, "expired", "the access token is invalid or expired", headers=challenge)
            return token

    # --- handlers: discovery and auth ------------------------------------------------------------

    def _h_metadata(self, request: Request) -> Response:
        base = self._base(request)
        params = self._params()
        resources: list[Json] = []
        for rtype in SEARCHABLE:
            if rtype not in params:
                continue
            interactions = [{"code": "read"}, {"code": "search-type"}]
            if rtype == "Appointment":
                interactions += [{"code": "update"}] if self.profile == "argonaut" else [
                    {"code": "create"}, {"code": "update"}
                ]  # fmt: skip
            entry: Json = {
                "type": rtype,
                "interaction": interactions,
                "searchParam": [{"name": name, "type": kind} for name, kind in params[rtype].items()],
            }
            if rtype == "Appointment" and self.profile == "argonaut":
                entry["operation"] = [
                    {"name": "find", "definition": ARGONAUT_FIND},
                    {"name": "hold", "definition": ARGONAUT_HOLD},
                    {"name": "book", "definition": ARGONAUT_BOOK},
                ]
            resources.append(entry)
        body: Json = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": _instant(self._clock()),
            "kind": "instance",
            "software": {"name": f"nurturehub FHIR sandbox ({self.profile})", "version": "1.0"},
            "implementation": {"description": "Local FHIR R4 scheduling sandbox", "url": base},
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    }
                                ]
                            }
                        ]
                    },
                    "resource": resources,
                }
            ],
        }
        return self._json(body)

    def _h_smart(self, request: Request) -> Response:
        body = {
            "token_endpoint": request.host_url.rstrip("/") + TOKEN_PATH,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "scopes_supported": sorted(DEFAULT_SCOPES),
            "capabilities": ["client-confidential-asymmetric", "client-confidential-symmetric"],
        }
        return Response(json.dumps(body), content_type="application/json")

    def _oauth_error(self, status: int, error: str, description: str) -> Response:
        body = {"error": error, "error_description": description}
        return Response(
            json.dumps(body),
            status=status,
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    def _h_token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return self._oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
        client, problem = self._authenticate(request)
        if client is None:
            return self._oauth_error(401, "invalid_client", problem)
        requested = frozenset((form.get("scope") or "").split())
        if not requested:
            return self._oauth_error(400, "invalid_scope", "a scope is required")
        if not requested <= client.scopes:
            return self._oauth_error(400, "invalid_scope", "the client may not have: " + " ".join(sorted(requested)))
        value = "fhir-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[value] = _Token(client.client_id, requested, time.time() + self.token_ttl_s)
        body = {
            "access_token": value,
            "token_type": "bearer",
            "expires_in": self.token_ttl_s,
            "scope": " ".join(sorted(requested)),
        }
        return Response(json.dumps(body), content_type="application/json", headers={"Cache-Control": "no-store"})

    def _authenticate(self, request: Request) -> tuple[_Client | None, str]:
        form = request.form
        assertion_type = form.get("client_assertion_type")
        if assertion_type is not None:
            if assertion_type != ASSERTION_TYPE:
                return None, "unsupported client_assertion_type"
            return self._check_assertion(request, form.get("client_assertion") or "")
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            client_id, secret = auth.username or "", auth.password or ""
        else:
            client_id, secret = form.get("client_id") or "", form.get("client_secret") or ""
        with self._lock:
            client = self._clients.get(client_id)
        if client is None or client.secret is None or not secrets.compare_digest(client.secret, secret):
            return None, "client authentication failed"
        return client, ""

    def _check_assertion(self, request: Request, assertion: str) -> tuple[_Client | None, str]:
        try:
            unverified = json.loads(_b64json(assertion.split(".")[1]))
        except (IndexError, ValueError):
            return None, "the client assertion is not a JWT"
        client_id = str(unverified.get("iss", ""))
        with self._lock:
            client = self._clients.get(client_id)
        if client is None or client.jwks is None:
            return None, "unknown client, or no public key registered for it"
        try:
            token = jwt.decode(assertion, client.jwks, algorithms=["RS384", "ES384"])
        except (JoseError, ValueError) as exc:
            return None, f"the client assertion's signature does not verify ({type(exc).__name__})"
        claims, header = token.claims, token.header
        audience = request.host_url.rstrip("/") + TOKEN_PATH
        now = time.time()
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        problems = [
            "sub must equal iss" if claims.get("sub") != client_id else "",
            "aud must be the token endpoint" if audience not in auds else "",
            "kid header is required" if not header.get("kid") else "",
            "exp is missing or in the past" if not isinstance(claims.get("exp"), int) or claims["exp"] <= now else "",
            "exp is more than five minutes ahead"
            if isinstance(claims.get("exp"), int) and claims["exp"] > now + 300 + 30
            else "",
            "jti is required" if not claims.get("jti") else "",
        ]
        problem = next((p for p in problems if p), "")
        if problem:
            return None, f"client assertion rejected: {problem}"
        with self._lock:
            self._jtis = {j: exp for j, exp in self._jtis.items() if exp > now}
            if claims["jti"] in self._jtis:
                return None, "client assertion rejected: jti was already used"
            self._jtis[str(claims["jti"])] = float(claims["exp"])
        return client, ""

    # --- handlers: REST ---------------------------------------------------------------------------

    def _h_read(self, request: Request, rtype: str, rid: str) -> Response:
        with self._state.tx() as conn:
            resource = self._load(conn, rtype, rid)
        if resource is None:
            raise FhirError(404, "not-found", f"{rtype}/{rid} is not known")
        return self._json(resource, headers={"ETag": f'W/"{resource["meta"]["versionId"]}"'})

    def _h_search(self, request: Request, rtype: str) -> Response:
        params = request.args
        allowed = {*self._params()[rtype], "_count", "_offset", "_sort", "_id"}
        unknown = sorted(k for k in params if k not in allowed)
        if unknown:
            raise FhirError(400, "not-supported", f"unknown search parameter(s) for {rtype}: {', '.join(unknown)}")
        self._require_narrowing(rtype, params)
        try:
            count = min(int(params.get("_count", DEFAULT_COUNT)), MAX_COUNT)
            offset = max(int(params.get("_offset", 0)), 0)
        except ValueError:
            raise FhirError(400, "invalid", "_count and _offset must be integers") from None
        where, args = self._where(rtype, params)
        order = self._order(rtype, params.get("_sort"))
        with self._state.tx() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM resources WHERE {where}", args).fetchone()[0]  # noqa: S608
            rows = conn.execute(
                f"SELECT body FROM resources WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608
                [*args, count, offset],
            ).fetchall()
        base = self._base(request)
        kept = [(k, v) for k, v in params.items(multi=True) if k != "_offset"]

        def page(at: int) -> str:
            return f"{base}/{rtype}?" + urlencode([*kept, ("_offset", str(at))])

        links = [{"relation": "self", "url": page(offset)}]
        if offset + count < total:
            links.append({"relation": "next", "url": page(offset + count)})
        if offset > 0:
            links.append({"relation": "previous", "url": page(max(offset - count, 0))})
        bundle: Json = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": _instant(self._clock())},
            "type": "searchset",
            "total": total,
            "link": links,
            "entry": [
                {
                    "fullUrl": f"{base}/{rtype}/{body['id']}",
                    "resource": body,
                    "search": {"mode": "match"},
                }
                for body in (json.loads(r["body"]) for r in rows)
            ],
        }
        if not bundle["entry"]:
            del bundle["entry"]
        return self._json(bundle)

    def _params(self) -> Mapping[str, Mapping[str, str]]:
        """The search parameters this profile offers, per resource type it lets clients search."""
        return _PROFILE_PARAMS[self.profile]

    def _require_narrowing(self, rtype: str, params: MultiDict[str, str]) -> None:
        if rtype == "Appointment" and not APPOINTMENT_NARROWING & set(params):
            raise FhirError(
                400, "too-costly", "an Appointment search needs a patient, practitioner, location, identifier or slot"
            )
        if rtype == "Slot" and self.profile == "oracle":
            if "_id" not in params and "service-type" not in params:
                raise FhirError(400, "required", "a Slot search needs service-type (or _id)")
            if "service-type" in params and "start" not in params:
                raise FhirError(400, "required", "a Slot search by service-type needs start")

    def _order(self, rtype: str, sort: str | None) -> str:
        match sort:
            case None:
                return {"Slot": "start, id", "Appointment": "updated, id"}.get(rtype, "id")
            case "start" | "date" if rtype in ("Slot", "Appointment"):
                return "start, id"
            case "-start" | "-date" if rtype in ("Slot", "Appointment"):
                return "start DESC, id DESC"
            case "_lastUpdated":
                return "updated, id"
            case "-_lastUpdated":
                return "updated DESC, id DESC"
            case "_id":
                return "id"
        raise FhirError(400, "not-supported", f"cannot sort {rtype} by {sort!r}")

    def _where(self, rtype: str, params: MultiDict[str, str]) -> tuple[str, list[str]]:
        clauses = ["type = ?"]
        args: list[str] = [rtype]

        def any_of(column: str, values: Sequence[str]) -> None:
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            args.extend(values)

        def contains_any(column: str, values: Sequence[str]) -> None:
            parts = []
            for value in values:
                system, code = _token(value)
                if system is None:
                    parts.append(f"{column} LIKE ?")
                    args.append(f"%|{code}\n%")
                else:
                    parts.append(f"{column} LIKE ?")
                    args.append(f"%\n{system}|{code}\n%")
            clauses.append("(" + " OR ".join(parts) + ")")

        for name, raw_values in params.lists():
            values = [v for raw in raw_values for v in raw.split(",") if v]
            if name in ("_count", "_offset", "_sort") or not values:
                continue
            match name:
                case "_id":
                    any_of("id", values)
                case "schedule":
                    any_of("schedule", [f"Schedule/{_ref_id(v, 'Schedule')}" for v in values])
                case "status":
                    any_of("status", values)
                case "active":
                    any_of("status", values)
                case "start" | "date":
                    sql, more = _date_filter("start", raw_values)
                    clauses.append(sql)
                    args.extend(more)
                case "_lastUpdated":
                    sql, more = _date_filter("updated", raw_values)
                    clauses.append(sql)
                    args.extend(more)
                case "service-type":
                    contains_any("service", values)
                case "identifier":
                    contains_any("ident", values)
                case "slot":
                    any_of("slot", [f"Slot/{_ref_id(v, 'Slot')}" for v in values])
                case "actor" | "patient" | "practitioner" | "location":
                    kind = {"patient": "Patient", "practitioner": "Practitioner", "location": "Location"}.get(name)
                    parts = []
                    for value in values:
                        parts.append("actors LIKE ?")
                        ref = value if kind is None or "/" in value else f"{kind}/{value}"
                        args.append(f"%\n{ref}\n%")
                    clauses.append("(" + " OR ".join(parts) + ")")
                case "schedule.actor" | "-location":
                    wanted = {_ref_id(v, "Practitioner" if name == "schedule.actor" else "Location") for v in values}
                    ids = [
                        f"Schedule/{sch.id}"
                        for sch in self.calendar.schedules
                        if (sch.provider if name == "schedule.actor" else sch.location) in wanted
                    ]
                    any_of("schedule", ids or ["(none)"])
        if rtype == "Slot" and self.profile == "oracle":
            clauses.append("status = 'free'")  # Oracle's Slot search answers free slots only
        return " AND ".join(clauses), args

    def _h_create(self, request: Request) -> Response:
        body = self._body(request)
        if body.get("resourceType") != "Appointment":
            raise FhirError(400, "invalid", "the body must be an Appointment resource")
        status = body.get("status")
        if status not in ("proposed", "pending", "booked"):
            raise FhirError(
                422, "business-rule", f"a new appointment must be proposed, pending or booked, not {status}"
            )
        participants = body.get("participant")
        if not isinstance(participants, list) or not participants:
            raise FhirError(400, "required", "Appointment.participant is required")
        for p in participants:
            if p.get("status") not in ("accepted", "declined", "tentative", "needs-action"):
                raise FhirError(400, "value", "Appointment.participant.status is required")
            if "actor" not in p and "type" not in p:
                raise FhirError(400, "invariant", "app-1: a participant needs a type or an actor")
        if self.profile == "oracle" and not any(
            str(p.get("actor", {}).get("reference", "")).startswith("Patient/") for p in participants
        ):
            raise FhirError(422, "required", "the patient must take part as Patient/<id> (register the patient first)")
        slots = body.get("slot")
        if not isinstance(slots, list) or len(slots) != 1:
            raise FhirError(422, "business-rule", "an appointment here books exactly one Slot")
        slot_id = _ref_id(str(slots[0].get("reference", "")), "Slot")
        with self._state.tx() as conn:
            existing = self._conditional(conn, request.headers.get("If-None-Exist"))
            if existing is not None:
                return self._json(existing, status=200, headers={"ETag": f'W/"{existing["meta"]["versionId"]}"'})
            for p in participants:
                ref = str(p.get("actor", {}).get("reference", ""))
                if ref.startswith("Patient/") and self._load(conn, "Patient", _ref_id(ref, "Patient")) is None:
                    raise FhirError(422, "not-found", f"{ref} is not known")
            slot = self._load(conn, "Slot", slot_id)
            if slot is None:
                raise FhirError(422, "not-found", f"Slot/{slot_id} does not exist")
            if slot["status"] != "free":
                raise FhirError(
                    409, "conflict", f"Slot/{slot_id} is {slot['status']}, not free: double booking refused"
                )
            for edge in ("start", "end"):
                if edge in body and _parse_instant(body[edge]) != _parse_instant(slot[edge]):
                    raise FhirError(422, "business-rule", f"Appointment.{edge} must match Slot/{slot_id}")
            now = self._stamp()
            appointment = dict(body)
            if self.profile == "oracle":  # Oracle Health derives the practitioner and location from the slot
                sch = next(x for x in self.calendar.schedules if f"Schedule/{x.id}" == slot["schedule"]["reference"])
                named = {str(p.get("actor", {}).get("reference", "")) for p in participants}
                appointment["participant"] = [*participants] + [
                    {"actor": {"reference": ref}, "status": "accepted"}
                    for ref in (f"Practitioner/{sch.provider}", f"Location/{sch.location}")
                    if ref not in named
                ]
            appointment.update(
                id=f"apt-{uuid.uuid4().hex[:16]}",
                start=slot["start"],
                end=slot["end"],
                created=appointment.get("created") or _instant(now, self.tz),
            )
            appointment.pop("meta", None)
            self._write(conn, dict(slot, status="busy" if status == "booked" else "busy-tentative"))
            stored = self._write(conn, appointment)
        location = f"{self._base(request)}/Appointment/{stored['id']}/_history/{stored['meta']['versionId']}"
        return self._json(stored, status=201, headers={"Location": location, "ETag": 'W/"1"'})

    # --- Argonaut Scheduling operations (profile "argonaut") ---------------------------------

    def _inputs(self, request: Request) -> MultiDict[str, str]:
        """An operation's input parameters, from a ``Parameters`` body (POST) or the query (GET)."""
        if request.method == "GET":
            return request.args
        body = self._body(request)
        if body.get("resourceType") != "Parameters":
            raise FhirError(400, "invalid", "the body must be a Parameters resource")
        out: MultiDict[str, str] = MultiDict()
        for param in body.get("parameter", []):
            value = next((v for k, v in param.items() if k.startswith("value")), None)
            if param.get("name") and isinstance(value, str | int | float):
                out.add(str(param["name"]), str(value))
        return out

    def _proposed(self, slot: Json, practitioner: str, location: str) -> Json:
        """A proposed appointment for a free slot (``$find``'s answer): not stored; its id names the
        slot, so ``$hold`` and ``$book`` can take it."""
        body: Json = {
            "resourceType": "Appointment",
            "id": f"prop-{slot['id']}",
            "status": "proposed",
            "serviceType": slot.get("serviceType", []),
            "start": slot["start"],
            "end": slot["end"],
            "slot": [{"reference": f"Slot/{slot['id']}"}],
            "participant": [
                {
                    "actor": {"reference": f"Practitioner/{practitioner}"},
                    "required": "required",
                    "status": "needs-action",
                },
                {"actor": {"reference": f"Location/{location}"}, "required": "required", "status": "needs-action"},
            ],
        }
        if slot.get("extension"):
            body["extension"] = slot["extension"]
        return body

    def _bundle(self, request: Request, resources: Sequence[Json]) -> Response:
        base = self._base(request)
        bundle: Json = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "searchset",
            "total": len(resources),
            "entry": [
                {"fullUrl": f"{base}/Appointment/{r['id']}", "resource": r, "search": {"mode": "match"}}
                for r in resources
            ],
        }
        if not resources:
            del bundle["entry"]
        return self._json(bundle)

    def _h_find(self, request: Request) -> Response:
        inputs = self._inputs(request)
        if not inputs.get("start") or not inputs.get("end"):
            raise FhirError(400, "required", "$find needs start and end")
        try:
            start, end = _parse_instant(inputs["start"]), _parse_instant(inputs["end"])
        except ValueError:
            raise FhirError(400, "invalid", "start and end must be FHIR dateTimes") from None
        services = set(inputs.getlist("visit-type")) | set(inputs.getlist("specialty"))
        practitioners = {_ref_id(v, "Practitioner") for v in inputs.getlist("practitioner")}
        locations = {_ref_id(v, "Location") for v in inputs.getlist("location-reference")}
        found: list[Json] = []
        with self._state.tx() as conn:
            rows = conn.execute(
                "SELECT body FROM resources WHERE type = 'Slot' AND status = 'free' AND start >= ? AND start < ?"
                " ORDER BY start, id",
                (_key(start), _key(end)),
            ).fetchall()
        schedules = {f"Schedule/{s.id}": s for s in self.calendar.schedules}
        for row in rows:
            slot = json.loads(row["body"])
            sch = schedules.get(slot["schedule"]["reference"])
            if sch is None:
                continue
            if (services and sch.service not in services) or (practitioners and sch.provider not in practitioners):
                continue
            if locations and sch.location not in locations:
                continue
            found.append(self._proposed(slot, sch.provider, sch.location))
        return self._bundle(request, found)

    def _slot_of(self, conn: Any, appt_id: str) -> tuple[Json, ClinicSchedule]:
        if not appt_id.startswith("prop-"):
            raise FhirError(404, "not-found", f"Appointment/{appt_id} is not a proposed appointment")
        slot = self._load(conn, "Slot", appt_id.removeprefix("prop-"))
        schedules = {f"Schedule/{s.id}": s for s in self.calendar.schedules}
        sch = schedules.get(slot["schedule"]["reference"]) if slot else None
        if slot is None or sch is None:
            raise FhirError(404, "not-found", f"Appointment/{appt_id} is not known")
        return slot, sch

    def _existing_for(self, conn: Any, slot_id: str) -> Json | None:
        rows = conn.execute(
            "SELECT body FROM resources WHERE type = 'Appointment' AND slot = ?", (f"Slot/{slot_id}",)
        ).fetchall()
        live = [json.loads(r["body"]) for r in rows]
        return next((a for a in live if a["status"] in ("pending", "booked")), None)

    def _h_hold(self, request: Request) -> Response:
        inputs = self._inputs(request)
        appt_id = _ref_id(inputs.get("appt-id", ""), "Appointment")
        with self._state.tx() as conn:
            slot, sch = self._slot_of(conn, appt_id)
            held = self._existing_for(conn, slot["id"])
            if held is not None:
                raise FhirError(409, "conflict", f"Slot/{slot['id']} is {slot['status']}: hold refused")
            if slot["status"] != "free":
                raise FhirError(409, "conflict", f"Slot/{slot['id']} is {slot['status']}, not free")
            appointment = dict(self._proposed(slot, sch.provider, sch.location), id=f"apt-{uuid.uuid4().hex[:16]}")
            appointment.update(status="pending", created=_instant(self._stamp(), self.tz))
            self._write(conn, dict(slot, status="busy-tentative"))
            stored = self._write(conn, appointment)
        return self._bundle(request, [stored])

    def _h_book(self, request: Request) -> Response:
        inputs = self._inputs(request)
        appt_id = _ref_id(inputs.get("appt-id", ""), "Appointment")
        patients = [_ref_id(v, "Patient") for v in inputs.getlist("patient-id")]
        if not appt_id or len(patients) != 1:
            raise FhirError(400, "required", "$book needs appt-id and one patient-id")
        patient_ref = f"Patient/{patients[0]}"
        with self._state.tx() as conn:
            if self._load(conn, "Patient", patients[0]) is None:
                raise FhirError(422, "not-found", f"{patient_ref} is not known")
            if appt_id.startswith("apt-"):  # a held appointment
                current = self._load(conn, "Appointment", appt_id)
                if current is None:
                    raise FhirError(404, "not-found", f"Appointment/{appt_id} is not known")
                slot_id = _ref_id(current["slot"][0]["reference"], "Slot")
            else:
                slot, sch = self._slot_of(conn, appt_id)
                slot_id = slot["id"]
                current = self._existing_for(conn, slot_id)
                if current is None:
                    if slot["status"] != "free":
                        raise FhirError(409, "conflict", f"Slot/{slot_id} is {slot['status']}: double booking refused")
                    current = dict(self._proposed(slot, sch.provider, sch.location), id=f"apt-{uuid.uuid4().hex[:16]}")
                    current.update(status="proposed", created=_instant(self._stamp(), self.tz))
            attendees = [
                p for p in current["participant"] if str(p.get("actor", {}).get("reference", "")).startswith("Patient/")
            ]
            if attendees and attendees[0]["actor"]["reference"] != patient_ref:
                raise FhirError(409, "conflict", f"Slot/{slot_id} is taken: double booking refused")
            if current["status"] == "booked":
                return self._bundle(request, [current])  # the same booking again: answered as it is
            participants = [{**p, "status": "accepted"} for p in current["participant"] if p not in attendees] + [
                {"actor": {"reference": patient_ref}, "required": "required", "status": "accepted"}
            ]
            booked = dict(current, status="booked", participant=participants)
            booked.pop("meta", None)
            slot_now = self._load(conn, "Slot", slot_id)
            if slot_now is not None:
                self._write(conn, dict(slot_now, status="busy"))
            stored = self._write(conn, booked)
        return self._bundle(request, [stored])

    def _conditional(self, conn: Any, header: str | None) -> Json | None:
        if not header:
            return None
        params = dict(p.split("=", 1) for p in header.split("&") if "=" in p)
        ident = params.get("identifier")
        if not ident or set(params) != {"identifier"}:
            raise FhirError(400, "not-supported", "If-None-Exist supports identifier=system|value only")
        system, value = _token(ident)
        needle = f"%\n{system or ''}|{value}\n%" if system else f"%|{value}\n%"
        rows = conn.execute(
            "SELECT body FROM resources WHERE type = 'Appointment' AND ident LIKE ?", (needle,)
        ).fetchall()
        if len(rows) > 1:
            raise FhirError(412, "duplicate", "If-None-Exist matched more than one appointment")
        return json.loads(rows[0]["body"]) if rows else None

    _TRANSITIONS: Mapping[str, frozenset[str]] = {
        "proposed": frozenset({"pending", "booked", "cancelled"}),
        "pending": frozenset({"booked", "cancelled"}),
        "booked": frozenset({"arrived", "checked-in", "fulfilled", "cancelled", "noshow"}),
        "arrived": frozenset({"fulfilled"}),
        "checked-in": frozenset({"arrived", "fulfilled"}),
    }

    def _apply_status(self, conn: Any, current: Json, updated: Json) -> None:
        old, new = current["status"], updated.get("status")
        if new == old:
            return
        if new not in self._TRANSITIONS.get(old, frozenset()):
            raise FhirError(422, "business-rule", f"an appointment cannot go from {old} to {new}")
        for ref in current.get("slot", []):
            slot = self._load(conn, "Slot", _ref_id(ref["reference"], "Slot"))
            if slot is None:
                continue
            if new == "cancelled" and _parse_instant(slot["start"]) > self._clock():
                self._write(conn, dict(slot, status="free"))
            elif new == "booked" and slot["status"] != "busy":
                self._write(conn, dict(slot, status="busy"))

    def _h_update(self, request: Request, rid: str) -> Response:
        body = self._body(request)
        if body.get("resourceType") != "Appointment" or body.get("id") != rid:
            raise FhirError(400, "invalid", f"the body must be Appointment/{rid}")
        with self._state.tx() as conn:
            current = self._load(conn, "Appointment", rid)
            if current is None:
                raise FhirError(404, "not-found", f"Appointment/{rid} is not known")
            match = request.headers.get("If-Match")
            version = current["meta"]["versionId"]
            if match is not None and match.strip() not in (f'W/"{version}"', f'"{version}"'):
                raise FhirError(412, "conflict", f"Appointment/{rid} changed meanwhile (version {version})")
            if [s.get("reference") for s in body.get("slot", [])] != [s.get("reference") for s in current["slot"]]:
                raise FhirError(422, "business-rule", "an appointment's slot cannot be changed; book a new one")
            self._apply_status(conn, current, body)
            updated = dict(body, start=current["start"], end=current["end"])
            stored = self._write(conn, updated)
        return self._json(stored, headers={"ETag": f'W/"{stored["meta"]["versionId"]}"'})

    @staticmethod
    def _body(request: Request) -> Json:
        if request.mimetype not in ("application/fhir+json", "application/json"):
            raise FhirError(415, "not-supported", "send application/fhir+json")
        try:
            body = json.loads(request.get_data(as_text=True))
        except ValueError:
            raise FhirError(400, "structure", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise FhirError(400, "structure", "the body must be a JSON object")
        return body


def _b64json(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


#: Search parameters each resource type supports (name → FHIR search parameter type).
_APPOINTMENT_PARAMS: Mapping[str, str] = {
    "_lastUpdated": "date",
    "identifier": "token",
    "status": "token",
    "slot": "reference",
    "actor": "reference",
    "patient": "reference",
    "practitioner": "reference",
    "location": "reference",
    "date": "date",
}

_SEARCH_PARAMS: Mapping[str, Mapping[str, str]] = {
    "Practitioner": {},
    "Location": {},
    "HealthcareService": {"service-type": "token", "active": "token"},
    "Schedule": {"actor": "reference", "service-type": "token", "active": "token"},
    "Slot": {"schedule": "reference", "status": "token", "start": "date", "service-type": "token"},
    "Appointment": _APPOINTMENT_PARAMS,
    "Patient": {"identifier": "token"},
}

#: What each profile lets clients search (a type missing is not searchable there).
_PROFILE_PARAMS: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    "generic": _SEARCH_PARAMS,
    "argonaut": {
        **{k: v for k, v in _SEARCH_PARAMS.items() if k not in ("Slot", "Schedule")},
        "Appointment": {k: v for k, v in _APPOINTMENT_PARAMS.items() if k != "actor"},
    },
    "oracle": {
        **_SEARCH_PARAMS,
        "Slot": {"service-type": "token", "start": "date", "schedule.actor": "reference", "-location": "reference"},
        "Appointment": {k: v for k, v in _APPOINTMENT_PARAMS.items() if k not in ("actor", "_lastUpdated")},
    },
}
