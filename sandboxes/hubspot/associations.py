"""The HubSpot sandbox's associations v4 API: default and labelled associations between records,
listing them, and their batch endpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from werkzeug.wrappers import Request, Response

from sandboxes.hubspot.model import (
    HubSpotError,
    ObjectType,
    association_by_id,
    default_association,
    not_found,
    validation_error,
)
from sandboxes.hubspot.state import HubSpotState, Json, _Caller, _int_arg, _json, _object_type
from sandboxes.hubspot.store import Association, CrmObject


def _group_links(links: Sequence[Association]) -> list[Json]:
    grouped: dict[int, list[Json]] = {}
    for a in links:
        grouped.setdefault(a.to_id, []).append({"category": a.category, "typeId": a.type_id, "label": a.label})
    return [{"toObjectId": to_id, "associationTypes": types} for to_id, types in sorted(grouped.items())]


class AssociationsMixin(HubSpotState):
    """``/crm/v4/objects/...associations`` and ``/crm/v4/associations``."""

    # --- associations v4 ------------------------------------------------------------------------

    def _pair(
        self, from_raw: str, from_id: str, to_raw: str, to_id: str
    ) -> tuple[ObjectType, CrmObject, ObjectType, CrmObject]:
        from_t, to_t = _object_type(from_raw), _object_type(to_raw)
        source = self.crm.resolve(from_t, from_id, None)
        target = self.crm.resolve(to_t, to_id, None)
        if source is None or target is None:
            missing = from_id if source is None else to_id
            raise HubSpotError.of(
                400,
                "VALIDATION_ERROR",
                f"No {(from_t if source is None else to_t).singular} with ID {missing} exists",
            )
        return from_t, source, to_t, target

    def _h_assoc_default(
        self, request: Request, *, caller: _Caller, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> Response:
        started = self._started()
        result = self._associate_default(from_type, from_id, to_type, to_id)
        return _json(self._batch_envelope(started, result, []))

    def _associate_default(self, from_raw: str, from_id: str, to_raw: str, to_id: str) -> list[Json]:
        from_t, source, to_t, target = self._pair(from_raw, from_id, to_raw, to_id)
        kind = default_association(from_t.name, to_t.name)
        if kind is None:
            raise validation_error(f"No default association type between {from_t.name} and {to_t.name}")
        self.store.associate(
            [
                Association(
                    from_type=from_t.name,
                    from_id=source.id,
                    to_type=to_t.name,
                    to_id=target.id,
                    category="HUBSPOT_DEFINED",
                    type_id=kind.type_id,
                )
            ]
        )
        return [
            {
                "from": {"id": str(source.id)},
                "to": {"id": str(target.id)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": kind.type_id,
                },
            },
            {
                "from": {"id": str(target.id)},
                "to": {"id": str(source.id)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": kind.inverse_id,
                },
            },
        ]

    def _h_assoc_pair(
        self, request: Request, *, caller: _Caller, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> Response:
        from_t, source, to_t, target = self._pair(from_type, from_id, to_type, to_id)
        if request.method == "DELETE":
            self.store.unassociate(from_t.name, source.id, to_t.name, target.id)
            return Response(status=204)
        specs = self._body(request)
        if not isinstance(specs, list) or not specs:
            raise validation_error("A list of association types is required")
        links = [self._link(from_t, source.id, to_t, target.id, spec) for spec in specs]
        self.store.associate(links)
        return _json(self._labels_between(from_t, source.id, to_t, target.id), 201)

    def _link(self, from_t: ObjectType, from_id: int, to_t: ObjectType, to_id: int, spec: Any) -> Association:
        if not isinstance(spec, dict):
            raise validation_error("Invalid association spec")
        category = str(spec.get("associationCategory", ""))
        raw_type = spec.get("associationTypeId")
        known = association_by_id(raw_type) if isinstance(raw_type, int) else None
        if (
            category != "HUBSPOT_DEFINED"
            or known is None
            or (known.from_type, known.to_type) != (from_t.name, to_t.name)
        ):
            raise validation_error(
                f"{category} {raw_type} is not a valid association type between {from_t.name} and {to_t.name}"
            )
        return Association(
            from_type=from_t.name,
            from_id=from_id,
            to_type=to_t.name,
            to_id=to_id,
            category=category,
            type_id=known.type_id,
        )

    def _labels_between(self, from_t: ObjectType, from_id: int, to_t: ObjectType, to_id: int) -> Json:
        links = [a for a in self.store.associations(from_t.name, from_id, to_t.name) if a.to_id == to_id]
        return {
            "fromObjectTypeId": from_t.type_id,
            "fromObjectId": from_id,
            "toObjectTypeId": to_t.type_id,
            "toObjectId": to_id,
            "labels": [a.label for a in links if a.label],
        }

    def _h_assoc_list(
        self, request: Request, *, caller: _Caller, from_type: str, from_id: str, to_type: str
    ) -> Response:
        from_t, to_t = _object_type(from_type), _object_type(to_type)
        source = self.crm.resolve(from_t, from_id, None)
        if source is None:
            raise not_found()
        limit = _int_arg(request, "limit", 500, maximum=500)
        after = _int_arg(request, "after", 0)
        grouped = _group_links(self.store.associations(from_t.name, source.id, to_t.name))
        chosen = [g for g in grouped if g["toObjectId"] > after][:limit]
        result: Json = {"results": chosen}
        if chosen and grouped[-1]["toObjectId"] > chosen[-1]["toObjectId"]:
            result["paging"] = {"next": {"after": str(chosen[-1]["toObjectId"])}}
        return _json(result)

    def _h_assoc_batch_read(self, request: Request, *, caller: _Caller, from_type: str, to_type: str) -> Response:
        from_t, to_t = _object_type(from_type), _object_type(to_type)
        inputs = self._inputs(self._body(request))
        started = self._started()
        results: list[Json] = []
        empty: list[str] = []
        for item in inputs:
            raw_id = str(item.get("id", "")) if isinstance(item, dict) else ""
            source = self.crm.resolve(from_t, raw_id, None)
            grouped = _group_links(self.store.associations(from_t.name, source.id, to_t.name)) if source else []
            if grouped:
                results.append({"from": {"id": raw_id}, "to": grouped})
            else:
                empty.append(raw_id)
        errors = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": f"No {to_t.singular} is associated with {from_t.singular} {raw_id}.",
                "context": {"fromObjectId": [raw_id]},
                "errors": [],
                "links": {},
            }
            for raw_id in empty
        ]
        return _json(self._batch_envelope(started, results, errors), 207 if errors else 200)

    def _h_assoc_batch_default(self, request: Request, *, caller: _Caller, from_type: str, to_type: str) -> Response:
        inputs = self._inputs(self._body(request))
        started = self._started()
        results: list[Json] = []
        for item in inputs:
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            results += self._associate_default(from_type, from_id, to_type, to_id)
        return _json(self._batch_envelope(started, results, []))

    def _h_assoc_batch_create(self, request: Request, *, caller: _Caller, from_type: str, to_type: str) -> Response:
        inputs = self._inputs(self._body(request))
        started = self._started()
        results: list[Json] = []
        for item in inputs:
            from_t, source, to_t, target = self._pair(
                from_type,
                str((item.get("from") or {}).get("id", "")),
                to_type,
                str((item.get("to") or {}).get("id", "")),
            )
            self.store.associate([self._link(from_t, source.id, to_t, target.id, s) for s in item.get("types") or []])
            results.append(self._labels_between(from_t, source.id, to_t, target.id))
        return _json(self._batch_envelope(started, results, []), 201)

    def _h_assoc_batch_archive(self, request: Request, *, caller: _Caller, from_type: str, to_type: str) -> Response:
        from_t, to_t = _object_type(from_type), _object_type(to_type)
        for item in self._inputs(self._body(request)):
            source = self.crm.resolve(from_t, str((item.get("from") or {}).get("id", "")), None)
            for to in item.get("to") or []:
                target = self.crm.resolve(to_t, str(to.get("id", "")), None)
                if source is not None and target is not None:
                    self.store.unassociate(from_t.name, source.id, to_t.name, target.id)
        return Response(status=204)
