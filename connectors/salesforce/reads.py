"""The connector's reads: lead and task changes since a cursor (SOQL on ``SystemModstamp``, paged),
and which lead ids still exist."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from connectors.base import Change, TaskChange
from connectors.salesforce import soql
from connectors.salesforce.conversions import _CONVERSION_FIELDS, SalesforceConversions, _conversion, _unique
from connectors.salesforce.tasks import task_change
from nurture.clock import require_aware


class SalesforceReads(SalesforceConversions):
    """Change reads and existence checks."""

    def read_changes(self, since: datetime | None, fields: Sequence[str]) -> Iterator[Change]:
        """Lead records changed since ``since``; a converted lead is read too (once more after its
        conversion), with ``converted`` saying where it went."""
        wanted = [self._name(f, "field") for f in fields]
        if since is not None:
            require_aware(since, "read_changes since")
        conversion = list(_CONVERSION_FIELDS) if self.lead_object == "Lead" else []
        select = _unique(["Id", self.external_id_field, "SystemModstamp", *wanted, *conversion])
        conditions = ["IsPersonAccount = true"] if self.persons else []  # business accounts are not leads
        if since is not None:
            conditions.append(f"SystemModstamp >= {soql.datetime_literal(since)}")
        where = " AND ".join(conditions)
        query = soql.select(select, self.lead_object, where=where, order_by=("SystemModstamp", "Id"))
        return self._changes(query, since, wanted)

    def read_task_changes(self, since: datetime | None) -> Iterator[TaskChange]:
        if since is not None:
            require_aware(since, "read_task_changes since")
        key = self.settings.task_key_field
        where = f"{key} != null"
        if since is not None:
            where += f" AND SystemModstamp >= {soql.datetime_literal(since)}"
        fields = ("Id", key, self._task_link, "Status", "IsClosed", "CallDisposition", "CompletedDateTime")
        query = soql.select((*fields, "SystemModstamp"), "Task", where=where, order_by=("SystemModstamp", "Id"))
        return self._task_changes(query, since)

    def existing(self, crm_ids: Sequence[str]) -> set[str]:
        wanted = [i for i in dict.fromkeys(crm_ids) if soql.is_id(i)]
        found: set[str] = set()
        for chunk in soql.in_chunks(wanted):
            query = soql.select(["Id"], self.lead_object, where=f"Id IN {soql.in_list(chunk)}")
            found.update(str(r["Id"])[:15] for r in self._query(query, f"{self.lead_object} existing"))
        return {i for i in crm_ids if soql.is_id(i) and i[:15] in found}

    def _changes(self, query: str, since: datetime | None, wanted: list[str]) -> Iterator[Change]:
        for records in _pages(self._query(query, f"{self.lead_object} changes"), 200):
            persons = self._person_accounts(
                [str(r["ConvertedAccountId"]) for r in records if r.get("IsConverted") and r.get("ConvertedAccountId")]
            )
            for record in records:
                stamp = soql.parse_datetime(str(record["SystemModstamp"]))
                if since is not None and stamp < since:
                    continue  # the SOQL literal is floored to the second
                values = {k.lower(): v for k, v in record.items() if k != "attributes"}
                external = values.get(self.external_id_field.lower())
                yield Change(
                    crm_id=str(record["Id"]),
                    external_id=str(external) if external is not None else None,
                    modified_at=stamp,
                    fields={name: values.get(name.lower()) for name in wanted},
                    converted=_conversion(record, persons),
                )

    def _task_changes(self, query: str, since: datetime | None) -> Iterator[TaskChange]:
        for record in self._query(query, "Task changes"):
            change = task_change(record, key_field=self.settings.task_key_field)
            if since is None or change.modified_at >= since:
                yield change


def _pages(records: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    page: list[dict[str, Any]] = []
    for record in records:
        page.append(record)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
