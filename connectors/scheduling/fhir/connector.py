"""The FHIR R4 scheduling connector: free ``Slot``s of the EHR's ``Schedule``s, and the
``Appointment``s booked against them (by patients and staff, in the EHR: the hub reads them, it
never books), through the EHR's FHIR API with a SMART Backend Services token.

EHRs offer availability differently, so the connector reads the server's CapabilityStatement
(``/metadata``, cached) and picks an availability *strategy* (``FhirSettings.profile`` can pin one):

==========  ===================================================  ==========================================
strategy    chosen when the CapabilityStatement …                  how slots are found
==========  ===================================================  ==========================================
argonaut    lists Appointment operations ``find`` and ``book``   ``POST Appointment/$find`` → proposed
            (Argonaut Scheduling; Epic-style)                    appointments
slot        lets Slot be searched by ``schedule``                 ``GET Slot?schedule=…&status=free…``
            (R4 core)
oracle      lets Slot be searched by ``service-type`` and         ``GET Slot?service-type=…&start=…``
            ``schedule.actor``, not ``schedule`` (Oracle          (``schedule.actor``, ``-location``)
            Health Millennium-style)
==========  ===================================================  ==========================================

An appointment names its patient by the hub's lead identifier, or by reference (``Patient/<id>``),
whose lead identifier is read once and remembered. No search is unfiltered: appointments are read
per practitioner the clinic books (its schedules, or ``FhirSettings.practitioners``), narrowed by
``_lastUpdated`` or a date window.

How the protocol maps to FHIR R4 (4.0.1), slot strategy:

- ``find_slots``: the ``Schedule``s of the wanted service, location and provider (read once and
  cached with their ``Practitioner`` and ``Location``, resolved by reference: provider languages come
  from ``Practitioner.communication``, telehealth from ``Location.physicalType`` ``vi``), then
  ``GET Slot?schedule=…&status=free&start=ge…&start=lt…&service-type=…`` following the Bundle's
  ``next`` links to the last page. An interpreter booked for a slot is the extension
  ``interpreter_extension`` (``valueCode``: the language).
- ``read_bookings``: ``GET Appointment?_lastUpdated=ge…&_sort=_lastUpdated``, every page.

Authentication (:class:`SmartBackendTokens`): OAuth 2.0 client credentials with Authlib, the client
authenticated by ``private_key_jwt`` (an RS384/ES384 assertion with ``kid``, five-minute expiry and
a fresh ``jti``, as SMART Backend Services require) or by a client secret; the token endpoint comes
from configuration or from ``.well-known/smart-configuration``.

Every failure goes through one table, :data:`RULES` (first match wins)::

    status        action        becomes
    401           REFRESH       a new token once, then ConfigError
    403           CONFIG        ConfigError (scopes or access)
    404, 410      REFUSED       ConfigError (a search: types the server lacks) / unresolved (a reference)
    409, 412, 422 REFUSED       as 404 (the hub only reads: a server answers these to writes)
    429, 5xx      WAIT          Retry-After / backoff, retried, then RetryLater
    other 4xx     FATAL         FatalError: a request we should never have sent

Messages carry resource ids and ``OperationOutcome`` issue codes; diagnostics are cut short. Nothing
here logs PHI (appointments carry the lead id only).

The parts: ``settings`` (:class:`FhirSettings`, scopes, statuses), ``auth`` (the tokens), ``errors``
(the table) and ``resources`` (FHIR resources read into plain values); this module: the connector.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.base import ConnectionStatus, TokenSource
from connectors.limits import TokenBucket
from connectors.scheduling.base import AvailabilityQuery, Booking, Slot
from connectors.scheduling.fhir.errors import Action, _issue, _Refused, classify
from connectors.scheduling.fhir.resources import (
    _bundle_resources,
    _instant,
    _languages,
    _parse_time,
    _ref_id,
    _resources,
    _Schedule,
    _virtual,
)
from connectors.scheduling.fhir.settings import (
    _BOOK,
    _FIND,
    BCP47,
    FHIR_JSON,
    PHYSICAL_TYPE,
    STATUS,
    SYSTEM,
    FhirSettings,
)
from nurture.errors import ConfigError, FatalError, RetryLater

__all__ = ["FhirScheduling"]


class FhirScheduling:
    """A :class:`~connectors.scheduling.SchedulingConnector` for an EHR's FHIR R4 API.

    Args:
        settings: the connection's settings.
        tokens: the access token source (:class:`SmartBackendTokens`; tests may pass static tokens).
        session: the HTTP session (CA bundle, proxies); one is made when None.
        sleep, monotonic: waiting and the rate limiter's clock (tests pass fakes).
        clock: the time of day, for the date window of appointment reads on servers that cannot
            search by ``_lastUpdated`` (tests pass the sandbox's clock).

    Attributes:
        calls: requests sent (tests and metrics count them).
    """

    system = SYSTEM

    def __init__(
        self,
        settings: FhirSettings,
        tokens: TokenSource,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self._clock = clock
        self._capability: tuple[float, dict[str, Any]] | None = None
        self._leads: dict[str, str] = {}  # EHR Patient id → lead id
        self.session = session or requests.Session()
        self._sleep = sleep
        self._monotonic = monotonic
        self._bucket = TokenBucket(settings.requests_per_second, settings.burst, monotonic=monotonic, sleep=sleep)
        self._lock = threading.Lock()
        self._schedules: tuple[float, dict[str, _Schedule]] | None = None
        self._refs: dict[str, tuple[float, dict[str, Any]]] = {}
        self._to_hub_location = {v: k for k, v in settings.locations.items()}
        self._to_hub_service = {v: k for k, v in settings.services.items()}
        self.calls = 0

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    # --- transport ------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        what: str,
    ) -> requests.Response:
        """One call with the rate limit, a token refresh on 401, and retries on 429/5xx/network.

        Raises:
            _Refused: 404, 409, 410, 412 or 422 (the caller translates).
        """
        s = self.settings
        refreshed = False
        attempt = 0
        while True:
            self._bucket.acquire()
            token = self.tokens.token()
            send_headers = {"Accept": FHIR_JSON, "Authorization": f"Bearer {token.access_token}", **(headers or {})}
            if body is not None:
                send_headers["Content-Type"] = FHIR_JSON
            self.calls += 1
            try:
                response = self.session.request(
                    method, url, params=params, json=body, headers=send_headers, timeout=s.timeout_s
                )
            except requests.RequestException as exc:
                attempt = self._wait_or_raise(attempt, f"fhir: {what} failed ({type(exc).__name__})")
                continue
            if response.status_code < 300:
                return response
            action = classify(response.status_code)
            code, diagnostics = _issue(response)
            if action is Action.REFRESH:
                if refreshed:
                    raise ConfigError([f"fhir: {what} was refused after a token refresh (401 {code})"])
                self.tokens.refresh()
                refreshed = True
                continue
            if action is Action.CONFIG:
                raise ConfigError([f"fhir: {what} is not allowed ({response.status_code} {code}); check the scopes"])
            if action is Action.REFUSED:
                raise _Refused(response.status_code, code, diagnostics)
            if action is Action.WAIT:
                failure = f"fhir: {what} failed ({response.status_code} {code})"
                attempt = self._wait_or_raise(attempt, failure, retry_after=response.headers.get("Retry-After"))
                continue
            raise FatalError(f"fhir: {what} was rejected ({response.status_code} {code}: {diagnostics})")

    def _wait_or_raise(self, attempt: int, failure: str, *, retry_after: str | None = None) -> int:
        """Wait before the next try by the retry policy (connectors.limits), or raise RetryLater;
        answers the retries made."""
        self.settings.retry_policy.pause(
            attempt + 1, failure, retry_after=retry_after, bucket=self._bucket, sleep=self._sleep
        )
        return attempt + 1

    def _url(self, path: str) -> str:
        return f"{self.settings.base_url}/{path}"

    def _same_origin(self, url: str) -> bool:
        mine, theirs = urlsplit(self.settings.base_url), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def _search(self, rtype: str, params: Sequence[tuple[str, str]], *, what: str) -> Iterator[dict[str, Any]]:
        """Every resource a search matches, following ``next`` links page by page."""
        url: str | None = self._url(rtype)
        query: Sequence[tuple[str, str]] | None = [*params, ("_count", str(self.settings.page_size))]
        pages = 0
        while url is not None:
            try:
                response = self._request("GET", url, params=query, what=what)
            except _Refused as exc:
                raise ConfigError(
                    [f"fhir: {what} failed ({exc.status} {exc.code}); the server lacks {rtype}"]
                ) from None
            bundle = response.json()
            if bundle.get("resourceType") != "Bundle":
                raise FatalError(f"fhir: {what} answered a {bundle.get('resourceType')} instead of a Bundle")
            for entry in bundle.get("entry", []):
                resource = entry.get("resource")
                if isinstance(resource, dict) and resource.get("resourceType") == rtype:
                    yield resource  # included resources and OperationOutcomes are skipped
            url = next((link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"), None)
            query = None  # a next link carries the whole query
            pages += 1
            if url is not None and (not self._same_origin(url) or pages >= 10_000):
                raise FatalError(f"fhir: {what}: the next link leaves the server or never ends")

    def _read(self, rtype: str, rid: str, *, what: str) -> tuple[dict[str, Any], str | None]:
        response = self._request("GET", self._url(f"{rtype}/{rid}"), what=what)
        return response.json(), response.headers.get("ETag")

    # --- reference data -------------------------------------------------------------------------

    def _by_reference(self, reference: str) -> dict[str, Any] | None:
        """A Practitioner or Location by reference, cached."""
        now = self._monotonic()
        with self._lock:
            cached = self._refs.get(reference)
        if cached is not None and now - cached[0] < self.settings.cache_s:
            return cached[1]
        rtype, _, rid = reference.partition("/")
        try:
            resource, _ = self._read(rtype, rid, what=f"reading {reference}")
        except _Refused:
            return None
        with self._lock:
            self._refs[reference] = (now, resource)
        return resource

    def _hub_location(self, fhir_id: str) -> str:
        return self._to_hub_location.get(fhir_id, fhir_id)

    def _fhir_location(self, hub_id: str) -> str:
        return self.settings.locations.get(hub_id, hub_id)

    def _hub_service(self, code: str) -> str:
        return self._to_hub_service.get(code, code)

    def _fhir_service(self, hub_id: str) -> str:
        return self.settings.services.get(hub_id, hub_id)

    def _service_codes(self, concepts: Any) -> tuple[str, ...]:
        return tuple(
            self._hub_service(str(c["code"]))
            for concept in concepts or []
            for c in concept.get("coding", [])
            if c.get("system") == self.settings.service_system and c.get("code")
        )

    def _catalog(self) -> dict[str, _Schedule]:
        """Active schedules with their provider's languages and location, cached."""
        now = self._monotonic()
        with self._lock:
            cached = self._schedules
        if cached is not None and now - cached[0] < self.settings.cache_s:
            return cached[1]
        out: dict[str, _Schedule] = {}
        for schedule in self._search("Schedule", [("active", "true")], what="reading schedules"):
            provider = location = None
            languages: set[str] = set()
            telehealth = False
            for actor in schedule.get("actor", []):
                reference = str(actor.get("reference", ""))
                if (pid := _ref_id(reference, "Practitioner")) is not None:
                    provider = pid
                    practitioner = self._by_reference(f"Practitioner/{pid}") or {}
                    languages |= {
                        str(c["code"]).split("-")[0].lower()
                        for comm in practitioner.get("communication", [])
                        for c in comm.get("coding", [])
                        if c.get("system") == BCP47 and c.get("code")
                    }
                elif (lid := _ref_id(reference, "Location")) is not None:
                    location = self._hub_location(lid)
                    place = self._by_reference(f"Location/{lid}") or {}
                    telehealth = any(
                        c.get("system") == PHYSICAL_TYPE and c.get("code") == "vi"
                        for c in place.get("physicalType", {}).get("coding", [])
                    )
            out[schedule["id"]] = _Schedule(
                id=schedule["id"],
                services=self._service_codes(schedule.get("serviceType")),
                provider=provider,
                location=location,
                languages=frozenset(languages),
                telehealth=telehealth,
            )
        with self._lock:
            self._schedules = (now, out)
        return out

    # --- the protocol -----------------------------------------------------------------------------

    # --- what the server offers -------------------------------------------------------------

    def capability(self) -> dict[str, Any]:
        """The server's CapabilityStatement (``GET metadata``, cached ``cache_s``)."""
        now = self._monotonic()
        if self._capability is not None and now - self._capability[0] < self.settings.cache_s:
            return self._capability[1]
        response = self._request("GET", self._url("metadata"), what="reading the CapabilityStatement")
        statement: dict[str, Any] = response.json()
        if statement.get("resourceType") != "CapabilityStatement":
            raise FatalError(f"fhir: metadata answered a {statement.get('resourceType')}")
        self._capability = (now, statement)
        return statement

    @property
    def strategy(self) -> str:
        """How availability is found here: ``argonaut``, ``slot`` or ``oracle``.

        Raises:
            ConfigError: the server offers none of them.
        """
        if self.settings.profile != "auto":
            return self.settings.profile
        resources = _resources(self.capability())
        appointment = resources.get("Appointment", {})
        operations = {
            str(o.get("definition", "")).rsplit("/", 1)[-1] or str(o.get("name", ""))
            for o in appointment.get("operation", [])
        } | {f"appointment-{o.get('name')}" for o in appointment.get("operation", [])}
        if {_FIND, _BOOK} <= operations:
            return "argonaut"
        slot_params = {str(p.get("name")) for p in resources.get("Slot", {}).get("searchParam", [])}
        if "schedule" in slot_params:
            return "slot"
        if {"service-type", "schedule.actor"} <= slot_params:
            return "oracle"
        raise ConfigError(
            ["fhir: the server offers neither Appointment/$find + $book nor a Slot search the hub can use; "
             "set [scheduling.fhir] profile if its CapabilityStatement is incomplete"]
        )  # fmt: skip

    def _appointment_params(self) -> set[str]:
        appointment = _resources(self.capability()).get("Appointment", {})
        return {str(p.get("name")) for p in appointment.get("searchParam", [])}

    # --- patients ------------------------------------------------------------------------------

    def _lead_of_patient(self, patient_id: str) -> str | None:
        if patient_id in self._leads:
            return self._leads[patient_id]
        patient = self._by_reference(f"Patient/{patient_id}") or {}
        lead = next(
            (str(i["value"]) for i in patient.get("identifier", []) if i.get("system") == self.settings.lead_system),
            None,
        )
        if lead is not None:
            self._leads[patient_id] = lead
        return lead

    def check(self) -> ConnectionStatus:
        """The server's CapabilityStatement (FHIR 4.0.x) and a token for the configured client."""
        try:
            response = self.session.get(
                self._url("metadata"), headers={"Accept": FHIR_JSON}, timeout=self.settings.timeout_s
            )
        except requests.RequestException as exc:
            return ConnectionStatus(ok=False, detail=f"the FHIR server did not answer ({type(exc).__name__})")
        if response.status_code != 200:
            return ConnectionStatus(ok=False, detail=f"GET metadata answered {response.status_code}")
        capability = response.json()
        version = str(capability.get("fhirVersion", ""))
        if not version.startswith("4.0"):
            return ConnectionStatus(ok=False, detail=f"the server speaks FHIR {version or '?'}, not R4 (4.0.x)")
        try:
            self.tokens.refresh()
        except (ConfigError, RetryLater) as exc:
            return ConnectionStatus(ok=False, detail=str(exc).splitlines()[-1].strip(" -"))
        software = capability.get("software", {}).get("name", "a FHIR server")
        return ConnectionStatus(
            ok=True, detail=f"connected to {software} (FHIR {version}) as {self.settings.client_id}"
        )

    def find_slots(self, query: AvailabilityQuery) -> Iterator[Slot]:
        strategy = self.strategy
        if strategy == "argonaut":
            return self._find_proposed(query)
        catalog = self._catalog()
        wanted = [
            s
            for s in catalog.values()
            if (query.service is None or query.service in s.services)
            and (query.location is None or s.location == query.location)
            and (query.provider is None or s.provider == query.provider)
        ]
        if not wanted:
            return iter(())
        chunks = [wanted[i : i + 20] for i in range(0, len(wanted), 20)]
        streams = [self._slots(chunk, query) for chunk in chunks]
        return heapq.merge(*streams, key=lambda slot: (slot.start, slot.id))

    def _slots(self, schedules: Sequence[_Schedule], query: AvailabilityQuery) -> Iterator[Slot]:
        by_id = {s.id: s for s in schedules}
        window = [("start", f"ge{_instant(query.start)}"), ("start", f"lt{_instant(query.end)}")]
        if self.strategy == "oracle":
            # Oracle Health: by the services the schedules offer, narrowed to their practitioners;
            # only free slots are answered, and a slot names its schedule.
            services = sorted({c for s in schedules for c in s.services})
            params = [
                ("service-type", ",".join(f"{self.settings.service_system}|{self._fhir_service(c)}" for c in services)),
                *window,
            ]
            providers = sorted({s.provider for s in schedules if s.provider})
            if providers:
                params.append(("schedule.actor", ",".join(f"Practitioner/{p}" for p in providers)))
        else:
            params = [("schedule", ",".join(f"Schedule/{s.id}" for s in schedules)), ("status", "free"), *window]
            params.append(("_sort", "start"))
            if query.service is not None:
                params.append(("service-type", f"{self.settings.service_system}|{self._fhir_service(query.service)}"))
        for resource in self._search("Slot", params, what="searching free slots"):
            slot = self._slot(resource, by_id)
            if slot is not None and query.matches(slot):
                yield slot

    def _slot(self, resource: Mapping[str, Any], schedules: Mapping[str, _Schedule]) -> Slot | None:
        schedule = schedules.get(_ref_id(str(resource.get("schedule", {}).get("reference", "")), "Schedule") or "")
        if schedule is None or schedule.location is None:
            return None
        services = self._service_codes(resource.get("serviceType")) or schedule.services
        if not services:
            return None
        interpreters = frozenset(
            str(ext["valueCode"]).lower()
            for ext in resource.get("extension", [])
            if ext.get("url") == self.settings.interpreter_extension and ext.get("valueCode")
        )
        return Slot(
            id=str(resource["id"]),
            system=SYSTEM,
            start=_parse_time(resource["start"]),
            end=_parse_time(resource["end"]),
            service=services[0],
            location=schedule.location,
            provider=schedule.provider,
            languages=schedule.languages,
            interpreter_languages=interpreters,
            telehealth=schedule.telehealth,
            free=resource.get("status") == "free",
        )

    def _find_proposed(self, query: AvailabilityQuery) -> Iterator[Slot]:
        """Argonaut ``Appointment/$find``: the server's proposed appointments are the free slots;
        each slot's id is its proposed appointment's id (what ``$hold`` and ``$book`` take)."""
        params: list[dict[str, Any]] = [
            {"name": "start", "valueDateTime": _instant(query.start)},
            {"name": "end", "valueDateTime": _instant(query.end)},
        ]
        if query.service is not None:
            params.append({"name": "visit-type", "valueString": self._fhir_service(query.service)})
        if query.provider is not None:
            params.append({"name": "practitioner", "valueUri": f"Practitioner/{query.provider}"})
        if query.location is not None:
            params.append({"name": "location-reference", "valueUri": f"Location/{self._fhir_location(query.location)}"})
        response = self._request(
            "POST", self._url("Appointment/$find"), body={"resourceType": "Parameters", "parameter": params},
            what="finding appointments ($find)",
        )  # fmt: skip
        slots = []
        for appointment in _bundle_resources(response.json(), "Appointment"):
            slot = self._proposed_slot(appointment)
            if slot is not None and query.matches(slot):
                slots.append(slot)
        return iter(sorted(slots, key=lambda s: (s.start, s.id)))

    def _proposed_slot(self, appointment: Mapping[str, Any]) -> Slot | None:
        provider = location = None
        languages: frozenset[str] = frozenset()
        telehealth = False
        for participant in appointment.get("participant", []):
            reference = str(participant.get("actor", {}).get("reference", ""))
            if (pid := _ref_id(reference, "Practitioner")) is not None:
                provider = pid
                languages = _languages(self._by_reference(f"Practitioner/{pid}") or {})
            elif (lid := _ref_id(reference, "Location")) is not None:
                location = self._hub_location(lid)
                telehealth = _virtual(self._by_reference(f"Location/{lid}") or {})
        services = self._service_codes(appointment.get("serviceType"))
        if location is None or not services:
            return None
        interpreters = frozenset(
            str(ext["valueCode"]).lower()
            for ext in appointment.get("extension", [])
            if ext.get("url") == self.settings.interpreter_extension and ext.get("valueCode")
        )
        return Slot(
            id=str(appointment["id"]), system=SYSTEM, start=_parse_time(appointment["start"]),
            end=_parse_time(appointment["end"]), service=services[0], location=location, provider=provider,
            languages=languages, interpreter_languages=interpreters, telehealth=telehealth,
        )  # fmt: skip

    def read_bookings(self, since: datetime | None) -> Iterator[Booking]:
        """Appointments of the clinic's practitioners changed since ``since``: by ``_lastUpdated``
        where the server searches by it (every appointment when ``since`` is None), else those
        starting within ``bookings_window_days`` of now (the caller's overlap makes re-reads
        harmless). Never an unfiltered search: the practitioners narrow it."""
        offered = self._appointment_params()
        practitioners = self._practitioners()
        by = "actor" if "actor" in offered else "practitioner"
        if by not in offered:
            raise ConfigError(["fhir: the server cannot search appointments by practitioner"])
        params = [(by, ",".join(f"Practitioner/{p}" for p in practitioners))]
        if "_lastUpdated" in offered:
            params.append(("_sort", "_lastUpdated"))
            if since is not None:
                params.append(("_lastUpdated", f"ge{_instant(since)}"))
        else:
            now, days = self._clock(), timedelta(days=self.settings.bookings_window_days)
            params += [("date", f"ge{_instant(now - days)}"), ("date", f"lt{_instant(now + days)}")]
        bookings = [self._booking(r) for r in self._search("Appointment", params, what="reading changed appointments")]
        if since is not None:
            bookings = [b for b in bookings if b.updated_at >= since]
        yield from sorted(bookings, key=lambda b: (b.updated_at, b.id))

    def _practitioners(self) -> list[str]:
        if self.settings.practitioners:
            return list(self.settings.practitioners)
        if self.strategy == "argonaut":
            raise ConfigError(
                ["fhir: this EHR's schedules cannot be searched; list the practitioners whose appointments the hub "
                 "reads in [scheduling.fhir] practitioners"]
            )  # fmt: skip
        found = sorted({s.provider for s in self._catalog().values() if s.provider})
        if not found:
            raise ConfigError(["fhir: no schedule names a practitioner; set [scheduling.fhir] practitioners"])
        return found

    def _booking(self, resource: Mapping[str, Any]) -> Booking:
        status = STATUS.get(str(resource.get("status")))
        if status is None:
            raise FatalError(f"fhir: Appointment/{resource.get('id')} has an unknown status")
        lead_id = provider = location = None
        telehealth = False
        for participant in resource.get("participant", []):
            actor = participant.get("actor", {})
            ident = actor.get("identifier", {})
            if ident.get("system") == self.settings.lead_system and ident.get("value"):
                lead_id = str(ident["value"])
            reference = str(actor.get("reference", ""))
            if lead_id is None and (patient := _ref_id(reference, "Patient")) is not None:
                lead_id = self._lead_of_patient(patient)  # the EHR's patient carries the lead id
            if (pid := _ref_id(reference, "Practitioner")) is not None:
                provider = pid
            elif (lid := _ref_id(reference, "Location")) is not None:
                location = self._hub_location(lid)
                place = self._by_reference(f"Location/{lid}") or {}
                telehealth = any(
                    c.get("system") == PHYSICAL_TYPE and c.get("code") == "vi"
                    for c in place.get("physicalType", {}).get("coding", [])
                )
        services = self._service_codes(resource.get("serviceType"))
        slots = [_ref_id(str(s.get("reference", "")), "Slot") for s in resource.get("slot", [])]
        interpreter = next(
            (
                str(ext["valueCode"])
                for ext in resource.get("extension", [])
                if ext.get("url") == self.settings.interpreter_extension and ext.get("valueCode")
            ),
            None,
        )
        meta = resource.get("meta", {})
        updated = meta.get("lastUpdated") or resource.get("created") or resource.get("start")
        if not resource.get("start") or not resource.get("end") or not updated:
            raise FatalError(f"fhir: Appointment/{resource.get('id')} lacks its times")
        return Booking(
            id=str(resource["id"]),
            system=SYSTEM,
            status=status,
            start=_parse_time(resource["start"]),
            end=_parse_time(resource["end"]),
            updated_at=_parse_time(updated),
            created_at=_parse_time(resource["created"]) if resource.get("created") else None,
            service=services[0] if services else None,
            location=location,
            provider=provider,
            slot_id=slots[0] if slots else None,
            lead_id=lead_id,
            telehealth=telehealth,
            interpreter_language=interpreter,
        )
