"""The Salesforce sandbox's shared state: the org's records, tokens, cursors and counters in SQLite.

:class:`SalesforceState` opens (or seeds) the org and holds what every concern's mixin reads
and writes; the error shapes (:class:`SfError`, :class:`ApiError`), the in-memory record store
and the URL map live here too. The mixins (``auth``, ``sobjects``, ``collections``, ``query``,
``describe``, ``limits``) are composed into one server class in ``server``.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from sandboxes.common import Faults, RequestLog, SqliteState
from sandboxes.salesforce import soql
from sandboxes.salesforce.ids import make_id, record_type_id
from sandboxes.salesforce.objects import LEAD_STATUSES, OBJECTS, RECORD_TYPES, find_object
from sandboxes.salesforce.schema import ObjectSpec

#: When the sandbox org's record types were "configured".
RECORD_TYPES_STAMP = "2020-01-01T00:00:00.000+0000"

logger = logging.getLogger(__name__)
ORG_ID: Final = "00D5g000004NHXYEA4"
_RECORD_COUNTER_START: Final = 1_000_000
_JSON_TYPE: Final = "application/json;charset=UTF-8"

Clock = Callable[[], datetime]
Record = dict[str, Any]


# --------------------------------------------------------------------------------------------------
# Errors.


@dataclass(frozen=True, slots=True)
class SfError:
    """One record-level error (a SaveResult/UpsertResult ``errors`` entry).

    Attributes:
        status_code: Salesforce's StatusCode (``REQUIRED_FIELD_MISSING`` ...).
        message: the message, worded as Salesforce words it.
        fields: the fields at fault.
        extra: extra keys a single-record REST error carries (``duplicateResult``).
    """

    status_code: str
    message: str
    fields: tuple[str, ...] = ()
    extra: Mapping[str, Any] | None = None

    def collection_form(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": list(self.fields)}

    def rest_form(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(self.extra or {})
        body.update({"message": self.message, "errorCode": self.status_code, "fields": list(self.fields)})
        return body


class ApiError(Exception):
    """A whole-request failure: the HTTP status and the JSON body Salesforce sends."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    @classmethod
    def of(cls, status: int, error_code: str, message: str, fields: Sequence[str] | None = None) -> ApiError:
        entry: dict[str, Any] = {"message": message, "errorCode": error_code}
        if fields is not None:
            entry["fields"] = list(fields)
        return cls(status, [entry])


def _not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, [{"errorCode": "NOT_FOUND", "message": message}])


class _RecordFailure(Exception):
    def __init__(self, error: SfError) -> None:
        super().__init__(error.message)
        self.error = error


# --------------------------------------------------------------------------------------------------
# Time.


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _format_dt(value: datetime) -> str:
    return soql.format_datetime(value)


def _parse_dt_out(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


# --------------------------------------------------------------------------------------------------
# The record store: records in memory (dicts never mutated once stored), persisted to SQLite.


class _Store:
    """Records by id and by type, indexes for lookup fields, an undo log for all-or-none calls."""

    def __init__(self) -> None:
        self.by_id: dict[str, Record] = {}
        self.type_of: dict[str, str] = {}
        self.by_type: dict[str, dict[str, Record]] = {name: {} for name in OBJECTS}
        # (type, field) -> casefolded value -> ids (live records only)
        self._index: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._indexed: dict[str, tuple[str, ...]] = {
            spec.name: tuple(f.name for f in spec.fields if f.external_id or f.unique or f.name == "Email")
            for spec in OBJECTS.values()
        }
        self._undo: list[tuple[str, str, Record | None]] | None = None
        self.dirty: set[str] = set()

    # -- loading and saving
    def load(self, conn: Any) -> None:
        for row in conn.execute("SELECT id, sobject, body FROM sf_records ORDER BY rowid"):
            self._put(row["sobject"], json.loads(row["body"]))

    def flush(self, conn: Any) -> None:
        if not self.dirty:
            return
        rows = [(rid, self.type_of[rid], json.dumps(self.by_id[rid])) for rid in sorted(self.dirty)]
        conn.executemany("INSERT OR REPLACE INTO sf_records (id, sobject, body) VALUES (?, ?, ?)", rows)
        self.dirty.clear()

    # -- reads
    def get(self, record_id: str) -> Record | None:
        return self.by_id.get(record_id)

    def live(self, record_id: str) -> Record | None:
        record = self.by_id.get(record_id)
        if record is None or record.get("IsDeleted"):
            return None
        return record

    def lookup(self, sobject: str, field_name: str, value: Any) -> list[str]:
        if value is None:
            return []
        ids = self._index.get((sobject, field_name), {}).get(str(value).casefold(), set())
        return sorted(ids)

    def has_index(self, sobject: str, field_name: str) -> bool:
        return field_name in self._indexed[sobject]

    def records(self, sobject: str) -> Iterable[Record]:
        return self.by_type[sobject].values()

    # -- writes
    def put(self, sobject: str, record: Record) -> None:
        rid = record["Id"]
        if self._undo is not None:
            self._undo.append((sobject, rid, self.by_id.get(rid)))
        self._put(sobject, record)
        self.dirty.add(rid)

    def _put(self, sobject: str, record: Record) -> None:
        rid = record["Id"]
        old = self.by_id.get(rid)
        if old is not None:
            self._unindex(sobject, old)
        self.by_id[rid] = record
        self.type_of[rid] = sobject
        self.by_type[sobject][rid] = record
        self._reindex(sobject, record)

    def _remove(self, sobject: str, rid: str) -> None:
        old = self.by_id.pop(rid, None)
        if old is not None:
            self._unindex(sobject, old)
        self.type_of.pop(rid, None)
        self.by_type[sobject].pop(rid, None)

    def _reindex(self, sobject: str, record: Record) -> None:
        if record.get("IsDeleted"):
            return
        for name in self._indexed[sobject]:
            value = record.get(name)
            if value is not None:
                self._index.setdefault((sobject, name), {}).setdefault(str(value).casefold(), set()).add(record["Id"])

    def _unindex(self, sobject: str, record: Record) -> None:
        for name in self._indexed[sobject]:
            value = record.get(name)
            if value is not None:
                bucket = self._index.get((sobject, name), {}).get(str(value).casefold())
                if bucket is not None:
                    bucket.discard(record["Id"])

    @contextmanager
    def savepoint(self) -> Iterator[Callable[[], None]]:
        """Track writes; the yielded callable undoes every write made since the savepoint."""
        outer = self._undo
        self._undo = []
        log = self._undo

        def rollback() -> None:
            for sobject, rid, previous in reversed(log):
                if previous is None:
                    self._remove(sobject, rid)
                    self.dirty.discard(rid)
                else:
                    self._put(sobject, previous)
            log.clear()

        try:
            yield rollback
        finally:
            self._undo = outer
            if outer is not None:
                outer.extend(log)


@dataclass(slots=True)
class _Cursor:
    sobject: str
    fields: tuple[str, ...]
    records: list[Mapping[str, Any]]
    batch_size: int
    endpoint: str
    version: str
    touched: float = 0.0


@dataclass(slots=True)
class _Token:
    kind: str  # "access", "refresh" or "code"
    client_id: str
    scope: str
    issued_at: float
    calls: int = 0
    expired: bool = False
    revoked: bool = False
    refresh: str | None = None
    redirect_uri: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> _Token:
        return cls(**json.loads(text))


@dataclass(frozen=True, slots=True)
class _Context:
    """What one write request knows: who, when, which API version, which headers."""

    version: str
    stamp: str
    user_id: str
    allow_duplicates: bool


@dataclass(slots=True)
class _Outcome:
    """One record's result inside a write call."""

    record_id: str | None = None
    created: bool | None = None
    error: SfError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


_SEED_USERS: Final = (
    ("Integration", "Nurture", "integration@nurturehub.sandbox", "nhint", "AutomatedProcess"),
    ("Whitfield", "Dana", "dana.whitfield@clinic.sandbox", "dwhit", "Standard"),
    ("Ortega", "Luis", "luis.ortega@clinic.sandbox", "lorte", "Standard"),
)
_SEED_GROUPS: Final = (
    ("Front Desk", "Front_Desk", "Queue"),
    ("Clinical Triage", "Clinical_Triage", "Queue"),
    ("Bilingual Team", "Bilingual_Team", "Queue"),
    ("Insurance Desk", "Insurance_Desk", "Queue"),
    ("Referral Coordinators", "Referral_Coordinators", "Queue"),
    ("All Internal Users", "AllInternalUsers", "Organization"),
)


def _api(path: str) -> str:
    return f"/services/data/v<version>{path}"


_URLS: Final = Map(
    [
        Rule("/services/data/", endpoint="versions", methods=["GET"]),
        Rule(_api("/"), endpoint="resources", methods=["GET"]),
        Rule(_api("/limits/"), endpoint="limits", methods=["GET"]),
        Rule(_api("/sobjects/"), endpoint="describe_global", methods=["GET"]),
        Rule(_api("/sobjects/<sobject>/"), endpoint="sobject", methods=["GET", "POST"]),
        Rule(_api("/sobjects/<sobject>/describe/"), endpoint="describe", methods=["GET"]),
        Rule(
            _api("/sobjects/<sobject>/<record_id>/"),
            endpoint="record",
            methods=["GET", "PATCH", "DELETE", "POST"],
        ),
        Rule(
            _api("/sobjects/<sobject>/<field_name>/<path:value>"),
            endpoint="external",
            methods=["GET", "PATCH", "DELETE"],
        ),
        Rule(_api("/query/"), endpoint="query", methods=["GET"], defaults={"endpoint_name": "query"}),
        Rule(_api("/queryAll/"), endpoint="query", methods=["GET"], defaults={"endpoint_name": "queryAll"}),
        Rule(_api("/query/<locator>"), endpoint="query_more", methods=["GET"]),
        Rule(_api("/queryAll/<locator>"), endpoint="query_more", methods=["GET"]),
        Rule(_api("/composite/"), endpoint="composite", methods=["POST"]),
        Rule(_api("/composite/sobjects/"), endpoint="collections", methods=["POST", "PATCH", "DELETE"]),
        Rule(_api("/composite/sobjects/<sobject>/"), endpoint="collections_retrieve", methods=["GET", "POST"]),
        Rule(
            _api("/composite/sobjects/<sobject>/<field_name>/"),
            endpoint="collections_upsert",
            methods=["PATCH"],
        ),
        Rule("/services/oauth2/authorize", endpoint="oauth_authorize", methods=["GET"]),
        Rule("/services/oauth2/token", endpoint="oauth_token", methods=["POST"]),
        Rule("/services/oauth2/revoke", endpoint="oauth_revoke", methods=["GET", "POST"]),
        Rule("/services/oauth2/userinfo", endpoint="oauth_userinfo", methods=["GET", "POST"]),
    ],
    strict_slashes=False,
    redirect_defaults=False,
)

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS sf_records (id TEXT PRIMARY KEY, sobject TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sf_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sf_tokens (token TEXT PRIMARY KEY, body TEXT NOT NULL)",
)


class SalesforceState:
    """The org's state that every concern's mixin shares: records, tokens, cursors, counters, clock."""

    def __init__(
        self,
        *,
        state_path: Path | None = None,
        faults: Faults | None = None,
        client_id: str = "nurturehub-sandbox",
        client_secret: str = "sandbox-secret",  # noqa: S107 - a sandbox's published test secret
        duplicate_rule: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self.faults = faults if faults is not None else Faults()
        self.log = RequestLog()
        self.client_id = client_id
        self.client_secret = client_secret
        self.duplicate_rule = duplicate_rule
        self._clock: Clock = clock or _utc_now
        self._state = SqliteState(state_path)
        self._store = _Store()
        self._tokens: dict[str, _Token] = {}
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._last_stamp: datetime | None = None
        self._counter = _RECORD_COUNTER_START
        self._usage = 0
        self._describe_cache: dict[tuple[str, str], dict[str, Any]] = {}
        self.user_id = make_id("005", 1)
        with self._state.tx() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)
            meta = {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM sf_meta")}
            self._counter = int(meta.get("counter", _RECORD_COUNTER_START))
            self._usage = int(meta.get("api_usage", 0))
            self._store.load(conn)
            for row in conn.execute("SELECT token, body FROM sf_tokens"):
                self._tokens[row["token"]] = _Token.from_json(row["body"])
            if "seeded" not in meta:
                self._seed(conn)
            if self._store.get(record_type_id("PersonAccount")) is None:  # state saved before record types
                self._seed_record_types(conn)
            if self._store.get(make_id("01J", 1)) is None:  # state saved before lead statuses
                self._seed_lead_statuses(conn)
        stamps = [r["SystemModstamp"] for r in self._store.by_id.values() if r.get("SystemModstamp")]
        if stamps:
            self._last_stamp = _parse_dt_out(max(stamps))
        logger.debug("salesforce sandbox ready: %d records", len(self._store.by_id))

    def close(self) -> None:
        """Close the state database."""
        self._state.close()

    def _save_meta(self, conn: Any) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO sf_meta (key, value) VALUES (?, ?)",
            [("counter", str(self._counter)), ("api_usage", str(self._usage))],
        )

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return make_id(prefix, self._counter)

    def _stamp(self) -> str:
        """A write's audit stamp: the clock at millisecond precision, strictly increasing."""
        now = self._clock().astimezone(UTC)
        now = now.replace(microsecond=(now.microsecond // 1000) * 1000)
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + timedelta(milliseconds=1)
        self._last_stamp = now
        return _format_dt(now)

    def _seed(self, conn: Any) -> None:
        stamp = self._stamp()
        audit = {
            "CreatedDate": stamp,
            "CreatedById": self.user_id,
            "LastModifiedDate": stamp,
            "LastModifiedById": self.user_id,
            "SystemModstamp": stamp,
        }
        for n, (last, first, email, alias, user_type) in enumerate(_SEED_USERS, start=1):
            record = self._blank(OBJECTS["User"], make_id("005", n))
            record.update(audit)
            record.update(
                {
                    "LastName": last,
                    "FirstName": first,
                    "Name": f"{first} {last}",
                    "Username": email,
                    "Email": email,
                    "Alias": alias,
                    "IsActive": True,
                    "TimeZoneSidKey": "America/New_York",
                    "UserType": user_type,
                }
            )
            self._store.put("User", record)
        for n, (name, developer_name, group_type) in enumerate(_SEED_GROUPS, start=1):
            record = self._blank(OBJECTS["Group"], make_id("00G", n))
            record.update(audit)
            record.update(
                {
                    "Name": name,
                    "DeveloperName": developer_name,
                    "Type": group_type,
                    "OwnerId": self.user_id,
                    "DoesSendEmailToMembers": False,
                }
            )
            self._store.put("Group", record)
        self._store.flush(conn)
        conn.execute("INSERT OR REPLACE INTO sf_meta (key, value) VALUES ('seeded', '1')")
        self._save_meta(conn)

    def _seed_record_types(self, conn: Any) -> None:
        # Record types are set up when the org is, long before any lead: a fixed old stamp keeps them
        # out of every incremental pull and leaves the modstamp sequence to the records under test.
        stamp = RECORD_TYPES_STAMP
        for n, developer_name, name, person in RECORD_TYPES:
            record = self._blank(OBJECTS["RecordType"], make_id("012", n))
            record.update(
                {
                    "CreatedDate": stamp, "CreatedById": self.user_id, "LastModifiedDate": stamp,
                    "LastModifiedById": self.user_id, "SystemModstamp": stamp, "Name": name,
                    "DeveloperName": developer_name, "SobjectType": "Account", "IsPersonType": person,
                    "IsActive": True,
                }
            )  # fmt: skip
            self._store.put("RecordType", record)
        self._store.flush(conn)

    def _seed_lead_statuses(self, conn: Any) -> None:
        stamp = RECORD_TYPES_STAMP  # configured with the org, before any lead (see record types)
        for n, (value, converted, default) in enumerate(LEAD_STATUSES, start=1):
            record = self._blank(OBJECTS["LeadStatus"], make_id("01J", n))
            record.update(
                {
                    "CreatedDate": stamp, "CreatedById": self.user_id, "LastModifiedDate": stamp,
                    "LastModifiedById": self.user_id, "SystemModstamp": stamp, "ApiName": value,
                    "MasterLabel": value, "IsConverted": converted, "IsDefault": default, "SortOrder": n,
                }
            )  # fmt: skip
            self._store.put("LeadStatus", record)
        self._store.flush(conn)

    @staticmethod
    def _blank(spec: ObjectSpec, record_id: str) -> Record:
        record: Record = dict.fromkeys(spec.field_names)
        record["Id"] = record_id
        if "IsDeleted" in record:
            record["IsDeleted"] = False
        return record

    # ------------------------------------------------------------------------------------------
    # Shared request helpers.

    @staticmethod
    def _object(name: str) -> ObjectSpec:
        spec = find_object(name)
        if spec is None:
            raise _not_found()
        return spec

    @staticmethod
    def _body(request: Request) -> Any:
        raw = request.get_data(as_text=True)
        if not raw.strip():
            raise ApiError.of(400, "JSON_PARSER_ERROR", "No content to map due to end-of-input at [line:1, column:0]")
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            bad = raw[exc.pos] if exc.pos < len(raw) else "EOF"
            raise ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                f"Unexpected character ('{bad}' (code {ord(bad[0]) if bad != 'EOF' else -1})): expected a "
                f"valid value (number, String, array, object, 'true', 'false' or 'null') at "
                f"[line:{exc.lineno}, column:{exc.colno}]",
            ) from exc

    def _context(self, request: Request, version: str) -> _Context:
        header = request.headers.get("Sforce-Duplicate-Rule-Header", "")
        options = dict(part.strip().split("=", 1) for part in re.split(r"[;,]", header) if "=" in part)
        allow = options.get("allowSave", "").strip().lower() == "true"
        return _Context(version=version, stamp=self._stamp(), user_id=self.user_id, allow_duplicates=allow)

    @staticmethod
    def _url(version: str, sobject: str, record_id: str) -> str:
        return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"

    def _project(self, record: Mapping[str, Any], sobject: str, fields: Sequence[str], version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": sobject, "url": self._url(version, sobject, record["Id"])}}
        for name in fields:
            out[name] = record.get(name)
        return out
