"""Converted leads: a lead Salesforce converted (``IsConverted``) is followed to its Contact and
Account, and :class:`~connectors.base.Conversion` says where it went."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from typing import Any, Final

from connectors.base import Conversion, TaskWrite, WriteOutcome
from connectors.salesforce import soql
from connectors.salesforce.transport import SalesforceTransport
from nurture.errors import ConfigError


class SalesforceConversions(SalesforceTransport):
    """Following converted leads to their contact and account."""

    def _follow_conversions(
        self, outcomes: list[WriteOutcome], *, by: str, tasks: Sequence[TaskWrite] = ()
    ) -> list[WriteOutcome]:
        """Outcomes Salesforce refused with ``CANNOT_UPDATE_CONVERTED_LEAD`` get the conversion
        (one SOQL on Lead for the batch): where the lead went, so the hub stops writing to it and
        sends its tasks to the contact. ``by`` is how the lead is found: its external id (lead
        upserts) or the task's ``WhoId``."""
        refused = [i for i, o in enumerate(outcomes) if o.code == "CANNOT_UPDATE_CONVERTED_LEAD"]
        if not refused or self.lead_object != "Lead":
            return outcomes
        if by == "WhoId":
            wanted = {i: tasks[i].lead_crm_id for i in refused}
            field, column = "Id", "id"
        else:
            wanted = {i: outcomes[i].key for i in refused}
            field, column = self.external_id_field, self.external_id_field.lower()
        found: dict[str, dict[str, Any]] = {}
        for chunk in soql.in_chunks(sorted(set(wanted.values()))):
            query = soql.select(
                _unique(["Id", self.external_id_field, *_CONVERSION_FIELDS]), "Lead",
                where=f"{field} IN {soql.in_list(chunk)} AND IsConverted = true",
            )  # fmt: skip
            for record in self._query(query, "Lead conversions"):
                values = {k.lower(): v for k, v in record.items()}
                key = str(values.get(column) or "")
                found[key[:15] if by == "WhoId" else key] = record
        persons = self._person_accounts(
            [str(r["ConvertedAccountId"]) for r in found.values() if r.get("ConvertedAccountId")]
        )
        out = list(outcomes)
        for i, ref in wanted.items():
            row = found.get(ref[:15] if by == "WhoId" else ref)
            conversion = _conversion(row, persons)
            if row is not None and conversion is not None:
                out[i] = replace(
                    out[i],
                    crm_id=out[i].crm_id or (str(row["Id"]) if by != "WhoId" else None),
                    converted=conversion,
                    retriable=False,
                    message="the lead was converted in Salesforce; it is read-only now",
                )
        return out

    def _person_accounts(self, account_ids: Sequence[str]) -> set[str]:
        """Which of ``account_ids`` are Person Accounts (15-character ids); no call when none."""
        wanted = sorted({a for a in account_ids if soql.is_id(a, "001")})
        found: set[str] = set()
        for chunk in soql.in_chunks(wanted):
            query = soql.select(["Id", "IsPersonAccount"], "Account", where=f"Id IN {soql.in_list(chunk)}")
            try:
                rows = list(self._query(query, "Account person check"))
            except ConfigError:
                return set()  # an org without Person Accounts has no IsPersonAccount field
            found.update(str(r["Id"])[:15] for r in rows if r.get("IsPersonAccount"))
        return found


#: What a converted lead says about its conversion.
_CONVERSION_FIELDS: Final = ("IsConverted", "ConvertedContactId", "ConvertedAccountId", "ConvertedDate")


def _conversion(record: Mapping[str, Any] | None, persons: set[str]) -> Conversion | None:
    """Where a converted lead went, from a Lead row with :data:`_CONVERSION_FIELDS`; None when the
    lead is not converted (or its contact is unknown)."""
    if not record or not record.get("IsConverted") or not record.get("ConvertedContactId"):
        return None
    account = str(record.get("ConvertedAccountId") or "") or None
    converted_on = record.get("ConvertedDate")
    return Conversion(
        contact_id=str(record["ConvertedContactId"]),
        account_id=account,
        person_account=bool(account and account[:15] in persons),
        converted_at=(
            datetime.combine(date.fromisoformat(str(converted_on)[:10]), time_of_day.min, tzinfo=UTC)
            if converted_on
            else None
        ),
    )


def _unique(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out
