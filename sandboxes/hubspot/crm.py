"""HubSpot CRM object semantics for the sandbox: property validation, create/update/upsert/archive,
reads by id or unique property, search (filters, sorts, paging, the 10,000 cap) and the JSON shapes
the SDK's models expect. No HTTP here: ``server`` (and its mixins) parses requests and calls these methods.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sandboxes.hubspot.model import (
    CONTACTS,
    HubSpotError,
    ObjectType,
    PropertyProblem,
    association_by_id,
    iso_ms,
    not_found,
    options_listing,
    parse_datetime_ms,
    property_values_error,
    validation_error,
)
from sandboxes.hubspot.store import Association, CrmObject, HubSpotStore

__all__ = ["SEARCH_MAX_LIMIT", "SEARCH_RESULT_CAP", "Crm"]

Json = dict[str, Any]

SEARCH_MAX_LIMIT = 200
SEARCH_DEFAULT_LIMIT = 10
SEARCH_RESULT_CAP = 10_000
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS_TOTAL = 25
BATCH_MAX_INPUTS = 100
MAX_UNIQUE_PROPERTIES = 10

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TOKEN_SPLIT = re.compile(r"[^0-9a-z@._+-]+")
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationInput:
    """One inline association of a create: the target record and the association types.

    Attributes:
        to_id: the target record id.
        types: (category, type id) pairs.
    """

    to_id: int
    types: tuple[tuple[str, int], ...]


def _as_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_int_id(raw: Any) -> int | None:
    text = str(raw).strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


class Crm:
    """CRM semantics over the store for one portal.

    Args:
        store: the portal's state.
        portal_id: the portal (hub) id, quoted in some error messages.
        unique_property_objects: object types on which ``hasUniqueValue`` properties may be created.
    """

    def __init__(self, store: HubSpotStore, *, portal_id: int, unique_property_objects: Collection[str]) -> None:
        self.store = store
        self.portal_id = portal_id
        self.unique_property_objects = frozenset(unique_property_objects)

    # --- rendering ------------------------------------------------------------------------------

    def always_included(self, ot: ObjectType) -> tuple[str, ...]:
        """Properties every read answers with, whatever was asked."""
        return (ot.created_property, ot.modified_property, "hs_object_id")

    def render(
        self,
        ot: ObjectType,
        obj: CrmObject,
        properties: Sequence[str] | None,
        *,
        extra: Iterable[str] = (),
    ) -> Json:
        """``SimplePublicObject``: id, properties (requested ones, null when unset), timestamps, archived."""
        names = list(properties) if properties else list(ot.default_properties)
        names += [n for n in extra if n not in names]
        names += [n for n in self.always_included(ot) if n not in names]
        known = self.store.property_defs(ot.name)
        values: dict[str, str | None] = {}
        for name in names:
            if name in known:
                values[name] = obj.properties.get(name)
        body: Json = {
            "id": str(obj.id),
            "properties": values,
            "createdAt": iso_ms(obj.created_ms),
            "updatedAt": iso_ms(obj.updated_ms),
            "archived": obj.archived,
        }
        if obj.archived and obj.archived_ms is not None:
            body["archivedAt"] = iso_ms(obj.archived_ms)
        return body

    def render_written(self, ot: ObjectType, obj: CrmObject, written: Iterable[str]) -> Json:
        """What a write answers with: the properties it set plus the always-included ones."""
        return self.render(ot, obj, [n for n in written if n in obj.properties] or list(self.always_included(ot)))

    # --- validation -----------------------------------------------------------------------------

    def _check_values(self, ot: ObjectType, raw: Mapping[str, Any]) -> dict[str, str]:
        """Validate and normalise input values; raises HubSpot's 400 listing every bad property."""
        defs = self.store.property_defs(ot.name)
        owners = {o["id"] for o in self.store.owners()}
        problems: list[PropertyProblem] = []
        clean: dict[str, str] = {}
        for name, given in raw.items():
            value = _as_string(given)
            definition = defs.get(name)
            if definition is None:
                problems.append(
                    PropertyProblem(
                        name=name, code="PROPERTY_DOESNT_EXIST", message=f'Property "{name}" does not exist'
                    )
                )
                continue
            if definition["modificationMetadata"].get("readOnlyValue"):
                problems.append(
                    PropertyProblem(
                        name=name,
                        code="READ_ONLY_VALUE",
                        message=f"{name} is a read only property; its value cannot be set.",
                    )
                )
                continue
            if value == "":
                clean[name] = ""
                continue
            problem, normalised = self._check_value(name, value, definition, owners)
            if problem is not None:
                problems.append(problem)
            else:
                clean[name] = normalised
        if problems:
            raise property_values_error(problems, self.portal_id)
        return clean

    def _check_value(
        self, name: str, value: str, definition: Json, owners: Collection[str]
    ) -> tuple[PropertyProblem | None, str]:
        kind = definition["type"]
        if kind == "enumeration":
            if definition.get("referencedObjectType") == "OWNER":
                if value not in owners:
                    return PropertyProblem(
                        name=name, code="INVALID_OWNER_ID", message=f"{value} is not a valid owner id"
                    ), value
                return None, value
            allowed = {o["value"] for o in definition.get("options", [])}
            chosen = value.split(";") if definition.get("fieldType") == "checkbox" else [value]
            for item in chosen:
                if item not in allowed:
                    message = f"{item} was not one of the allowed options: {options_listing(definition['options'])}"
                    return PropertyProblem(name=name, code="INVALID_OPTION", message=message), value
            return None, value
        if kind == "number":
            try:
                number = float(value)
            except ValueError:
                return PropertyProblem(
                    name=name, code="INVALID_INTEGER", message=f"{value} is not a valid number"
                ), value
            return None, (str(int(number)) if number.is_integer() and "." not in value else value)
        if kind in ("datetime", "date"):
            ms = parse_datetime_ms(value)
            if ms is None:
                return PropertyProblem(name=name, code="INVALID_DATE", message=f"{value} is not a valid date"), value
            return None, (iso_ms(ms) if kind == "datetime" else iso_ms(ms)[:10])
        if kind == "bool":
            lowered = value.lower()
            if lowered not in ("true", "false"):
                return PropertyProblem(
                    name=name, code="INVALID_BOOLEAN", message=f"{value} is not a valid boolean"
                ), value
            return None, lowered
        if name == "email":
            if not _EMAIL.match(value):
                return PropertyProblem(
                    name=name, code="INVALID_EMAIL", message=f"Email address {value} is invalid"
                ), value
            return None, value.strip().lower()
        return None, value

    def _check_unique(
        self,
        ot: ObjectType,
        values: Mapping[str, str],
        own_id: int | None,
        staged: Mapping[tuple[str, str], int],
    ) -> None:
        for name, value in values.items():
            if not value or not self._is_unique(ot, name):
                continue
            key = (name, value.lower() if name == "email" else value)
            existing = self.store.lookup(ot.name, name, value)
            clash = existing.id if existing is not None and existing.id != own_id else None
            if clash is None and staged.get(key, own_id) != own_id:
                clash = staged[key]
            if clash is None:
                continue
            if ot.name == "contacts" and name == "email":
                raise HubSpotError.of(409, "CONFLICT", f"Contact already exists. Existing ID: {clash}")
            raise HubSpotError.of(
                409,
                "CONFLICT",
                f"A {ot.singular} with the unique value '{value}' for property '{name}' already exists. "
                f"Existing ID: {clash}",
            )

    def _is_unique(self, ot: ObjectType, name: str) -> bool:
        if ot.name == "contacts" and name == "email":
            return True
        definition = self.store.property_defs(ot.name).get(name)
        return bool(definition and definition.get("hasUniqueValue"))

    def check_id_property(self, ot: ObjectType, id_property: str) -> None:
        """HubSpot's 400 unless ``id_property`` names a unique property (or email, for contacts)."""
        if id_property == "hs_object_id":
            return
        if not self._is_unique(ot, id_property):
            raise validation_error(
                f"Unable to perform update/upsert by non-unique {ot.type_id} property {id_property} "
                f"in portal ID {self.portal_id}"
            )

    # --- writes ---------------------------------------------------------------------------------

    def _system_values(self, ot: ObjectType, obj_id: int, now: int, created: int | None) -> dict[str, str]:
        values = {ot.modified_property: iso_ms(now), "hs_object_id": str(obj_id)}
        if created is not None:
            values[ot.created_property] = iso_ms(created)
        return values

    def _apply(self, ot: ObjectType, base: Mapping[str, str], changes: Mapping[str, str], now: int) -> dict[str, str]:
        merged = dict(base)
        for name, value in changes.items():
            if value == "":
                merged.pop(name, None)
            else:
                merged[name] = value
        if ot.name == "tasks":
            was_done = base.get("hs_task_status") == "COMPLETED"
            is_done = merged.get("hs_task_status") == "COMPLETED"
            if is_done and not was_done:
                merged["hs_task_completion_date"] = iso_ms(now)
            elif was_done and not is_done:
                merged.pop("hs_task_completion_date", None)
        return merged

    def _new_object(self, ot: ObjectType, obj_id: int, values: Mapping[str, str], now: int) -> CrmObject:
        missing = [n for n in ot.required_on_create if not values.get(n)]
        if missing:
            raise property_values_error(
                [
                    PropertyProblem(name=n, code="REQUIRED_PROPERTY", message=f"Property {n} is required")
                    for n in missing
                ],
                self.portal_id,
            )
        merged = self._apply(ot, {}, values, now)
        merged.update(self._system_values(ot, obj_id, now, None))
        merged.setdefault(ot.created_property, iso_ms(now))
        return CrmObject(object_type=ot.name, id=obj_id, properties=merged, created_ms=now, updated_ms=now)

    def create_many(
        self,
        ot: ObjectType,
        inputs: Sequence[tuple[Mapping[str, Any], Sequence[AssociationInput]]],
    ) -> list[CrmObject]:
        """Create records all-or-nothing (HubSpot validates a batch create as a whole)."""
        with self.store.tx():
            checked = [(self._check_values(ot, props), assoc) for props, assoc in inputs]
            for _, assoc in checked:
                self._check_associations(ot, assoc)
            ids = self.store.allocate_ids(len(checked))
            now = self.store.stamp()
            staged: dict[tuple[str, str], int] = {}
            created: list[CrmObject] = []
            for obj_id, (values, _) in zip(ids, checked, strict=True):
                self._check_unique(ot, values, obj_id, staged)
                for name, value in values.items():
                    if value and self._is_unique(ot, name):
                        staged[(name, value.lower() if name == "email" else value)] = obj_id
                created.append(self._new_object(ot, obj_id, values, now))
            self.store.write(created)
            links = [
                Association(
                    from_type=ot.name,
                    from_id=obj.id,
                    to_type=self._association_target(ot, type_id),
                    to_id=a.to_id,
                    category=category,
                    type_id=type_id,
                )
                for obj, (_, assoc) in zip(created, checked, strict=True)
                for a in assoc
                for category, type_id in a.types
            ]
            if links:
                self.store.associate(links)
            return created

    def create_each(
        self,
        ot: ObjectType,
        inputs: Sequence[tuple[Mapping[str, Any], Sequence[AssociationInput]]],
    ) -> list[CrmObject | HubSpotError]:
        """Create records one input at a time (HubSpot's multi-status mode): each input is created,
        or answers the error that refused it, without failing the others."""
        with self.store.tx():
            now = self.store.stamp()
            staged: dict[tuple[str, str], int] = {}
            answers: list[CrmObject | HubSpotError] = []
            made: list[tuple[CrmObject, Sequence[AssociationInput]]] = []
            fresh_ids = iter(self.store.allocate_ids(len(inputs)))  # one id per input (a refused one's is unused)
            for props, assoc in inputs:
                obj_id = next(fresh_ids)
                try:
                    values = self._check_values(ot, props)
                    self._check_associations(ot, assoc)
                    self._check_unique(ot, values, obj_id, staged)
                    obj = self._new_object(ot, obj_id, values, now)
                except HubSpotError as error:
                    answers.append(error)
                    continue
                for name, value in values.items():
                    if value and self._is_unique(ot, name):
                        staged[(name, value.lower() if name == "email" else value)] = obj.id
                answers.append(obj)
                made.append((obj, assoc))
            self.store.write(obj for obj, _ in made)
            links = [
                Association(
                    from_type=ot.name, from_id=obj.id, to_type=self._association_target(ot, type_id), to_id=a.to_id,
                    category=category, type_id=type_id,
                )
                for obj, assoc in made
                for a in assoc
                for category, type_id in a.types
            ]  # fmt: skip
            if links:
                self.store.associate(links)
            return answers

    def upsert_each(
        self, ot: ObjectType, inputs: Sequence[tuple[str, str | None, Mapping[str, Any]]]
    ) -> list[tuple[CrmObject, bool, list[str]] | HubSpotError]:
        """Upsert one input at a time (HubSpot's multi-status mode). A request HubSpot refuses as a
        whole (no idProperty, a non-unique one, a key twice) still raises."""
        self._check_upsert_request(ot, inputs)
        with self.store.tx():
            now = self.store.stamp()
            staged: dict[tuple[str, str], int] = {}
            answers: list[tuple[CrmObject, bool, list[str]] | HubSpotError] = []
            fresh_ids = iter(self.store.allocate_ids(len(inputs)))
            for raw_id, id_prop, props in inputs:
                assert id_prop is not None
                try:
                    answer = self._upsert_one(ot, raw_id, id_prop, props, now, staged, fresh_ids)
                except HubSpotError as error:
                    answers.append(error)
                    continue
                answers.append(answer)
            self.store.write(a[0] for a in answers if not isinstance(a, HubSpotError))
            return answers

    def _association_target(self, ot: ObjectType, type_id: int) -> str:
        known = association_by_id(type_id)
        if known is None or known.from_type != ot.name:
            raise validation_error(f"Association type {type_id} does not start at {ot.name}")
        return known.to_type

    def _check_associations(self, ot: ObjectType, assoc: Sequence[AssociationInput]) -> None:
        for a in assoc:
            if not a.types:
                raise validation_error("At least one association type must be provided for each association.")
            for category, type_id in a.types:
                known = association_by_id(type_id)
                if category != "HUBSPOT_DEFINED" or known is None or known.from_type != ot.name:
                    raise validation_error(f"{category} {type_id} is not a valid association type from {ot.singular}.")
                if self.store.get(known.to_type, a.to_id) is None:
                    raise validation_error(
                        f"One or more associations are invalid: {known.to_type} {a.to_id} does not exist."
                    )

    def resolve(self, ot: ObjectType, raw_id: str, id_property: str | None) -> CrmObject | None:
        """The live record a path or input id names, by hs_object_id or a unique property."""
        if id_property and id_property != "hs_object_id":
            self.check_id_property(ot, id_property)
            return self.store.lookup(ot.name, id_property, raw_id)
        obj_id = _parse_int_id(raw_id)
        return self.store.get(ot.name, obj_id) if obj_id is not None else None

    def update_many(
        self, ot: ObjectType, inputs: Sequence[tuple[str, str | None, Mapping[str, Any]]]
    ) -> tuple[list[tuple[CrmObject, list[str]]], list[str]]:
        """Update records; answers the updated ones (with the names written) and the ids not found."""
        with self.store.tx():
            checked = [(raw_id, id_prop, self._check_values(ot, props)) for raw_id, id_prop, props in inputs]
            now = self.store.stamp()
            updated: list[tuple[CrmObject, list[str]]] = []
            missing: list[str] = []
            staged: dict[tuple[str, str], int] = {}
            for raw_id, id_prop, values in checked:
                obj = self.resolve(ot, raw_id, id_prop)
                if obj is None:
                    missing.append(raw_id)
                    continue
                self._check_unique(ot, values, obj.id, staged)
                merged = self._apply(ot, obj.properties, values, now)
                merged.update(self._system_values(ot, obj.id, now, None))
                updated.append((replace(obj, properties=merged, updated_ms=now), list(values)))
            self.store.write(o for o, _ in updated)
            return updated, missing

    def unsubscribe_all(self, raw_id: str) -> None:
        """What HubSpot does when a contact unsubscribes from all email: ``hs_email_optout`` becomes
        true (a read-only property: no API call can set it)."""
        ot = CONTACTS
        with self.store.tx():
            obj = self.resolve(ot, raw_id, None)
            if obj is None:
                raise KeyError(raw_id)
            now = self.store.stamp()
            merged = {**obj.properties, "hs_email_optout": "true", **self._system_values(ot, obj.id, now, None)}
            self.store.write([replace(obj, properties=merged, updated_ms=now)])

    def _check_upsert_request(
        self, ot: ObjectType, inputs: Sequence[tuple[str, str | None, Mapping[str, Any]]]
    ) -> None:
        seen: set[str] = set()
        duplicates: list[str] = []
        for raw_id, id_prop, _ in inputs:
            if not id_prop:
                raise validation_error("idProperty is required for batch upsert")
            self.check_id_property(ot, id_prop)
            key = f"{id_prop}:{raw_id.lower() if id_prop == 'email' else raw_id}"
            if key in seen:
                duplicates.append(raw_id)
            seen.add(key)
        if duplicates:
            raise validation_error(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique")

    def _upsert_one(
        self,
        ot: ObjectType,
        raw_id: str,
        id_prop: str,
        props: Mapping[str, Any],
        now: int,
        staged: dict[tuple[str, str], int],
        fresh_ids: Iterator[int],
    ) -> tuple[CrmObject, bool, list[str]]:
        values = self._check_values(ot, {**props, id_prop: raw_id} if id_prop != "hs_object_id" else props)
        obj = self.resolve(ot, raw_id, id_prop)
        if obj is None:
            if id_prop == "hs_object_id":
                raise not_found()
            new_id = next(fresh_ids)
            self._check_unique(ot, values, new_id, staged)
            answer = (self._new_object(ot, new_id, values, now), True, list(values))
        else:
            self._check_unique(ot, values, obj.id, staged)
            merged = self._apply(ot, obj.properties, values, now)
            merged.update(self._system_values(ot, obj.id, now, None))
            answer = (replace(obj, properties=merged, updated_ms=now), False, list(values))
        for name, value in values.items():
            if value and self._is_unique(ot, name):
                staged[(name, value.lower() if name == "email" else value)] = answer[0].id
        return answer

    def upsert_many(
        self, ot: ObjectType, inputs: Sequence[tuple[str, str | None, Mapping[str, Any]]]
    ) -> list[tuple[CrmObject, bool, list[str]]]:
        """Create or update by a unique ``idProperty``, all or nothing; each result says whether it
        is new."""
        self._check_upsert_request(ot, inputs)
        with self.store.tx():
            now = self.store.stamp()
            staged: dict[tuple[str, str], int] = {}
            results: list[tuple[CrmObject, bool, list[str]]] = []
            fresh_ids = iter(self.store.allocate_ids(sum(1 for r, p, _ in inputs if self.resolve(ot, r, p) is None)))
            for raw_id, id_prop, props in inputs:
                assert id_prop is not None
                results.append(self._upsert_one(ot, raw_id, id_prop, props, now, staged, fresh_ids))
            self.store.write(o for o, _, _ in results)
            return results

    def archive_many(self, ot: ObjectType, raw_ids: Iterable[str]) -> None:
        """Archive records by id; unknown ids are ignored."""
        ids = [i for i in (_parse_int_id(r) for r in raw_ids) if i is not None]
        with self.store.tx():
            self.store.archive(ot.name, ids, self.store.stamp())

    # --- search ---------------------------------------------------------------------------------

    def search(self, ot: ObjectType, body: Mapping[str, Any]) -> Json:
        """``POST .../search``: filterGroups (OR of ANDs), sorts, query, properties, limit, after."""
        limit = body.get("limit", SEARCH_DEFAULT_LIMIT)
        if limit is None:
            limit = SEARCH_DEFAULT_LIMIT
        if not isinstance(limit, int) or limit < 1 or limit > SEARCH_MAX_LIMIT:
            raise validation_error(f"limit must be between 1 and {SEARCH_MAX_LIMIT}, got {limit}")
        after_raw = body.get("after") or "0"
        if not str(after_raw).isdigit():
            raise validation_error(f"Invalid after value: {after_raw}")
        after = int(after_raw)
        if after + limit > SEARCH_RESULT_CAP:
            raise HubSpotError.of(400, "VALIDATION_ERROR", "There was a problem with the request.")
        groups = body.get("filterGroups") or []
        self._check_filter_limits(groups)
        defs = self.store.property_defs(ot.name)
        for group in groups:
            for f in group.get("filters") or []:
                if f.get("propertyName") not in defs or f.get("operator") not in OPERATORS:
                    raise HubSpotError.of(400, "VALIDATION_ERROR", "There was a problem with the request.")
        sorts = [self._sort_spec(s) for s in body.get("sorts") or []]
        for name, _ in sorts:
            if name not in defs:
                raise HubSpotError.of(400, "VALIDATION_ERROR", "There was a problem with the request.")
        query = str(body.get("query") or "").strip().lower()
        matches = [
            o
            for o in self.store.records(ot.name)
            if (not groups or any(self._group_matches(o, g, defs) for g in groups))
            and (not query or self._query_matches(ot, o, query))
        ]
        matches.sort(key=lambda o: o.id)
        for name, descending in reversed(sorts):
            kind = defs[name]["type"]
            present = [o for o in matches if o.properties.get(name)]
            absent = [o for o in matches if not o.properties.get(name)]
            present.sort(key=lambda o: _sort_key(o.properties[name], kind), reverse=descending)
            matches = present + absent
        page = matches[after : after + limit]
        properties = body.get("properties") or None
        result: Json = {"total": len(matches), "results": [self.render(ot, o, properties) for o in page]}
        if after + limit < len(matches):
            result["paging"] = {"next": {"after": str(after + limit)}}
        return result

    def _check_filter_limits(self, groups: Sequence[Any]) -> None:
        if len(groups) > MAX_FILTER_GROUPS:
            raise validation_error(f"Too many filter groups: {len(groups)}. The maximum is {MAX_FILTER_GROUPS}.")
        total = 0
        for group in groups:
            count = len(group.get("filters") or [])
            if count > MAX_FILTERS_PER_GROUP:
                raise validation_error(
                    f"Too many filters in a filter group: {count}. The maximum is {MAX_FILTERS_PER_GROUP}."
                )
            total += count
        if total > MAX_FILTERS_TOTAL:
            raise validation_error(f"Too many filters: {total}. The maximum is {MAX_FILTERS_TOTAL}.")

    @staticmethod
    def _sort_spec(raw: Any) -> tuple[str, bool]:
        if isinstance(raw, Mapping):
            return str(raw.get("propertyName")), str(raw.get("direction", "ASCENDING")).upper() == "DESCENDING"
        text = str(raw)
        return (text[1:], True) if text.startswith("-") else (text, False)

    def _group_matches(self, obj: CrmObject, group: Mapping[str, Any], defs: Mapping[str, Json]) -> bool:
        return all(self._filter_matches(obj, f, defs[f["propertyName"]]["type"]) for f in group.get("filters") or [])

    @staticmethod
    def _filter_matches(obj: CrmObject, f: Mapping[str, Any], kind: str) -> bool:
        operator = f["operator"]
        actual = obj.properties.get(f["propertyName"])
        if operator == "HAS_PROPERTY":
            return bool(actual)
        if operator == "NOT_HAS_PROPERTY":
            return not actual
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            found = bool(actual) and _contains_token(str(actual), str(f.get("value", "")))
            return found if operator == "CONTAINS_TOKEN" else not found
        if operator in ("IN", "NOT_IN"):
            wanted = {_sort_key(str(v), kind) for v in f.get("values") or []}
            inside = actual is not None and _sort_key(actual, kind) in wanted
            return inside if operator == "IN" else not inside
        if operator == "NEQ":
            return actual is None or _sort_key(actual, kind) != _sort_key(str(f.get("value", "")), kind)
        if actual is None:
            return False
        have = _sort_key(actual, kind)
        want = _sort_key(str(f.get("value", "")), kind)
        if operator == "EQ":
            return have == want
        if operator == "BETWEEN":
            high = _sort_key(str(f.get("highValue", "")), kind)
            return _compare(want, have) and _compare(have, high)
        if type(have) is not type(want):
            return False
        return {
            "LT": lambda: have < want,  # type: ignore[operator]
            "LTE": lambda: have <= want,  # type: ignore[operator]
            "GT": lambda: have > want,  # type: ignore[operator]
            "GTE": lambda: have >= want,  # type: ignore[operator]
        }[operator]()

    def _query_matches(self, ot: ObjectType, obj: CrmObject, query: str) -> bool:
        words = query.split()
        haystack = [obj.properties.get(n, "").lower() for n in ot.search_text_properties]
        tokens = [t for h in haystack for t in [h, *_TOKEN_SPLIT.split(h)] if t]
        return all(any(t.startswith(w) for t in tokens) for w in words)

    # --- listing --------------------------------------------------------------------------------

    def page(self, ot: ObjectType, *, limit: int, after: int, archived: bool) -> tuple[list[CrmObject], int | None]:
        """One page of ``GET /crm/v3/objects/{type}`` and the next cursor."""
        items = self.store.records(ot.name, archived=archived)
        chosen = [o for o in items if o.id > after][:limit]
        more = len([o for o in items if o.id > after]) > limit
        return chosen, (chosen[-1].id if more and chosen else None)


def _sort_key(value: str, kind: str) -> float | str:
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value.lower()
    if kind in ("datetime", "date"):
        ms = parse_datetime_ms(value)
        return float(ms) if ms is not None else value.lower()
    return value.lower()


def _compare(low: float | str, high: float | str) -> bool:
    if type(low) is not type(high):
        return False
    return low <= high  # type: ignore[operator]


def _contains_token(actual: str, pattern: str) -> bool:
    text = actual.lower()
    wanted = pattern.lower()
    tokens = [text, *(t for t in _TOKEN_SPLIT.split(text) if t)]
    if "@" in text:
        local, _, domain = text.partition("@")
        tokens += [local, domain]
    return any(fnmatch.fnmatchcase(t, wanted) for t in tokens)
