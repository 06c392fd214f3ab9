"""Prepare HubSpot's official OpenAPI specs for Prism, at test time, into a scratch folder.

HubSpot does not license its specs for redistribution, so nothing here is a copy: the specs are read
from ``node_modules/@opensdks/sdk-hubspot`` (installed by ``npm ci`` from the committed lockfile) or,
when ``NURTUREHUB_HUBSPOT_SPEC_COLLECTION`` names a checkout of HubSpot/HubSpot-public-api-spec-collection,
from that checkout. The fixes applied, each needed for Prism or for the SDK to be judged fairly:

1. drop ``"example": null`` (Prism's schema compiler rejects it);
2. rename ``*/*`` media types to ``application/json`` (HubSpot answers JSON; Prism can't match ``*/*``);
3. move each spec's server path (``/crm/v4/associations``, ``/oauth``) into its paths and drop
   ``servers``, so one merged document routes every SDK call;
4. relax the ``required`` lists of request schemas to what the pinned SDK's own models require
   (the specs require e.g. ``after``, ``sorts`` and ``associations`` that the SDK rightly omits);
5. add a ``429`` response with the rate-limit body HubSpot documents (``status``, ``message``,
   ``errorType``, ``correlationId``, ``policyName``): the specs give every error the ``Error`` schema,
   which requires a ``category`` the real 429 body does not carry;
6. allow what real responses are seen to carry but the current collection's schemas forbid:
   ``null`` values in ``properties`` (requested but unset; the older npm snapshot says ``nullable``),
   ``"label": null`` on unlabelled association types, and integer ``toObjectId``/``fromObjectId`` in
   associations v4 (the npm snapshot says integer; captured responses show numbers);
7. where the SDK calls a path with a trailing slash (``/crm/v3/owners/``) that a spec has only
   without it, add the slash form as an alias of the same operation.

The specs are merged into one document (Prism proxies one document per process): component names get
the spec's key as prefix, so same-named schemas from different specs cannot collide.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NPM_DIR = REPO / "node_modules" / "@opensdks" / "sdk-hubspot"
PRISM_BIN = REPO / "node_modules" / ".bin" / "prism"
COLLECTION_ENV = "NURTUREHUB_HUBSPOT_SPEC_COLLECTION"

Json = dict[str, Any]

_NPM_FILES = {
    "contacts": "hubspot_crm_contacts.oas.json",
    "objects": "hubspot_crm_objects.oas.json",
    "properties": "hubspot_crm_properties.oas.json",
    "owners": "hubspot_crm_owners.oas.json",
    "associations": "hubspot_crm_crm_associations.oas.json",
    "oauth": "hubspot_auth_oauth.oas.json",
}
_COLLECTION_FILES = {
    "contacts": "PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json",
    "tasks": "PublicApiSpecs/CRM/Tasks/Rollouts/424/v3/tasks.json",
    "objects": "PublicApiSpecs/CRM/Objects/Rollouts/424/v3/objects.json",
    "properties": "PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json",
    "owners": "PublicApiSpecs/CRM/Crm Owners/Rollouts/146888/v3/crmOwners.json",
    "associations": "PublicApiSpecs/CRM/Associations/Rollouts/130902/v4/associations.json",
    "oauth": "PublicApiSpecs/Auth/Oauth/Rollouts/155908/v1/oauth.json",
}
# The SDK package whose models judge each spec's request schemas.
_SDK_MODELS = {
    "contacts": "hubspot.crm.contacts.models",
    "tasks": "hubspot.crm.objects.tasks.models",
    "objects": "hubspot.crm.objects.models",
    "properties": "hubspot.crm.properties.models",
    "owners": "hubspot.crm.owners.models",
    "associations": "hubspot.crm.associations.v4.models",
    "oauth": "hubspot.oauth.models",
}
# The SDK api modules whose every call must exist in a spec (the APIs nurturehub uses).
SDK_API_MODULES = (
    "hubspot.crm.contacts.api.basic_api",
    "hubspot.crm.contacts.api.batch_api",
    "hubspot.crm.contacts.api.search_api",
    "hubspot.crm.objects.tasks.api.basic_api",
    "hubspot.crm.objects.tasks.api.batch_api",
    "hubspot.crm.objects.tasks.api.search_api",
    "hubspot.crm.objects.api.basic_api",
    "hubspot.crm.objects.api.batch_api",
    "hubspot.crm.objects.api.search_api",
    "hubspot.crm.properties.api.core_api",
    "hubspot.crm.properties.api.groups_api",
    "hubspot.crm.owners.api.owners_api",
    "hubspot.crm.associations.v4.api.basic_api",
    "hubspot.crm.associations.v4.api.batch_api",
    "hubspot.oauth.api.tokens_api",
    "hubspot.oauth.api.access_tokens_api",
    "hubspot.oauth.api.refresh_tokens_api",
)
# Calls SDK 12.0.0 makes that a spec source lacks, kept exact so that any change shows up.
# npm: the snapshot in @opensdks/sdk-hubspot 0.0.6 predates batch upsert and the v4 basic API.
# collection: HubSpot's current specs list the owners page as /crm/v3/owners, the SDK calls it with a slash.
KNOWN_GAPS: Mapping[str, frozenset[tuple[str, str]]] = {
    "collection": frozenset({("GET", "/crm/v3/owners/")}),
    "npm": frozenset(
        {
            ("POST", "/crm/v3/objects/contacts/batch/upsert"),
            ("POST", "/crm/v3/objects/tasks/batch/upsert"),
            ("POST", "/crm/v3/objects/{}/batch/upsert"),
            ("PUT", "/crm/v4/objects/{}/{}/associations/{}/{}"),
            ("DELETE", "/crm/v4/objects/{}/{}/associations/{}/{}"),
            ("PUT", "/crm/v4/objects/{}/{}/associations/default/{}/{}"),
            ("GET", "/crm/v4/objects/{}/{}/associations/{}"),
        }
    ),
}

RATE_LIMIT_SCHEMA: Json = {
    "type": "object",
    "description": "HubSpot's documented 429 body (added by tests/contracts/hubspot_spec.py).",
    "required": ["status", "message", "errorType", "correlationId"],
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "message": {"type": "string"},
        "errorType": {"type": "string", "enum": ["RATE_LIMIT"]},
        "correlationId": {"type": "string", "format": "uuid"},
        "policyName": {"type": "string", "enum": ["SECONDLY", "TEN_SECONDLY_ROLLING", "DAILY"]},
    },
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecSource:
    """Where HubSpot's specs are read from.

    Attributes:
        name: ``npm`` (@opensdks/sdk-hubspot) or ``collection`` (a spec-collection checkout).
        files: spec key to file.
    """

    name: str
    files: Mapping[str, Path]

    def __post_init__(self) -> None:
        missing = [str(p) for p in self.files.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"HubSpot spec files missing: {missing}")


def spec_source() -> SpecSource | None:
    """The spec collection named by the environment, else the npm package, else None."""
    root = os.environ.get(COLLECTION_ENV)
    if root:
        return SpecSource(name="collection", files={k: Path(root) / v for k, v in _COLLECTION_FILES.items()})
    if all((NPM_DIR / f).is_file() for f in _NPM_FILES.values()):
        return SpecSource(name="npm", files={k: NPM_DIR / v for k, v in _NPM_FILES.items()})
    return None


# --- fixes ---------------------------------------------------------------------------------------


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def drop_null_examples(spec: Json) -> None:
    """Fix 1: remove every ``"example": null``."""
    for node in _walk(spec):
        if "example" in node and node["example"] is None:
            del node["example"]


def json_media_types(spec: Json) -> None:
    """Fix 2: ``*/*`` request and response bodies become ``application/json``."""
    for node in _walk(spec):
        content = node.get("content")
        if isinstance(content, dict) and "*/*" in content:
            body = content.pop("*/*")
            content.setdefault("application/json", body)


def inline_server_paths(spec: Json) -> None:
    """Fix 3: prefix paths with the server's path and drop ``servers``."""
    servers = spec.pop("servers", None) or [{"url": ""}]
    url = servers[0].get("url", "")
    prefix = re.sub(r"^https?://[^/]+", "", url).rstrip("/")
    if prefix:
        spec["paths"] = {prefix + path: item for path, item in spec["paths"].items()}


def sdk_required(models_module: str, schema_name: str) -> list[str] | None:
    """The JSON names the pinned SDK's model of this schema requires, or None if it has no model."""
    module = importlib.import_module(models_module)
    cls = getattr(module, schema_name, None) or getattr(module, "Model" + schema_name, None)
    if cls is None or not hasattr(cls, "attribute_map"):
        return None
    names = re.findall(r"Invalid value for `(\w+)`, must not be `None`", inspect.getsource(cls))
    return [cls.attribute_map[n] for n in dict.fromkeys(names)]


def _refs(node: Any) -> Iterator[str]:
    for item in _walk(node):
        ref = item.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[1]


def request_schemas(spec: Json) -> set[str]:
    """Schemas reachable from any request body."""
    schemas = spec.get("components", {}).get("schemas", {})
    todo = [
        name
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
        for name in _refs(op.get("requestBody", {}))
    ]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo += list(_refs(schemas[name]))
    return seen


def relax_request_required(spec: Json, models_module: str) -> list[str]:
    """Fix 4: a request schema requires only what both the spec and the SDK's model require.

    Returns:
        ``Schema.field`` for each requirement dropped (for the record).
    """
    dropped: list[str] = []
    schemas = spec.get("components", {}).get("schemas", {})
    for name in sorted(request_schemas(spec)):
        schema = schemas[name]
        required = schema.get("required")
        sdk = sdk_required(models_module, name)
        if not required or sdk is None:
            continue
        kept = [r for r in required if r in sdk]
        dropped += [f"{name}.{r}" for r in required if r not in kept]
        if kept:
            schema["required"] = kept
        else:
            del schema["required"]
    return dropped


def add_rate_limit_responses(spec: Json) -> None:
    """Fix 5: every CRM operation may answer HubSpot's documented 429 body."""
    spec.setdefault("components", {}).setdefault("schemas", {})["RateLimitError"] = copy.deepcopy(RATE_LIMIT_SCHEMA)
    for path, item in spec["paths"].items():
        if not path.startswith("/crm/"):
            continue
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete") and isinstance(op, dict):
                op.setdefault("responses", {})["429"] = {
                    "description": "rate limited",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RateLimitError"}}},
                }


_OBJECT_ID_FIELDS = {
    "MultiAssociatedObjectWithLabel": ("toObjectId",),
    "LabelsBetweenObjectPair": ("fromObjectId", "toObjectId"),
}


def allow_observed_values(spec: Json) -> list[str]:
    """Fix 6: nullable property values and labels, integer association object ids.

    Returns:
        ``Schema.field`` for each schema widened (for the record).
    """
    widened: list[str] = []
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        props = schema.get("properties", {})
        values = props.get("properties", {}).get("additionalProperties")
        if (
            name.startswith("SimplePublic")
            and "Input" not in name
            and isinstance(values, dict)
            and not values.get("nullable")
        ):
            values["nullable"] = True
            widened.append(f"{name}.properties")
        label = props.get("label")
        if name == "AssociationSpecWithLabel" and isinstance(label, dict) and not label.get("nullable"):
            label["nullable"] = True
            widened.append(f"{name}.label")
        for field in _OBJECT_ID_FIELDS.get(name, ()):
            if props.get(field, {}).get("type") == "string":
                props[field] = {"oneOf": [{"type": "string"}, {"type": "integer", "format": "int64"}]}
                widened.append(f"{name}.{field}")
    return widened


def alias_trailing_slashes(spec: Json, calls: set[tuple[str, str]]) -> list[str]:
    """Fix 7: add ``/path/`` where the SDK calls it and the spec has only ``/path``."""
    added: list[str] = []
    for _, path in calls:
        if path.endswith("/") and path not in spec["paths"] and path.rstrip("/") in spec["paths"]:
            spec["paths"][path] = copy.deepcopy(spec["paths"][path.rstrip("/")])
            added.append(path)
    return added


def prefix_components(spec: Json, key: str) -> None:
    """Give every component (but security schemes) the spec's key as prefix, rewriting ``$ref``s."""
    components = spec.get("components", {})
    for kind, items in list(components.items()):
        if kind == "securitySchemes" or not isinstance(items, dict):
            continue
        components[kind] = {f"{key}__{name}": value for name, value in items.items()}
    for node in _walk(spec):
        ref = node.get("$ref")
        if (
            isinstance(ref, str)
            and ref.startswith("#/components/")
            and not ref.startswith("#/components/securitySchemes")
        ):
            head, _, name = ref.rpartition("/")
            node["$ref"] = f"{head}/{key}__{name}"


def prepare_one(spec: Json, key: str) -> tuple[Json, list[str]]:
    """Apply every fix to one spec (a copy); answers it and the dropped requirements."""
    prepared = copy.deepcopy(spec)
    drop_null_examples(prepared)
    json_media_types(prepared)
    inline_server_paths(prepared)
    dropped = relax_request_required(prepared, _SDK_MODELS[key])
    dropped += [f"widened {w}" for w in allow_observed_values(prepared)]
    dropped += [f"aliased {a}" for a in alias_trailing_slashes(prepared, sdk_calls())]
    add_rate_limit_responses(prepared)
    prefix_components(prepared, key)
    return prepared, dropped


def merge(specs: Mapping[str, Json]) -> Json:
    """One OpenAPI document holding every prepared spec's paths and components."""
    merged: Json = {
        "openapi": "3.0.1",
        "info": {"title": "HubSpot APIs used by nurturehub (prepared at test time)", "version": "test"},
        "paths": {},
        "components": {},
    }
    for key, spec in specs.items():
        for path, item in spec["paths"].items():
            if path in merged["paths"]:
                raise ValueError(f"path {path} is in two specs (second: {key})")
            merged["paths"][path] = item
        for kind, items in spec.get("components", {}).items():
            target = merged["components"].setdefault(kind, {})
            for name, value in items.items():
                target.setdefault(name, value)
    return merged


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedSpec:
    """A merged, Prism-ready spec written to disk.

    Attributes:
        path: the JSON file.
        source: where the specs came from (``npm`` or ``collection``).
        document: the merged document.
        dropped_requirements: request-schema requirements relaxed to the SDK's (``Schema.field``).
    """

    path: Path
    source: str
    document: Json
    dropped_requirements: tuple[str, ...]


def prepare(source: SpecSource, out_dir: Path) -> PreparedSpec:
    """Prepare and merge the source's specs into ``out_dir/hubspot-prepared.json``."""
    prepared: dict[str, Json] = {}
    dropped: list[str] = []
    for key, file in source.files.items():
        spec, lost = prepare_one(json.loads(file.read_text(encoding="utf-8")), key)
        prepared[key] = spec
        dropped += [f"{key}: {d}" for d in lost]
    document = merge(prepared)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "hubspot-prepared.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return PreparedSpec(path=path, source=source.name, document=document, dropped_requirements=tuple(dropped))


# --- SDK paths -----------------------------------------------------------------------------------

_CALL = re.compile(r'call_api\(\s*"(?P<path>/[^"]+)",\s*"(?P<method>[A-Z]+)"')


def sdk_calls(modules: tuple[str, ...] = SDK_API_MODULES) -> set[tuple[str, str]]:
    """(METHOD, path with ``{}`` for parameters) for every call the SDK's api modules make."""
    calls: set[tuple[str, str]] = set()
    for name in modules:
        source = inspect.getsource(importlib.import_module(name))
        for match in _CALL.finditer(source):
            calls.add((match["method"], re.sub(r"\{[^}]+\}", "{}", match["path"])))
    return calls


def routed_operations(source: SpecSource) -> set[tuple[str, str]]:
    """(METHOD, path with ``{}``) for every operation of the source's specs, as HubSpot publishes them
    (server paths inlined, nothing else changed)."""
    operations: set[tuple[str, str]] = set()
    for file in source.files.values():
        spec = json.loads(file.read_text(encoding="utf-8"))
        inline_server_paths(spec)
        operations |= spec_operations(spec)
    return operations


def spec_operations(document: Json) -> set[tuple[str, str]]:
    """(METHOD, path with ``{}`` for parameters) for every operation of a prepared document."""
    return {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def covered(call: tuple[str, str], operations: set[tuple[str, str]]) -> bool:
    """Whether a spec operation routes the SDK call (a spec ``{}`` matches any one segment)."""
    method, path = call
    parts = path.lstrip("/").split("/")
    for op_method, op_path in operations:
        op_parts = op_path.lstrip("/").split("/")
        if (
            op_method == method
            and len(op_parts) == len(parts)
            and all(o == p or (o == "{}" and p != "") for o, p in zip(op_parts, parts, strict=True))
        ):
            return True
    return False
