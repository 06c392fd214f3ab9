"""The FHIR sandbox's search: each profile's search parameters, Bundle paging through ``next`` links,
sorting, and the narrowing an Appointment search must have.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from sandboxes.fhir.model import (
    APPOINTMENT_NARROWING,
    DEFAULT_COUNT,
    MAX_COUNT,
    FhirError,
    Json,
    _date_filter,
    _instant,
    _ref_id,
    _token,
)
from sandboxes.fhir.state import FhirState

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


class SearchMixin(FhirState):
    """Type searches (``GET /fhir/<type>?...``) as each profile allows them."""

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
