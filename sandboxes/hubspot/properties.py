"""The HubSpot sandbox's properties API (properties and property groups) and owners API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sandboxes.hubspot.crm import MAX_UNIQUE_PROPERTIES
from sandboxes.hubspot.model import (
    HubSpotError,
    ObjectType,
    iso_ms,
    not_found,
    validation_error,
)
from sandboxes.hubspot.state import HubSpotState, Json, _Caller, _int_arg, _json, _object_type, logger


def _option(raw: Any, order: int) -> Json:
    if not isinstance(raw, dict) or not raw.get("value") or not raw.get("label"):
        raise validation_error("Each option needs a label and a value")
    return {
        "label": raw["label"],
        "value": raw["value"],
        "description": raw.get("description") or "",
        "displayOrder": raw.get("displayOrder", order),
        "hidden": bool(raw.get("hidden")),
    }


def _public_property(definition: Mapping[str, Any]) -> Json:
    return {k: v for k, v in definition.items() if k != "archived" or v}


class PropertiesMixin(HubSpotState):
    """``/crm/v3/properties`` and ``/crm/v3/owners``."""

    # --- properties -----------------------------------------------------------------------------

    def _h_properties(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        if request.method == "GET":
            archived = request.args.get("archived", "false").lower() == "true"
            defs = self.store.property_defs(ot.name, archived=archived)
            return _json({"results": [_public_property(d) for d in defs.values()]})
        body = self._body(request)
        definition = self._new_property(ot, body)
        self.store.put_property(ot.name, definition)
        logger.info("hubspot sandbox: property created on %s", ot.name)
        return _json(_public_property(definition), 201)

    def _new_property(self, ot: ObjectType, body: Any) -> Json:
        if not isinstance(body, dict):
            raise validation_error("Invalid property definition")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}")
        name = str(body["name"])
        existing = {**self.store.property_defs(ot.name), **self.store.property_defs(ot.name, archived=True)}
        if name in existing:
            raise HubSpotError.of(
                409,
                "OBJECT_ALREADY_EXISTS",
                f"Property named '{name}' already exists.",
                sub_category="PROPERTY_EXISTS",
            )
        if body["groupName"] not in self.store.groups(ot.name):
            raise validation_error(f"Property group '{body['groupName']}' does not exist.")
        kind = body["type"]
        if kind not in ("string", "number", "date", "datetime", "enumeration", "bool"):
            raise validation_error(f"Invalid property type: {kind}")
        options = body.get("options") or []
        if kind == "enumeration" and not options and not body.get("externalOptions"):
            raise validation_error("Enumeration properties must have at least one option.")
        unique = bool(body.get("hasUniqueValue"))
        if unique:
            if ot.name not in self.crm.unique_property_objects:
                raise validation_error(f"Unique value properties are not supported for {ot.name}.")
            count = sum(1 for d in self.store.property_defs(ot.name).values() if d.get("hasUniqueValue"))
            if count >= MAX_UNIQUE_PROPERTIES:
                raise validation_error(
                    f"Cannot create more than {MAX_UNIQUE_PROPERTIES} unique value properties for {ot.name}."
                )
            if kind not in ("string", "number"):
                raise validation_error("Only string and number properties can require unique values.")
        now = iso_ms(self.store.now_ms())
        return {
            "name": name,
            "label": body["label"],
            "type": kind,
            "fieldType": body["fieldType"],
            "description": body.get("description") or "",
            "groupName": body["groupName"],
            "options": [_option(o, i) for i, o in enumerate(options)],
            "displayOrder": body.get("displayOrder", -1),
            "calculated": False,
            "externalOptions": bool(body.get("externalOptions")),
            "hasUniqueValue": unique,
            "hidden": bool(body.get("hidden")),
            "hubspotDefined": False,
            "showCurrencySymbol": False,
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
            "formField": bool(body.get("formField")),
            "dataSensitivity": "non_sensitive",
            "createdAt": now,
            "updatedAt": now,
            "createdUserId": "9100101",
            "updatedUserId": "9100101",
            "archived": False,
        }

    def _h_property(self, request: Request, *, caller: _Caller, otype: str, name: str) -> Response:
        ot = _object_type(otype)
        definition = self.store.property_defs(ot.name).get(name)
        if definition is None:
            raise HubSpotError.of(
                404, "OBJECT_NOT_FOUND", f"Unable to find property {name} on object type {ot.type_id}"
            )
        if request.method == "GET":
            return _json(_public_property(definition))
        if definition["modificationMetadata"].get("readOnlyDefinition") and request.method == "DELETE":
            raise validation_error(f"Property {name} is a HubSpot-defined property and cannot be archived.")
        if request.method == "DELETE":
            self.store.put_property(
                ot.name, {**definition, "archived": True, "archivedAt": iso_ms(self.store.now_ms())}
            )
            return Response(status=204)
        body = self._body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid property update")
        updated = dict(definition)
        for key in (
            "label",
            "description",
            "groupName",
            "hidden",
            "displayOrder",
            "formField",
            "fieldType",
            "type",
        ):
            if key in body and body[key] is not None:
                updated[key] = body[key]
        if "options" in body and body["options"] is not None:
            updated["options"] = [_option(o, i) for i, o in enumerate(body["options"])]
        if updated["groupName"] not in self.store.groups(ot.name):
            raise validation_error(f"Property group '{updated['groupName']}' does not exist.")
        updated["updatedAt"] = iso_ms(self.store.now_ms())
        self.store.put_property(ot.name, updated)
        return _json(_public_property(updated))

    def _h_groups(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        if request.method == "GET":
            return _json({"results": list(self.store.groups(ot.name).values())})
        body = self._body(request)
        if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
            raise validation_error("name and label are required")
        if body["name"] in self.store.groups(ot.name):
            raise HubSpotError.of(409, "OBJECT_ALREADY_EXISTS", f"Property group '{body['name']}' already exists.")
        group = {
            "name": body["name"],
            "label": body["label"],
            "displayOrder": body.get("displayOrder", -1),
            "archived": False,
        }
        self.store.put_group(ot.name, group)
        return _json(group, 201)

    def _h_group(self, request: Request, *, caller: _Caller, otype: str, name: str) -> Response:
        ot = _object_type(otype)
        group = self.store.groups(ot.name).get(name)
        if group is None:
            raise not_found()
        return _json(group)

    # --- owners ---------------------------------------------------------------------------------

    def _h_owners(self, request: Request, *, caller: _Caller) -> Response:
        owners = [o for o in self.store.owners() if not o["archived"]]
        email = request.args.get("email")
        if email:
            owners = [o for o in owners if o["email"].lower() == email.lower()]
        limit = _int_arg(request, "limit", 100, maximum=500)
        after = _int_arg(request, "after", 0)
        chosen = [o for o in owners if int(o["id"]) > after][:limit]
        result: Json = {"results": chosen}
        if chosen and any(int(o["id"]) > int(chosen[-1]["id"]) for o in owners):
            after_id = chosen[-1]["id"]
            link = f"{request.host_url.rstrip('/')}/crm/v3/owners/?" + urlencode({"after": after_id, "limit": limit})
            result["paging"] = {"next": {"after": after_id, "link": link}}
        return _json(result)

    def _h_owner(self, request: Request, *, caller: _Caller, owner_id: str) -> Response:
        by_user = request.args.get("idProperty") == "userId"
        for owner in self.store.owners():
            if (str(owner["userId"]) if by_user else owner["id"]) == owner_id:
                return _json(owner)
        raise not_found()
