"""Reading FHIR resources into plain values: a ``Schedule`` with its service, provider, location,
languages and telehealth (:class:`_Schedule`), instants, references, a CapabilityStatement's
resources, a Bundle's entries, practitioner languages and virtual locations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.scheduling.fhir.settings import BCP47, PHYSICAL_TYPE
from nurture.errors import FatalError


@dataclass(frozen=True, slots=True)
class _Schedule:
    id: str
    services: tuple[str, ...]
    provider: str | None
    location: str | None  # the hub's id
    languages: frozenset[str]
    telehealth: bool


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise FatalError(f"fhir: the server sent a time without a zone ({value!r})")
    return parsed


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ref_id(reference: str, rtype: str) -> str | None:
    marker = f"{rtype}/"
    if marker not in reference:
        return None
    return reference.rsplit(marker, 1)[1].split("/")[0] or None


def _resources(statement: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The server-mode resources of a CapabilityStatement, by type."""
    return {
        str(r.get("type")): r
        for rest in statement.get("rest", [])
        if rest.get("mode", "server") == "server"
        for r in rest.get("resource", [])
    }


def _bundle_resources(bundle: Mapping[str, Any], rtype: str) -> list[dict[str, Any]]:
    if bundle.get("resourceType") != "Bundle":
        raise FatalError(f"fhir: an operation answered a {bundle.get('resourceType')} instead of a Bundle")
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == rtype
    ]


def _languages(practitioner: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(
        str(c["code"]).split("-")[0].lower()
        for comm in practitioner.get("communication", [])
        for c in comm.get("coding", [])
        if c.get("system") == BCP47 and c.get("code")
    )


def _virtual(location: Mapping[str, Any]) -> bool:
    return any(
        c.get("system") == PHYSICAL_TYPE and c.get("code") == "vi"
        for c in location.get("physicalType", {}).get("coding", [])
    )
