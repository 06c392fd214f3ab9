"""The HubSpot sandbox's state: CRM records, property definitions, associations and OAuth tokens.

SQLite (through the shared (``sandboxes.common``) ``SqliteState``) is the record of truth, so a file-backed sandbox
survives restarts; a write-through copy in memory keeps searches fast. Only this process writes the
database, so the copy never goes stale.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sandboxes.common import SqliteState
from sandboxes.hubspot.model import (
    OBJECT_TYPES,
    SEED_OWNERS,
    association_by_id,
    iso_ms,
    standard_groups,
    standard_properties,
)

__all__ = ["Association", "CrmObject", "HubSpotStore"]

Json = dict[str, Any]
Clock = Callable[[], datetime]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    object_type TEXT NOT NULL, id INTEGER NOT NULL, archived INTEGER NOT NULL,
    created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, archived_ms INTEGER,
    properties TEXT NOT NULL, PRIMARY KEY (object_type, id));
CREATE TABLE IF NOT EXISTS properties (
    object_type TEXT NOT NULL, name TEXT NOT NULL, archived INTEGER NOT NULL, definition TEXT NOT NULL,
    PRIMARY KEY (object_type, name));
CREATE TABLE IF NOT EXISTS property_groups (
    object_type TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL, PRIMARY KEY (object_type, name));
CREATE TABLE IF NOT EXISTS associations (
    from_type TEXT NOT NULL, from_id INTEGER NOT NULL, to_type TEXT NOT NULL, to_id INTEGER NOT NULL,
    category TEXT NOT NULL, type_id INTEGER NOT NULL, label TEXT,
    PRIMARY KEY (from_type, from_id, to_type, to_id, category, type_id));
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS owners (id TEXT PRIMARY KEY, definition TEXT NOT NULL);
"""

_FIRST_ID = 100_001


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmObject:
    """One CRM record as stored.

    Attributes:
        object_type: plural object type name (``contacts``).
        id: the record id (HubSpot's ``hs_object_id``).
        properties: property values as strings; a property without a value is absent.
        created_ms: creation time, ms since the epoch.
        updated_ms: last write time, ms since the epoch.
        archived: whether the record was archived (deleted).
        archived_ms: when it was archived.
    """

    object_type: str
    id: int
    properties: Mapping[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None

    def __post_init__(self) -> None:
        if self.id <= 0:
            raise ValueError(f"CrmObject.id must be positive, got {self.id}")
        if self.updated_ms < self.created_ms:
            raise ValueError(f"CrmObject {self.id}: updated before it was created")


@dataclass(frozen=True, slots=True, kw_only=True)
class Association:
    """One directed association between two records.

    Attributes:
        from_type: plural type of the source record.
        from_id: source record id.
        to_type: plural type of the target record.
        to_id: target record id.
        category: HUBSPOT_DEFINED, USER_DEFINED or INTEGRATOR_DEFINED.
        type_id: the association type id.
        label: the label of a labelled association type, None for unlabelled ones.
    """

    from_type: str
    from_id: int
    to_type: str
    to_id: int
    category: str
    type_id: int
    label: str | None = None


@dataclass(slots=True)
class _Memory:
    objects: dict[str, dict[int, CrmObject]] = field(default_factory=dict)
    unique: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    properties: dict[str, dict[str, Json]] = field(default_factory=dict)
    groups: dict[str, dict[str, Json]] = field(default_factory=dict)
    associations: set[Association] = field(default_factory=set)
    tokens: dict[str, tuple[str, Json]] = field(default_factory=dict)
    owners: list[Json] = field(default_factory=list)


def unique_key(name: str, value: str) -> str:
    """How a unique value is compared: emails case-insensitively, everything else exactly."""
    return value.strip().lower() if name == "email" else value


class HubSpotStore:
    """State of one sandbox portal.

    Args:
        state: the SQLite database (file or memory).
        clock: returns the current time; writes are stamped from it, strictly increasing by at
            least a millisecond.
    """

    def __init__(self, state: SqliteState, *, clock: Clock) -> None:
        self._state = state
        self._clock = clock
        self._lock = threading.RLock()
        self._mem = _Memory()
        self._last_ms = 0
        self._next_id = _FIRST_ID
        self._conn: Any = None
        with self._state.tx() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
        self._load()

    # --- boot -----------------------------------------------------------------------------------

    def _load(self) -> None:
        with self._state.tx() as conn:
            meta = {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
            seeded = "seeded" in meta
            if not seeded:
                now = self._clock_ms()
                for object_type in OBJECT_TYPES:
                    for group in standard_groups(object_type):
                        conn.execute(
                            "INSERT INTO property_groups VALUES (?, ?, ?)",
                            (object_type, group["name"], json.dumps(group)),
                        )
                    for definition in standard_properties(object_type):
                        definition = {**definition, "createdAt": _iso(now), "updatedAt": _iso(now)}
                        conn.execute(
                            "INSERT INTO properties VALUES (?, ?, 0, ?)",
                            (object_type, definition["name"], json.dumps(definition)),
                        )
                for owner in _seed_owner_rows(now):
                    conn.execute("INSERT INTO owners VALUES (?, ?)", (owner["id"], json.dumps(owner)))
                conn.execute("INSERT INTO meta VALUES ('seeded', '1')")
                meta["seeded"] = "1"
            self._next_id = int(meta.get("next_id", _FIRST_ID))
            self._last_ms = int(meta.get("last_ms", 0))
            for r in conn.execute("SELECT object_type, name, archived, definition FROM properties"):
                definition = json.loads(r["definition"])
                definition["archived"] = bool(r["archived"])
                self._mem.properties.setdefault(r["object_type"], {})[r["name"]] = definition
            for r in conn.execute("SELECT object_type, name, definition FROM property_groups"):
                self._mem.groups.setdefault(r["object_type"], {})[r["name"]] = json.loads(r["definition"])
            for r in conn.execute("SELECT * FROM objects ORDER BY id"):
                obj = CrmObject(
                    object_type=r["object_type"],
                    id=r["id"],
                    properties=json.loads(r["properties"]),
                    created_ms=r["created_ms"],
                    updated_ms=r["updated_ms"],
                    archived=bool(r["archived"]),
                    archived_ms=r["archived_ms"],
                )
                self._remember(obj)
            for r in conn.execute("SELECT * FROM associations"):
                self._mem.associations.add(
                    Association(
                        from_type=r["from_type"],
                        from_id=r["from_id"],
                        to_type=r["to_type"],
                        to_id=r["to_id"],
                        category=r["category"],
                        type_id=r["type_id"],
                        label=r["label"],
                    )
                )
            for r in conn.execute("SELECT token, kind, data FROM tokens"):
                self._mem.tokens[r["token"]] = (r["kind"], json.loads(r["data"]))
            self._mem.owners = [json.loads(r["definition"]) for r in conn.execute("SELECT * FROM owners ORDER BY id")]

    @contextmanager
    def tx(self) -> Iterator[Any]:
        """A write transaction that also serialises memory updates; nested calls join the outer one."""
        with self._lock:
            if self._conn is not None:
                yield self._conn
                return
            with self._state.tx() as conn:
                self._conn = conn
                try:
                    yield conn
                finally:
                    self._conn = None

    # --- clock and ids --------------------------------------------------------------------------

    def _clock_ms(self) -> int:
        now = self._clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return int(now.timestamp() * 1000)

    def now_ms(self) -> int:
        """The current time in ms, without stamping anything."""
        return self._clock_ms()

    def stamp(self) -> int:
        """A write timestamp: the clock's ms, but always later than the previous stamp."""
        with self.tx() as conn:
            self._last_ms = max(self._clock_ms(), self._last_ms + 1)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_ms', ?)", (str(self._last_ms),))
            return self._last_ms

    def allocate_ids(self, count: int) -> list[int]:
        """Fresh record ids (unique across object types, like HubSpot's within one)."""
        with self.tx() as conn:
            first = self._next_id
            self._next_id += count
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('next_id', ?)", (str(self._next_id),))
            return list(range(first, first + count))

    # --- property definitions -------------------------------------------------------------------

    def property_defs(self, object_type: str, *, archived: bool = False) -> dict[str, Json]:
        """Property definitions by name (live ones, or archived ones when ``archived``)."""
        with self._lock:
            return {n: d for n, d in self._mem.properties.get(object_type, {}).items() if d.get("archived") == archived}

    def put_property(self, object_type: str, definition: Json) -> None:
        """Insert or replace one property definition."""
        with self.tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO properties VALUES (?, ?, ?, ?)",
                (
                    object_type,
                    definition["name"],
                    int(bool(definition.get("archived"))),
                    json.dumps(definition),
                ),
            )
            self._mem.properties.setdefault(object_type, {})[definition["name"]] = definition

    def groups(self, object_type: str) -> dict[str, Json]:
        """Property groups by name."""
        with self._lock:
            return dict(self._mem.groups.get(object_type, {}))

    def put_group(self, object_type: str, group: Json) -> None:
        """Insert or replace one property group."""
        with self.tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO property_groups VALUES (?, ?, ?)",
                (object_type, group["name"], json.dumps(group)),
            )
            self._mem.groups.setdefault(object_type, {})[group["name"]] = group

    # --- records --------------------------------------------------------------------------------

    def _remember(self, obj: CrmObject) -> None:
        by_id = self._mem.objects.setdefault(obj.object_type, {})
        previous = by_id.get(obj.id)
        if previous is not None:
            for name, value in previous.properties.items():
                index = self._mem.unique.get((obj.object_type, name))
                if index is not None and index.get(unique_key(name, value)) == obj.id:
                    del index[unique_key(name, value)]
        by_id[obj.id] = obj
        if obj.archived:
            return
        for name, value in obj.properties.items():
            if self._is_indexed(obj.object_type, name):
                self._mem.unique.setdefault((obj.object_type, name), {})[unique_key(name, value)] = obj.id

    def _is_indexed(self, object_type: str, name: str) -> bool:
        definition = self._mem.properties.get(object_type, {}).get(name)
        return name == "email" or bool(definition and definition.get("hasUniqueValue"))

    def get(self, object_type: str, object_id: int, *, archived: bool = False) -> CrmObject | None:
        """One record by id; archived records only when ``archived``."""
        with self._lock:
            obj = self._mem.objects.get(object_type, {}).get(object_id)
        if obj is None or obj.archived != archived:
            return None
        return obj

    def lookup(self, object_type: str, name: str, value: str) -> CrmObject | None:
        """The live record whose unique property ``name`` has ``value``."""
        with self._lock:
            object_id = self._mem.unique.get((object_type, name), {}).get(unique_key(name, value))
            if object_id is None:
                return None
            return self._mem.objects[object_type][object_id]

    def records(self, object_type: str, *, archived: bool = False) -> list[CrmObject]:
        """All live (or archived) records of a type, in id order."""
        with self._lock:
            items = list(self._mem.objects.get(object_type, {}).values())
        return [o for o in items if o.archived == archived]

    def write(self, objects: Iterable[CrmObject]) -> None:
        """Insert or replace records in one transaction."""
        items = list(objects)
        with self.tx() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        o.object_type,
                        o.id,
                        int(o.archived),
                        o.created_ms,
                        o.updated_ms,
                        o.archived_ms,
                        json.dumps(dict(o.properties)),
                    )
                    for o in items
                ],
            )
            for o in items:
                self._remember(o)

    def archive(self, object_type: str, ids: Iterable[int], at_ms: int) -> None:
        """Archive live records (unknown or already archived ids are ignored, as HubSpot does)."""
        with self.tx():
            live = [o for o in (self.get(object_type, i) for i in ids) if o is not None]
            self.write(replace(o, archived=True, archived_ms=at_ms) for o in live)
            for o in live:
                self._drop_associations_of(o.object_type, o.id)

    # --- associations ---------------------------------------------------------------------------

    def associate(self, links: Iterable[Association]) -> None:
        """Store associations; a HUBSPOT_DEFINED one is stored in both directions."""
        items: set[Association] = set()
        for link in links:
            items.add(link)
            if link.category == "HUBSPOT_DEFINED":
                known = association_by_id(link.type_id)
                if known is not None:
                    items.add(
                        Association(
                            from_type=link.to_type,
                            from_id=link.to_id,
                            to_type=link.from_type,
                            to_id=link.from_id,
                            category=link.category,
                            type_id=known.inverse_id,
                        )
                    )
        with self.tx() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO associations VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(a.from_type, a.from_id, a.to_type, a.to_id, a.category, a.type_id, a.label) for a in items],
            )
            self._mem.associations |= items

    def associations(self, from_type: str, from_id: int, to_type: str) -> list[Association]:
        """Associations from one record to records of a type, ordered by target id then type id."""
        with self._lock:
            found = [
                a
                for a in self._mem.associations
                if a.from_type == from_type and a.from_id == from_id and a.to_type == to_type
            ]
        return sorted(found, key=lambda a: (a.to_id, a.type_id))

    def unassociate(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        """Remove every association between two records, both directions."""
        with self.tx() as conn:
            doomed = {
                a
                for a in self._mem.associations
                if (a.from_type, a.from_id, a.to_type, a.to_id)
                in {
                    (from_type, from_id, to_type, to_id),
                    (to_type, to_id, from_type, from_id),
                }
            }
            self._delete_associations(conn, doomed)

    def _drop_associations_of(self, object_type: str, object_id: int) -> None:
        with self.tx() as conn:
            doomed = {
                a
                for a in self._mem.associations
                if (a.from_type, a.from_id) == (object_type, object_id)
                or (a.to_type, a.to_id) == (object_type, object_id)
            }
            self._delete_associations(conn, doomed)

    def _delete_associations(self, conn: Any, doomed: set[Association]) -> None:
        conn.executemany(
            "DELETE FROM associations WHERE from_type=? AND from_id=? AND to_type=? AND to_id=? "
            "AND category=? AND type_id=?",
            [(a.from_type, a.from_id, a.to_type, a.to_id, a.category, a.type_id) for a in doomed],
        )
        self._mem.associations -= doomed

    # --- owners ---------------------------------------------------------------------------------

    def owners(self) -> list[Json]:
        """The portal's owners, in id order."""
        with self._lock:
            return list(self._mem.owners)

    # --- tokens ---------------------------------------------------------------------------------

    def put_token(self, token: str, kind: str, data: Json) -> None:
        """Store an OAuth code, access token or refresh token with its data."""
        with self.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?, ?)", (token, kind, json.dumps(data)))
            self._mem.tokens[token] = (kind, data)

    def token(self, token: str, kind: str) -> Json | None:
        """A stored token's data, if it exists and is of this kind."""
        with self._lock:
            found = self._mem.tokens.get(token)
        if found is None or found[0] != kind:
            return None
        return found[1]

    def delete_token(self, token: str) -> None:
        """Forget a token (a used authorization code, a revoked refresh token)."""
        with self.tx() as conn:
            conn.execute("DELETE FROM tokens WHERE token = ?", (token,))
            self._mem.tokens.pop(token, None)


def _iso(epoch_ms: int) -> str:
    return iso_ms(epoch_ms)


def _seed_owner_rows(now_ms: int) -> list[Json]:
    return [
        {
            "id": o.id,
            "email": o.email,
            "type": "PERSON",
            "firstName": o.first_name,
            "lastName": o.last_name,
            "userId": o.user_id,
            "userIdIncludingInactive": o.user_id,
            "createdAt": _iso(now_ms),
            "updatedAt": _iso(now_ms),
            "archived": False,
            "teams": [{"id": str(zlib.crc32(o.team.encode()) % 900_000 + 100_000), "name": o.team, "primary": True}],
        }
        for o in SEED_OWNERS
    ]
