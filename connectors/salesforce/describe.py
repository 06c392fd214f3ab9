"""What an org's objects hold: the describe of an object's fields (cached for ``describe_ttl_s``),
and for Lead the org's ``LeadStatus`` rows in the same Composite call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote_plus

from connectors.base import FieldInfo
from connectors.salesforce import soql
from connectors.salesforce.errors import VendorError, classify
from connectors.salesforce.transport import SalesforceTransport


class SalesforceDescribe(SalesforceTransport):
    """Object describes, cached."""

    def describe(self, object_name: str) -> Mapping[str, FieldInfo]:
        """The object's fields (one call, reused for ``describe_ttl_s``). For Lead, the describe and
        the org's ``LeadStatus`` rows come in one Composite call (one API call): the Status field
        then knows its converted values (``reserved``) and its default."""
        name = self._name(object_name, "object")
        now = self._monotonic()
        with self._lock:
            cached = self._described.get(name)
        if cached is not None and now - cached[0] < self.settings.describe_ttl_s:
            return cached[1]
        fields = self._describe_lead() if name == "Lead" else self._describe_plain(name)
        with self._lock:
            self._described[name] = (now, fields)
        return fields

    def _describe_plain(self, name: str) -> dict[str, FieldInfo]:
        body = self._call(
            f"{name} describe",
            lambda sf: sf.restful(f"sobjects/{name}/describe", timeout=self.settings.timeout_s),
        )
        return _fields_of(body)

    def _describe_lead(self) -> dict[str, FieldInfo]:
        base = f"/services/data/v{self.settings.api_version}"
        query = soql.select(["ApiName", "IsConverted", "IsDefault"], "LeadStatus")
        body = {
            "allOrNone": False,
            "compositeRequest": [
                {"method": "GET", "url": f"{base}/sobjects/Lead/describe", "referenceId": "describe"},
                {"method": "GET", "url": f"{base}/query?q={quote_plus(query)}", "referenceId": "statuses"},
            ],
        }
        timeout = self.settings.timeout_s
        answer = self._call(
            "Lead describe", lambda sf: sf.restful("composite", method="POST", json=body, timeout=timeout)
        )
        parts = {str(r.get("referenceId")): r for r in (answer or {}).get("compositeResponse", [])}
        described = parts.get("describe") or {}
        if described.get("httpStatusCode") != 200:
            error = VendorError.of(int(described.get("httpStatusCode") or 500), described.get("body"))
            raise self._translate(classify(error), error, "Lead describe")
        fields = _fields_of(described.get("body"))
        statuses = parts.get("statuses") or {}
        status = fields.get("Status")
        if status is not None and statuses.get("httpStatusCode") == 200:
            rows = (statuses.get("body") or {}).get("records", [])
            reserved = tuple(str(r["ApiName"]) for r in rows if r.get("IsConverted"))
            default = next((str(r["ApiName"]) for r in rows if r.get("IsDefault")), status.default)
            fields["Status"] = replace(status, reserved=reserved, default=default)
        return fields


def _fields_of(body: Any) -> dict[str, FieldInfo]:
    fields: dict[str, FieldInfo] = {}
    for raw in (body or {}).get("fields", []):
        info = soql.field_info(raw)
        fields[info.name] = info
    return fields
