"""The FHIR sandbox's shared state: resources in SQLite (read, written, indexed for search), the
registered clients and tokens, and the resources generated from the clinic calendar
(practitioners, locations, services, schedules, slots). The mixins (``auth``, ``search``,
``booking``) are composed into one server class in ``server``.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from joserfc.jwk import KeySet
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandboxes.common import Faults, RequestLog, SqliteState
from sandboxes.fhir.calendar import (
    DEFAULT_CALENDAR,
    ClinicCalendar,
    ClinicLocation,
    ClinicProvider,
    ClinicSchedule,
    ClinicService,
)
from sandboxes.fhir.model import (
    BASE_PATH,
    BCP47,
    FHIR_JSON,
    INTERPRETER_EXTENSION,
    LANGUAGE_NAMES,
    LEAD_SYSTEM,
    NPI,
    PHYSICAL_TYPE,
    PROFILES,
    REQUIREMENT_SYSTEM,
    SERVICE_SYSTEM,
    TOKEN_PATH,
    Clock,
    FhirError,
    Json,
    _instant,
    _key,
    _parse_instant,
    _utc_now,
)


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


class FhirState:
    """The EHR's state that every concern's mixin shares, and the resources generated at start."""

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

    def _base(self, request: Request) -> str:
        return request.host_url.rstrip("/") + BASE_PATH

    def _json(self, body: Json, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        return Response(
            json.dumps(body, ensure_ascii=False), status=status, headers=dict(headers or {}), content_type=FHIR_JSON
        )

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
