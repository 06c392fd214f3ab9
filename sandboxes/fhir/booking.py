"""The FHIR sandbox's booking: Appointment create (conditional by identifier) and update (cancel,
no-show, with ``If-Match``), the Argonaut ``$find``, ``$hold`` and ``$book`` operations, and slots
marked busy or freed as appointments change.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from sandboxes.fhir.calendar import ClinicSchedule
from sandboxes.fhir.model import FhirError, Json, _instant, _key, _parse_instant, _ref_id, _token
from sandboxes.fhir.state import FhirState


class BookingMixin(FhirState):
    """Appointments: create, update, ``$find``, ``$hold`` and ``$book``."""

    _TRANSITIONS: Mapping[str, frozenset[str]] = {
        "proposed": frozenset({"pending", "booked", "cancelled"}),
        "pending": frozenset({"booked", "cancelled"}),
        "booked": frozenset({"arrived", "checked-in", "fulfilled", "cancelled", "noshow"}),
        "arrived": frozenset({"fulfilled"}),
        "checked-in": frozenset({"arrived", "fulfilled"}),
    }

    def set_appointment_status(self, appointment_id: str, status: str) -> Json:
        """Staff change an appointment in the EHR (``noshow``, ``fulfilled``, ``arrived`` …)."""
        with self._state.tx() as conn:
            current = self._load(conn, "Appointment", appointment_id)
            if current is None:
                raise KeyError(appointment_id)
            updated = dict(current, status=status)
            self._apply_status(conn, current, updated)
            return self._write(conn, updated)

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
