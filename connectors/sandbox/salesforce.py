"""A local Salesforce REST API (v59.0) that the real simple-salesforce cannot tell from the real one.

It serves over TLS (simple-salesforce always builds ``https://`` URLs), keeps an org's Leads,
Contacts and Tasks in SQLite (a file for the demo, memory for tests), and answers with Salesforce's
status codes, bodies and headers: sObject rows, upsert by external id, sObject Collections, SOQL
with ``nextRecordsUrl`` paging, describe, ``Sforce-Limit-Info``, daily-budget and session errors,
and an OAuth 2.0 web-server flow (authorization code with client secret or PKCE, refresh, revoke).

What is faithful and what is not is listed in ``docs/sandbox-salesforce.md``.

Example:
    sandbox = SalesforceSandbox()
    server, ca = serve_salesforce(sandbox)
    session = requests.Session()
    session.verify, session.trust_env = str(ca), False
    sf = Salesforce(instance_url=server.url, session_id=sandbox.issue_token(), session=session,
                    version="59.0")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

import trustme
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from connectors.sandbox import soql
from connectors.sandbox.harness import Faults, RequestLog, SandboxServer, SqliteState, tls_context
from connectors.sandbox.salesforce_meta import (
    API_VERSION,
    CLOSED_TASK_STATUSES,
    LEAD_STATUSES,
    OBJECTS,
    PERSON_FIELDS,
    RECORD_TYPES,
    SUPPORTED_VERSIONS,
    FieldSpec,
    ObjectSpec,
    describe_global,
    describe_sobject,
    find_object,
    id15,
    is_person_record_type,
    is_salesforce_id,
    make_id,
    normalize_id,
    object_for_prefix,
    record_type_id,
    sobject_root_info,
    versions,
)

__all__ = ["DEFAULT_DAILY_BUDGET", "SalesforceSandbox", "ensure_tls_files", "serve_salesforce"]

#: When the sandbox org's record types were "configured".
RECORD_TYPES_STAMP = "2020-01-01T00:00:00.000+0000"

logger = logging.getLogger(__name__)

#: The daily allocation reported (and enforced) when ``Faults.daily_budget`` is None.
DEFAULT_DAILY_BUDGET: Final = 100_000
#: Records per SOQL page: the default, and the range ``Sforce-Query-Options: batchSize=N`` may pick.
DEFAULT_BATCH_SIZE: Final = 2000
MIN_BATCH_SIZE: Final = 200
#: sObject Collections accept at most this many records (or ids) in one call.
COLLECTION_LIMIT: Final = 200
#: Open query cursors kept per org; the oldest is dropped first (Salesforce allows 10 per user).
MAX_OPEN_CURSORS: Final = 10
AUTH_CODE_TTL: Final = timedelta(minutes=15)
#: A query cursor not used for this long is gone (INVALID_QUERY_LOCATOR), as in Salesforce.
CURSOR_TTL: Final = timedelta(minutes=15)
ORG_ID: Final = "00D5g000004NHXYEA4"
_RECORD_COUNTER_START: Final = 1_000_000
_JSON_TYPE: Final = "application/json;charset=UTF-8"
_EMAIL: Final = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_DATETIME_IN: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?", re.ASCII
)

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


class SalesforceSandbox:
    """A stateful Salesforce org behind a WSGI app.

    Args:
        state_path: SQLite file to keep the org in (survives restarts); None keeps it in memory.
        faults: faults to inject (latency, 429/503 shares, session expiry, daily budget).
        client_id / client_secret: the connected app's consumer key and secret for OAuth.
        duplicate_rule: when true, a Lead or Contact whose Email matches another of the same type
            fails with DUPLICATES_DETECTED unless the request sends
            ``Sforce-Duplicate-Rule-Header: allowSave=true``.
        clock: returns the current aware datetime; audit stamps come from it (default: UTC now).
    """

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

    # ------------------------------------------------------------------------------------------
    # Public helpers for tests and the demo.

    def issue_token(self) -> str:
        """A valid access token, bypassing OAuth (tests and the demo's CLI)."""
        with self._state.lock:
            return self._new_access_token(client_id=self.client_id, scope="api", refresh=None)

    def reset_day(self) -> None:
        """Start a new API "day": the usage counter goes back to zero."""
        with self._state.tx() as conn:
            self._usage = 0
            self._save_meta(conn)

    def convert_lead(
        self, lead_id: str, *, person_account: bool = False, status: str = "Closed - Converted"
    ) -> tuple[str, str]:
        """Convert a lead the way staff do in Salesforce (Lead Convert; there is no REST resource
        for it): a Contact and an Account — or one Person Account and its person contact — are
        made from the lead, the lead becomes read-only with ``IsConverted``, ``ConvertedContactId``,
        ``ConvertedAccountId``, ``ConvertedDate`` and a converted ``Status``, and the lead's tasks
        move to the contact (``WhoId``) and account (``WhatId``).

        Returns:
            (contact id, account id); for a person account the contact is its ``PersonContactId``.

        Raises:
            ValueError: no such lead, already converted, or ``status`` is not a converted status.
        """
        converted = {value for value, is_converted, _ in LEAD_STATUSES if is_converted}
        if status not in converted:
            raise ValueError(f"{status!r} is not a converted lead status")
        with self._state.lock:
            lead = self._store.live(normalize_id(lead_id)) if is_salesforce_id(lead_id) else None
            if lead is None or self._store.type_of.get(lead["Id"]) != "Lead":
                raise ValueError(f"no lead {lead_id}")
            if lead.get("IsConverted"):
                raise ValueError(f"lead {lead_id} is converted already")
            ctx = _Context(version=API_VERSION, stamp=self._stamp(), user_id=self.user_id, allow_duplicates=True)
            names = {"FirstName": lead.get("FirstName"), "LastName": lead.get("LastName")}
            try:
                if person_account:
                    account_id = self._create_one(
                        OBJECTS["Account"],
                        {**names, "RecordTypeId": record_type_id("PersonAccount"), "PersonEmail": lead.get("Email"),
                         "PersonMobilePhone": lead.get("MobilePhone"), "Phone": lead.get("Phone")},
                        ctx,
                    )  # fmt: skip
                    account = self._store.live(account_id)
                    assert account is not None
                    contact_id = str(account["PersonContactId"])
                else:
                    account_id = self._create_one(OBJECTS["Account"], {"Name": lead.get("Company") or "Unknown"}, ctx)
                    contact_id = self._create_one(
                        OBJECTS["Contact"],
                        {**names, "AccountId": account_id, "Email": lead.get("Email"), "Phone": lead.get("Phone"),
                         "MobilePhone": lead.get("MobilePhone")},
                        ctx,
                    )  # fmt: skip
            except _RecordFailure as failure:
                raise ValueError(f"lead {lead_id} cannot be converted: {failure.error.status_code}") from None
            stamp = ctx.stamp
            self._store.put(
                "Lead",
                {
                    **lead, "IsConverted": True, "ConvertedAccountId": account_id, "ConvertedContactId": contact_id,
                    "ConvertedDate": stamp[:10], "Status": status, "LastModifiedDate": stamp,
                    "LastModifiedById": self.user_id, "SystemModstamp": stamp,
                },
            )  # fmt: skip
            for task in list(self._store.records("Task")):
                if task.get("WhoId") == lead["Id"] and not task.get("IsDeleted"):
                    self._store.put(
                        "Task",
                        {
                            **task, "WhoId": contact_id, "WhatId": task.get("WhatId") or account_id,
                            "LastModifiedDate": stamp, "SystemModstamp": stamp,
                        },
                    )  # fmt: skip
            with self._state.tx() as conn:
                self._store.flush(conn)
                self._save_meta(conn)
        return contact_id, account_id

    @property
    def api_usage(self) -> int:
        """API calls counted in the current day."""
        return self._usage

    @property
    def daily_budget(self) -> int:
        budget = self.faults.daily_budget
        return DEFAULT_DAILY_BUDGET if budget is None else budget

    def close(self) -> None:
        """Close the state database."""
        self._state.close()

    # ------------------------------------------------------------------------------------------
    # WSGI.

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self._respond(request)
        self.log.add(request.method, request.path, response.status_code)
        logger.debug("%s %s -> %d", request.method, request.path, response.status_code)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def _respond(self, request: Request) -> Response:
        self.faults.delay()
        adapter = _URLS.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as exc:
            allowed = ",".join(sorted(exc.valid_methods or []))
            return self._json(
                405,
                [
                    {
                        "errorCode": "METHOD_NOT_ALLOWED",
                        "message": f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
                    }
                ],
                request,
            )
        except NotFound:
            # werkzeug reports a wrong method as NotFound when strict_slashes is off: probe the methods.
            allowed_methods = []
            for method in ("GET", "PATCH", "POST", "DELETE"):
                try:
                    adapter.match(method=method)
                except HTTPException:
                    continue
                allowed_methods.append(method)
            if allowed_methods:
                return self._json(
                    405,
                    [
                        {
                            "errorCode": "METHOD_NOT_ALLOWED",
                            "message": f"HTTP Method '{request.method}' not allowed. "
                            f"Allowed are {','.join(allowed_methods)}",
                        }
                    ],
                    request,
                )
            error = _not_found()
            return self._json(error.status, error.body, request)
        except HTTPException as exc:  # pragma: no cover - redirects are disabled by strict_slashes
            return self._json(exc.code or 400, [{"errorCode": "NOT_FOUND", "message": str(exc)}], request)
        if endpoint.startswith("oauth_"):
            with self._state.lock:
                return self._oauth(endpoint, request)
        if endpoint == "versions":
            return self._json(200, versions(), request)
        with self._state.lock:
            return self._api_call(endpoint, dict(args), request)

    def _api_call(self, endpoint: str, args: dict[str, Any], request: Request) -> Response:
        fault = self.faults.roll()
        if fault == "429":
            return self._json(
                429,
                [
                    {
                        "message": "Too many requests (injected by the sandbox: Salesforce itself answers "
                        "REST overload with 403 REQUEST_LIMIT_EXCEEDED or 503)",
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                    }
                ],
                request,
                headers={"Retry-After": str(self.faults.retry_after_s)},
            )
        if fault == "5xx":
            return self._json(
                503,
                [
                    {
                        "message": "Server temporarily unavailable (injected by the sandbox)",
                        "errorCode": "SERVER_UNAVAILABLE",
                    }
                ],
                request,
            )
        token = self._authenticate(request)
        if token is None:
            return self._json(
                401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], request
            )
        version = args.pop("version")
        if version not in SUPPORTED_VERSIONS:
            error = _not_found()
            return self._json(error.status, error.body, request)
        if self._usage >= self.daily_budget:
            return self._json(
                403,
                [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                request,
                limit_info=True,
            )
        self._usage += 1
        handler = getattr(self, f"_h_{endpoint}")
        try:
            status, body, headers = handler(request, version, **args)
        except ApiError as exc:
            status, body, headers = exc.status, exc.body, exc.headers
        with self._state.tx() as conn:
            self._store.flush(conn)
            self._save_meta(conn)
        return self._json(status, body, request, headers=headers, limit_info=True)

    def _json(
        self,
        status: int,
        body: Any,
        request: Request,
        *,
        headers: Mapping[str, str] | None = None,
        limit_info: bool = False,
    ) -> Response:
        if body is None:
            response = Response(status=status)
        else:
            if request.headers.get("X-PrettyPrint") == "1":
                text = json.dumps(body, indent=2, separators=(",", " : "), ensure_ascii=False)
            else:
                text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
            response = Response(text, status=status, content_type=_JSON_TYPE)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        if limit_info:
            response.headers["Sforce-Limit-Info"] = f"api-usage={self._usage}/{self.daily_budget}"
        return response

    # ------------------------------------------------------------------------------------------
    # Authentication, tokens and state bookkeeping.

    def _authenticate(self, request: Request) -> _Token | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in {"bearer", "oauth"} or not value:
            return None
        token = self._tokens.get(value.strip())
        if token is None or token.kind != "access" or token.revoked or token.expired:
            return None
        token.calls += 1
        limit = self.faults.expire_session_after
        if limit is not None and token.calls > limit:
            token.expired = True
            self._persist_token(value.strip(), token)
            logger.debug("sandbox session expired after %d calls", limit)
            return None
        return token

    def _persist_token(self, token_value: str, token: _Token) -> None:
        with self._state.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO sf_tokens (token, body) VALUES (?, ?)", (token_value, token.to_json()))

    def _new_access_token(self, *, client_id: str, scope: str, refresh: str | None) -> str:
        value = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(72)}"
        token = _Token(kind="access", client_id=client_id, scope=scope, issued_at=time.time(), refresh=refresh)
        self._tokens[value] = token
        self._persist_token(value, token)
        return value

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

    def _resolve_record_id(self, spec: ObjectSpec, raw: str) -> Record:
        """The live record a URL names, or Salesforce's 404."""
        if not is_salesforce_id(raw):
            raise _not_found(f"Provided external ID field does not exist or is not accessible: {raw}")
        rid = normalize_id(raw)
        record = self._store.live(rid)
        if record is None or self._store.type_of.get(rid) != spec.name:
            raise _not_found()
        return record

    def _select_fields(self, spec: ObjectSpec, raw: str | None) -> tuple[str, ...]:
        if not raw:
            return spec.field_names
        names = []
        for part in raw.split(","):
            name = part.strip()
            if not name:
                continue
            f = spec.field(name)
            if f is None:
                raise ApiError.of(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{spec.name}'. If you are attempting to use a custom "
                    "field, be sure to append the '__c' after the custom field name. Please reference your "
                    "WSDL or the describe call for the appropriate names.",
                )
            if f.name not in names:
                names.append(f.name)
        return tuple(names)

    # ------------------------------------------------------------------------------------------
    # Deserialisation: field names and JSON types, checked for the whole request before any write
    # (Salesforce rejects such requests with a top-level 400).

    def _deserialize(self, spec: ObjectSpec, body: Any, *, allow_keys: Iterable[str] = ()) -> dict[str, Any]:
        if not isinstance(body, dict):
            kind = "START_ARRAY" if isinstance(body, list) else "VALUE_STRING"
            raise ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {spec.name} from {kind} value "
                f"{json.dumps(body)[:40]} or request may be missing a required field at "
                "[line:1, column:1]",
            )
        allowed = {k.lower() for k in allow_keys}
        values: dict[str, Any] = {}
        for key, raw in body.items():
            if key == "attributes" or key.lower() in allowed:
                continue
            f = spec.field(key)
            if f is None:
                raise ApiError.of(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {spec.name}")
            values[f.name] = self._coerce(spec, f, raw)
        return values

    @staticmethod
    def _coerce(spec: ObjectSpec, f: FieldSpec, raw: Any) -> Any:
        def bad(kind: str) -> ApiError:
            shown = json.dumps(raw)[:80]
            return ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {kind} from {_json_token(raw)} value {shown} or request may "
                "be missing a required field at [line:1, column:1]",
            )

        if raw is None:
            return False if f.type == "boolean" else None
        if f.type == "boolean":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in {"true", "false"}:
                return raw.lower() == "true"
            raise bad("boolean")
        if f.type in {"double", "int"}:
            if isinstance(raw, (bool, dict, list)):
                raise bad("double" if f.type == "double" else "int")
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise bad("double" if f.type == "double" else "int") from None
            if f.type == "int":
                if not number.is_integer():
                    raise bad("int")
                return int(number)
            return number
        if f.type == "date":
            if not isinstance(raw, str):
                raise bad("date")
            m = _DATETIME_IN.fullmatch(raw.strip())
            if m is None:
                raise bad("date")
            try:
                return date.fromisoformat(m.group(1)).isoformat()
            except ValueError:
                raise bad("date") from None
        if f.type == "datetime":
            if not isinstance(raw, str):
                raise bad("datetime")
            parsed = _parse_datetime_input(raw.strip())
            if parsed is None:
                raise bad("datetime")
            return _format_dt(parsed)
        if isinstance(raw, (dict, list)):
            raise bad("string")
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        elif isinstance(raw, (int, float)):
            text = str(raw)
        else:
            text = str(raw)
        # Salesforce stores an empty string as null.
        return text if text != "" else None

    # ------------------------------------------------------------------------------------------
    # Record-level validation and writes.

    def _check_fields(self, spec: ObjectSpec, values: Mapping[str, Any], exclude: str | None) -> None:
        for name, value in values.items():
            f = spec.field(name)
            assert f is not None
            if value is None:
                continue
            if (
                f.type in {"string", "email", "phone", "url", "textarea", "picklist", "multipicklist", "combobox"}
                and f.length
                and len(value) > f.length
            ):
                raise _RecordFailure(
                    SfError(
                        "STRING_TOO_LONG",
                        f"{f.label}: data value too large: {value} (max length={f.length})",
                        (f.name,),
                    )
                )
            if f.type == "email" and not _EMAIL.match(value):
                raise _RecordFailure(
                    SfError("INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {value}", (f.name,))
                )
            if f.restricted:
                allowed = f.active_values()
                parts = value.split(";") if f.type == "multipicklist" else [value]
                for part in parts:
                    if part not in allowed:
                        raise _RecordFailure(
                            SfError(
                                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                f"{f.label}: bad value for restricted picklist field: {part}",
                                (f.name,),
                            )
                        )
            if f.type == "reference":
                self._check_reference(f, value)
            if f.unique:
                clash = [rid for rid in self._store.lookup(spec.name, f.name, value) if rid != exclude]
                if clash:
                    raise _RecordFailure(
                        SfError(
                            "DUPLICATE_VALUE",
                            f"duplicate value found: {f.name} duplicates value on record with id: {id15(clash[0])}",
                            (),
                        )
                    )

    def _check_reference(self, f: FieldSpec, value: str) -> None:
        if not is_salesforce_id(value):
            raise _RecordFailure(SfError("MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", (f.name,)))
        target_type = object_for_prefix(value[:3])
        if target_type not in f.reference_to:
            raise _RecordFailure(
                SfError("FIELD_INTEGRITY_EXCEPTION", f"{f.label}: id value of incorrect type: {value}", (f.name,))
            )
        target = self._store.live(normalize_id(value))
        if target is None:
            raise _RecordFailure(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ()))
        if target_type == "Lead" and target.get("IsConverted"):
            raise _RecordFailure(_converted_lead())

    def _check_duplicates(self, spec: ObjectSpec, record: Record, ctx: _Context) -> None:
        if not self.duplicate_rule or ctx.allow_duplicates or spec.name not in {"Lead", "Contact"}:
            return
        email = record.get("Email")
        matches = [rid for rid in self._store.lookup(spec.name, "Email", email) if rid != record["Id"]]
        if not matches:
            return
        rule = f"Standard_{spec.name}_Duplicate_Rule"
        duplicate_result = {
            "allowSave": True,
            "duplicateRule": rule,
            "duplicateRuleEntityType": spec.name,
            "errorMessage": "Use one of these records?",
            "matchResults": [
                {
                    "entityType": spec.name,
                    "errors": [],
                    "matchEngine": "ExactMatchEngine",
                    "matchRecords": [
                        {
                            "additionalInformation": [],
                            "fieldDiffs": [],
                            "matchConfidence": 100.0,
                            "record": {
                                "attributes": {
                                    "type": spec.name,
                                    "url": self._url(ctx.version, spec.name, rid),
                                },
                                "Id": rid,
                            },
                        }
                        for rid in matches
                    ],
                    "rule": f"Standard_{spec.name}_Match_Rule_v1_0",
                    "size": len(matches),
                    "success": True,
                }
            ],
        }
        raise _RecordFailure(
            SfError("DUPLICATES_DETECTED", "Use one of these records?", (), {"duplicateResult": duplicate_result})
        )

    @staticmethod
    def _check_account(record: Record, values: Mapping[str, Any], current: Record | None = None) -> None:
        """Person Accounts: the record type decides. A person account needs a LastName and gets
        its Name composed; a business account needs a Name and refuses person fields; the record
        type of an existing account cannot switch between the two (Salesforce converts only by
        a separate, explicit process)."""
        person = is_person_record_type(record.get("RecordTypeId"))
        if current is not None and person != bool(current.get("IsPersonAccount")):
            raise _RecordFailure(
                SfError(
                    "INVALID_PERSON_ACCOUNT_OPERATION",
                    "You can't change the record type between business and person accounts here.",
                    ("RecordTypeId",),
                )
            )
        if person:
            if not record.get("LastName"):
                raise _RecordFailure(
                    SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ("LastName",))
                )
            if values.get("Name") is not None:
                raise _RecordFailure(_locked_fields(["Name"]))
            return
        person_fields = sorted(name for name in values if name in PERSON_FIELDS and values[name] not in (None, False))
        if person_fields:
            raise _RecordFailure(_locked_fields(person_fields))
        if not record.get("Name"):
            raise _RecordFailure(SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ("Name",)))

    def _person_contact(self, account: Record, ctx: _Context) -> str:
        """The Contact Salesforce makes behind a person account (its ``PersonContactId``)."""
        spec = OBJECTS["Contact"]
        contact = self._blank(spec, self._next_id(spec.key_prefix))
        contact.update(
            {
                "AccountId": account["Id"], "FirstName": account.get("FirstName"), "LastName": account.get("LastName"),
                "Name": account.get("Name"), "Email": account.get("PersonEmail"), "OwnerId": ctx.user_id,
                "HasOptedOutOfEmail": False, "DoNotCall": False, "CreatedDate": ctx.stamp, "CreatedById": ctx.user_id,
                "LastModifiedDate": ctx.stamp, "LastModifiedById": ctx.user_id, "SystemModstamp": ctx.stamp,
            }
        )  # fmt: skip
        self._store.put("Contact", contact)
        return str(contact["Id"])

    @staticmethod
    def _derive(spec: ObjectSpec, record: Record, previous: Record | None, ctx: _Context) -> None:
        if spec.name == "Account":
            person = is_person_record_type(record.get("RecordTypeId"))
            record["IsPersonAccount"] = person
            if person:
                parts = [record.get("FirstName"), record.get("LastName")]
                record["Name"] = " ".join(p for p in parts if p) or None
        if spec.name_expression:
            parts = [record.get(name) for name in spec.name_expression]
            record["Name"] = " ".join(p for p in parts if p) or None
        if spec.name == "Task":
            closed = record.get("Status") in CLOSED_TASK_STATUSES
            was_closed = bool(previous and previous.get("IsClosed"))
            record["IsClosed"] = closed
            if closed and not was_closed:
                record["CompletedDateTime"] = ctx.stamp
            elif not closed:
                record["CompletedDateTime"] = None

    def _create_one(self, spec: ObjectSpec, values: Mapping[str, Any], ctx: _Context) -> str:
        if not spec.createable:
            raise _RecordFailure(
                SfError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {spec.name}", ())
            )
        if "Id" in values:
            raise _RecordFailure(
                SfError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "Record ID: cannot specify Id in an insert call",
                    ("Id",),
                )
            )
        locked = [name for name in values if not spec.require(name).createable]
        if locked:
            raise _RecordFailure(_locked_fields(locked))
        record = self._blank(spec, "")
        for f in spec.fields:
            if f.fills_on_create:
                default = f.picklist_default if f.picklist else f.default
                if f.name == "OwnerId":
                    default = ctx.user_id
                record[f.name] = default
        record.update({k: v for k, v in values.items() if v is not None or not spec.require(k).fills_on_create})
        if spec.name == "Account":
            self._check_account(record, values)
        missing = [f.name for f in spec.fields if f.required_on_create and record.get(f.name) is None]
        if missing:
            raise _RecordFailure(
                SfError(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    tuple(missing),
                )
            )
        self._check_fields(spec, {k: record[k] for k in values}, exclude=None)
        record["Id"] = self._next_id(spec.key_prefix)
        self._check_duplicates(spec, record, ctx)
        record.update(
            {
                "CreatedDate": ctx.stamp,
                "CreatedById": ctx.user_id,
                "LastModifiedDate": ctx.stamp,
                "LastModifiedById": ctx.user_id,
                "SystemModstamp": ctx.stamp,
            }
        )
        self._derive(spec, record, None, ctx)
        if record.get("IsPersonAccount"):
            record["PersonContactId"] = self._person_contact(record, ctx)
        self._store.put(spec.name, record)
        return str(record["Id"])

    def _update_one(self, spec: ObjectSpec, current: Record, values: Mapping[str, Any], ctx: _Context) -> str:
        if not spec.updateable:
            raise _RecordFailure(
                SfError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {spec.name}", ())
            )
        values = {k: v for k, v in values.items() if k != "Id"}
        if spec.name == "Lead" and current.get("IsConverted"):
            raise _RecordFailure(_converted_lead())
        locked = [name for name in values if not spec.require(name).updateable]
        if locked:
            raise _RecordFailure(_locked_fields(locked))
        cleared = [name for name, v in values.items() if v is None and not spec.require(name).nillable]
        if cleared:
            raise _RecordFailure(
                SfError(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(cleared)}]",
                    tuple(cleared),
                )
            )
        self._check_fields(spec, values, exclude=current["Id"])
        record = dict(current)
        record.update(values)
        if spec.name == "Account":
            self._check_account(record, values, current)
        if "Email" in values and values["Email"] != current.get("Email"):
            self._check_duplicates(spec, record, ctx)
        record.update({"LastModifiedDate": ctx.stamp, "LastModifiedById": ctx.user_id, "SystemModstamp": ctx.stamp})
        self._derive(spec, record, current, ctx)
        self._store.put(spec.name, record)
        return str(record["Id"])

    def _delete_one(self, spec: ObjectSpec, current: Record, ctx: _Context) -> None:
        if not spec.deletable:
            raise _RecordFailure(
                SfError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {spec.name}", ())
            )
        record = dict(current)
        record.update(
            {
                "IsDeleted": True,
                "SystemModstamp": ctx.stamp,
                "LastModifiedDate": ctx.stamp,
                "LastModifiedById": ctx.user_id,
            }
        )
        self._store.put(spec.name, record)

    def _match_external(self, spec: ObjectSpec, field_name: str, value: Any) -> list[str]:
        if field_name == "Id":
            if not isinstance(value, str) or not is_salesforce_id(value):
                return []
            rid = normalize_id(value)
            return [rid] if self._store.live(rid) and self._store.type_of.get(rid) == spec.name else []
        return self._store.lookup(spec.name, field_name, value)

    def _external_field(self, spec: ObjectSpec, name: str) -> FieldSpec:
        f = spec.field(name)
        if f is None:
            raise _not_found()
        if not (f.external_id or f.type == "id" or f.name == "Email"):
            raise ApiError.of(
                400,
                "INVALID_FIELD",
                f"Field name provided, {f.name} is not an External ID or indexed field for {spec.name}",
            )
        return f

    def _upsert_one(
        self, spec: ObjectSpec, ext: FieldSpec, key: Any, values: dict[str, Any], ctx: _Context
    ) -> tuple[str, bool]:
        matches = self._match_external(spec, ext.name, key)
        if len(matches) > 1:
            raise _RecordFailure(
                SfError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"more than one record found for external id field: [{', '.join(id15(m) for m in matches)}]",
                    (ext.name,),
                )
            )
        if matches:
            current = self._store.live(matches[0])
            assert current is not None
            return self._update_one(spec, current, values, ctx), False
        if ext.name != "Id":
            values = {**values, ext.name: key}
        return self._create_one(spec, values, ctx), True

    # ------------------------------------------------------------------------------------------
    # sObject resources.

    def _h_resources(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        base = f"/services/data/v{version}"
        names = ("sobjects", "query", "queryAll", "composite", "limits")
        return 200, {name: f"{base}/{name}" for name in names}, {}

    def _h_limits(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        budget = self.daily_budget
        return (
            200,
            {
                "DailyApiRequests": {"Max": budget, "Remaining": max(budget - self._usage, 0)},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DataStorageMB": {"Max": 5, "Remaining": 5},
            },
            {},
        )

    def _h_describe_global(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        return 200, describe_global(version), {}

    def _h_describe(self, request: Request, version: str, sobject: str) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        key = (spec.name, version)
        if key not in self._describe_cache:
            self._describe_cache[key] = describe_sobject(spec, version)
        return 200, self._describe_cache[key], {}

    def _h_sobject(self, request: Request, version: str, sobject: str) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        if request.method == "GET":
            recent = sorted(
                (r for r in self._store.records(spec.name) if not r.get("IsDeleted")),
                key=lambda r: r["SystemModstamp"] or "",
                reverse=True,
            )[:5]
            items = [
                {
                    "attributes": {"type": spec.name, "url": self._url(version, spec.name, r["Id"])},
                    "Id": r["Id"],
                    **({"Name": r.get("Name")} if spec.field("Name") else {}),
                }
                for r in recent
            ]
            return 200, sobject_root_info(spec, version, items), {}
        return self._create_single(request, version, spec)

    def _create_single(self, request: Request, version: str, spec: ObjectSpec) -> tuple[int, Any, dict[str, str]]:
        values = self._deserialize(spec, self._body(request))
        ctx = self._context(request, version)
        try:
            rid = self._create_one(spec, values, ctx)
        except _RecordFailure as failure:
            raise ApiError(400, [failure.error.rest_form()]) from None
        logger.debug("created %s %s", spec.name, rid)
        return (
            201,
            {"id": rid, "success": True, "errors": []},
            {"Location": self._url(version, spec.name, rid)},
        )

    def _h_record(
        self, request: Request, version: str, sobject: str, record_id: str
    ) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        if request.method == "POST":
            # API 37.0+: POST .../sobjects/Type/Id creates a record ("Id" as the external id, null value).
            if record_id != "Id":
                raise ApiError(
                    405,
                    [
                        {
                            "errorCode": "METHOD_NOT_ALLOWED",
                            "message": "HTTP Method 'POST' not allowed. Allowed are HEAD,GET,PATCH,DELETE",
                        }
                    ],
                )
            return self._create_single(request, version, spec)
        record = self._resolve_record_id(spec, record_id)
        if request.method == "GET":
            fields = self._select_fields(spec, request.args.get("fields"))
            return 200, self._project(record, spec.name, fields, version), {}
        ctx = self._context(request, version)
        if request.method == "DELETE":
            try:
                self._delete_one(spec, record, ctx)
            except _RecordFailure as failure:
                raise ApiError(400, [failure.error.rest_form()]) from None
            return 204, None, {}
        values = self._deserialize(spec, self._body(request))
        if "Id" in values and values["Id"] != record["Id"]:
            raise ApiError.of(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "Unable to create/update fields: Id. "
                "Please check the security settings of this field and verify that it is "
                "read/write for your profile or permission set.",
                ["Id"],
            )
        try:
            self._update_one(spec, record, values, ctx)
        except _RecordFailure as failure:
            raise ApiError(400, [failure.error.rest_form()]) from None
        return 204, None, {}

    def _h_external(
        self, request: Request, version: str, sobject: str, field_name: str, value: str
    ) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        ext = self._external_field(spec, field_name)
        matches = self._match_external(spec, ext.name, value)
        if len(matches) > 1:
            return 300, [self._url(version, spec.name, rid) for rid in matches], {}
        if request.method == "GET":
            if not matches:
                raise _not_found(f"Provided external ID field does not exist or is not accessible: {value}")
            record = self._store.live(matches[0])
            assert record is not None
            fields = self._select_fields(spec, request.args.get("fields"))
            return 200, self._project(record, spec.name, fields, version), {}
        ctx = self._context(request, version)
        if request.method == "DELETE":
            if not matches:
                raise _not_found(f"Provided external ID field does not exist or is not accessible: {value}")
            record = self._store.live(matches[0])
            assert record is not None
            try:
                self._delete_one(spec, record, ctx)
            except _RecordFailure as failure:
                raise ApiError(400, [failure.error.rest_form()]) from None
            return 204, None, {}
        body = self._body(request)
        values = self._deserialize(spec, body)
        if ext.name in values or "Id" in values:
            culprit = ext.name if ext.name in values else "Id"
            raise ApiError.of(
                400,
                "INVALID_FIELD",
                f"Unable to create/update fields: {culprit}. The external ID field and Id "
                "belong in the URL, not in the request body.",
                [culprit],
            )
        try:
            rid, created = self._upsert_one(spec, ext, value, values, ctx)
        except _RecordFailure as failure:
            raise ApiError(400, [failure.error.rest_form()]) from None
        old_style = float(version) < 46.0
        if created:
            body_out: dict[str, Any] = {"id": rid, "success": True, "errors": []}
            if not old_style:
                body_out["created"] = True
            return 201, body_out, {"Location": self._url(version, spec.name, rid)}
        if old_style:
            return 204, None, {}
        return 200, {"id": rid, "success": True, "errors": [], "created": False}, {}

    # ------------------------------------------------------------------------------------------
    # sObject Collections.

    def _collection_records(self, body: Any, *, key: str = "records") -> tuple[bool, list[Any]]:
        if not isinstance(body, dict):
            raise ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of CollectionRequest from START_ARRAY value [line:1, column:1]",
            )
        records = body.get(key)
        if not isinstance(records, list):
            raise ApiError.of(400, "INVALID_FIELD", f"{key}: required field is missing")
        if len(records) > COLLECTION_LIMIT:
            raise ApiError.of(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
            )
        all_or_none = body.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            raise ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of boolean from VALUE_STRING value allOrNone",
            )
        return all_or_none, records

    def _typed(self, record: Any) -> tuple[ObjectSpec, dict[str, Any]]:
        if not isinstance(record, dict):
            raise ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of SObject from VALUE_STRING value [line:1, column:1]",
            )
        attributes = record.get("attributes")
        type_name = attributes.get("type") if isinstance(attributes, dict) else None
        if not isinstance(type_name, str) or not type_name:
            raise ApiError.of(400, "INVALID_TYPE", "Must send a concrete entity type.")
        spec = find_object(type_name)
        if spec is None:
            raise ApiError.of(400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
        return spec, record

    def _run_batch(self, all_or_none: bool, steps: Sequence[Callable[[], _Outcome]]) -> list[_Outcome]:
        with self._store.savepoint() as rollback:
            outcomes = [step() for step in steps]
            if all_or_none and any(not o.ok for o in outcomes):
                rollback()
                rolled = SfError(
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back because not all records were valid and the request was using AllOrNone header",
                )
                outcomes = [o if not o.ok else _Outcome(error=rolled) for o in outcomes]
        return outcomes

    @staticmethod
    def _guard(action: Callable[[], _Outcome]) -> Callable[[], _Outcome]:
        def run() -> _Outcome:
            try:
                return action()
            except _RecordFailure as failure:
                return _Outcome(error=failure.error)

        return run

    @staticmethod
    def _result(outcome: _Outcome, *, upsert: bool = False) -> dict[str, Any]:
        if outcome.error is not None:
            return {"success": False, "errors": [outcome.error.collection_form()]}
        body: dict[str, Any] = {"id": outcome.record_id, "success": True, "errors": []}
        if upsert:
            body["created"] = bool(outcome.created)
        return body

    def _h_composite(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        """``POST /composite``: up to 25 subrequests in one call (one API call against the limit),
        at most 5 of them queries or collections. Subrequests run in order as the same user and are
        answered in ``compositeResponse``. Reference notation (``@{ref.id}``) is not modelled: the
        sandbox refuses it rather than pretend."""
        body = self._body(request)
        subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(subrequests, list) or not subrequests:
            raise ApiError.of(400, "JSON_PARSER_ERROR", "compositeRequest is required")
        if len(subrequests) > 25:
            raise ApiError.of(400, "LIMIT_EXCEEDED", "Composite requests can have at most 25 subrequests")
        heavy = sum(
            1
            for r in subrequests
            if isinstance(r, dict) and re.search(r"/(query|queryAll|composite/sobjects)\b", str(r.get("url", "")))
        )
        if heavy > 5:
            raise ApiError.of(
                400, "LIMIT_EXCEEDED", "Composite requests can have at most 5 query or collection subrequests"
            )
        answers = []
        for sub in subrequests:
            if not isinstance(sub, dict) or not sub.get("url") or not sub.get("method") or not sub.get("referenceId"):
                raise ApiError.of(400, "JSON_PARSER_ERROR", "each subrequest needs method, url and referenceId")
            if "@{" in json.dumps(sub):
                raise ApiError.of(400, "INVALID_FIELD", "reference notation is not supported by this sandbox")
            status, answer, headers = self._subrequest(request, str(sub["method"]), str(sub["url"]), sub.get("body"))
            answers.append(
                {"body": answer, "httpHeaders": headers, "httpStatusCode": status, "referenceId": sub["referenceId"]}
            )
        return 200, {"compositeResponse": answers}, {}

    def _subrequest(self, outer: Request, method: str, url: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(url)
        builder = EnvironBuilder(
            path=parts.path,
            query_string=parts.query,
            method=method.upper(),
            json=body if body is not None else None,
            headers=[
                (k, v)
                for k, v in outer.headers.items()
                if k.lower() in {"authorization", "sforce-duplicate-rule-header"}
            ],
        )
        try:
            inner = Request(builder.get_environ())
        finally:
            builder.close()
        try:
            endpoint, args = _URLS.bind_to_environ(inner.environ).match()
        except HTTPException:
            error = _not_found()
            return error.status, error.body, {}
        if endpoint in {"versions", "composite"} or endpoint.startswith("oauth_"):
            return 400, [{"errorCode": "INVALID_FIELD", "message": f"{parts.path} is not supported in a composite"}], {}
        args = dict(args)
        version = args.pop("version")
        try:
            return getattr(self, f"_h_{endpoint}")(inner, version, **args)  # type: ignore[no-any-return]
        except ApiError as exc:
            return exc.status, exc.body, exc.headers

    def _h_collections(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        if request.method == "DELETE":
            return self._collections_delete(request, version)
        all_or_none, raw_records = self._collection_records(self._body(request))
        ctx = self._context(request, version)
        typed = [self._typed(r) for r in raw_records]
        creating = request.method == "POST"
        prepared = []
        for spec, raw in typed:
            if creating:
                prepared.append((spec, self._deserialize(spec, raw), None))
            else:
                raw_id = next((v for k, v in raw.items() if k.lower() == "id"), None)
                prepared.append((spec, self._deserialize(spec, raw, allow_keys=("id",)), raw_id))
        steps = []
        for spec, values, raw_id in prepared:
            if creating:
                steps.append(self._guard(partial(self._collection_create, spec, values, ctx)))
            else:
                steps.append(self._guard(partial(self._collection_update, spec, values, raw_id, ctx)))
        outcomes = self._run_batch(all_or_none, steps)
        return 200, [self._result(o) for o in outcomes], {}

    def _collection_create(self, spec: ObjectSpec, values: dict[str, Any], ctx: _Context) -> _Outcome:
        return _Outcome(record_id=self._create_one(spec, values, ctx))

    def _collection_update(self, spec: ObjectSpec, values: dict[str, Any], raw_id: Any, ctx: _Context) -> _Outcome:
        if raw_id is None:
            raise _RecordFailure(SfError("MISSING_ARGUMENT", "Id not specified in an update call", ()))
        if not isinstance(raw_id, str) or not is_salesforce_id(raw_id) or object_for_prefix(raw_id[:3]) != spec.name:
            raise _RecordFailure(
                SfError("MALFORMED_ID", f"{spec.label} ID: id value of incorrect type: {raw_id}", ("Id",))
            )
        rid = normalize_id(raw_id)
        existing = self._store.get(rid)
        if existing is None:
            raise _RecordFailure(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ()))
        if existing.get("IsDeleted"):
            raise _RecordFailure(SfError("ENTITY_IS_DELETED", "entity is deleted", ()))
        return _Outcome(record_id=self._update_one(spec, existing, values, ctx))

    def _collections_delete(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        raw_ids = [i for i in (request.args.get("ids") or "").split(",") if i]
        if not raw_ids:
            raise ApiError.of(400, "MISSING_ARGUMENT", "ids: required parameter is missing")
        if len(raw_ids) > COLLECTION_LIMIT:
            raise ApiError.of(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
            )
        all_or_none = (request.args.get("allOrNone") or "false").lower() == "true"
        ctx = self._context(request, version)

        def delete(raw: str) -> _Outcome:
            if not is_salesforce_id(raw):
                raise _RecordFailure(SfError("MALFORMED_ID", f"malformed id {raw}", ()))
            rid = normalize_id(raw)
            record = self._store.get(rid)
            if record is None:
                raise _RecordFailure(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ()))
            if record.get("IsDeleted"):
                raise _RecordFailure(SfError("ENTITY_IS_DELETED", "entity is deleted", ()))
            self._delete_one(OBJECTS[self._store.type_of[rid]], record, ctx)
            return _Outcome(record_id=rid)

        steps = [self._guard(partial(delete, raw)) for raw in raw_ids]
        outcomes = self._run_batch(all_or_none, steps)
        return 200, [self._result(o) for o in outcomes], {}

    def _h_collections_retrieve(self, request: Request, version: str, sobject: str) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        if request.method == "POST":
            body = self._body(request)
            if not isinstance(body, dict):
                raise ApiError.of(400, "JSON_PARSER_ERROR", "Cannot deserialize request body")
            raw_ids = [str(i) for i in body.get("ids") or []]
            raw_fields = ",".join(str(f) for f in body.get("fields") or [])
            limit = 2000
        else:
            raw_ids = [i for i in (request.args.get("ids") or "").split(",") if i]
            raw_fields = request.args.get("fields") or ""
            limit = 800
        if not raw_ids:
            raise ApiError.of(400, "MISSING_ARGUMENT", "ids: required parameter is missing")
        if not raw_fields:
            raise ApiError.of(400, "MISSING_ARGUMENT", "fields: required parameter is missing")
        if len(raw_ids) > limit:
            raise ApiError.of(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {limit} records into this call",
            )
        fields = self._select_fields(spec, raw_fields)
        out: list[dict[str, Any] | None] = []
        for raw in raw_ids:
            if not is_salesforce_id(raw):
                raise ApiError.of(400, "MALFORMED_ID", f"malformed id {raw}")
            rid = normalize_id(raw)
            record = self._store.live(rid)
            if record is None or self._store.type_of.get(rid) != spec.name:
                out.append(None)
            else:
                out.append(self._project(record, spec.name, fields, version))
        return 200, out, {}

    def _h_collections_upsert(
        self, request: Request, version: str, sobject: str, field_name: str
    ) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        ext = self._external_field(spec, field_name)
        all_or_none, raw_records = self._collection_records(self._body(request))
        ctx = self._context(request, version)
        prepared = []
        for raw in raw_records:
            record_spec, raw_record = self._typed(raw)
            if record_spec.name != spec.name:
                raise ApiError.of(
                    400,
                    "INVALID_TYPE",
                    f"Record type {record_spec.name} does not match the type of this request: {spec.name}",
                )
            prepared.append(self._deserialize(spec, raw_record))
        keys = [str(v.get(ext.name)).casefold() for v in prepared if v.get(ext.name) is not None]
        repeated = {k for k in keys if keys.count(k) > 1}

        def upsert(values: dict[str, Any]) -> _Outcome:
            key = values.get(ext.name)
            if key is None:
                raise _RecordFailure(SfError("MISSING_ARGUMENT", f"{ext.name} not specified", ()))
            if str(key).casefold() in repeated:
                raise _RecordFailure(
                    SfError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {key}", (ext.name,))
                )
            rest = {k: v for k, v in values.items() if k != ext.name}
            rid, created = self._upsert_one(spec, ext, key, rest, ctx)
            return _Outcome(record_id=rid, created=created)

        steps = [self._guard(partial(upsert, values)) for values in prepared]
        outcomes = self._run_batch(all_or_none, steps)
        return 200, [self._result(o, upsert=True) for o in outcomes], {}

    # ------------------------------------------------------------------------------------------
    # SOQL.

    def _batch_size(self, request: Request) -> int:
        header = request.headers.get("Sforce-Query-Options", "")
        m = re.search(r"batchSize\s*=\s*(\d+)", header)
        if m is None:
            return DEFAULT_BATCH_SIZE
        return min(max(int(m.group(1)), MIN_BATCH_SIZE), DEFAULT_BATCH_SIZE)

    def _h_query(self, request: Request, version: str, endpoint_name: str) -> tuple[int, Any, dict[str, str]]:
        text = request.args.get("q")
        if not text:
            raise ApiError.of(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            query = soql.parse(text)
        except soql.SoqlError as exc:
            raise ApiError(400, [{"message": exc.message, "errorCode": exc.error_code}]) from None
        include_deleted = endpoint_name == "queryAll"
        predicate = soql.compile_where(query.where)
        matched: list[Mapping[str, Any]] = [
            r
            for r in self._store.records(query.sobject.name)
            if (include_deleted or not r.get("IsDeleted")) and predicate(r)
        ]
        if query.order_by:
            matched = soql.order_records(matched, query.order_by)
        if query.offset:
            matched = matched[query.offset :]
        if query.limit is not None:
            matched = matched[: query.limit]
        if query.count_only:
            return 200, {"totalSize": len(matched), "done": True, "records": []}, {}
        cursor = _Cursor(
            sobject=query.sobject.name,
            fields=tuple(f.name for f in query.fields),
            records=matched,
            batch_size=self._batch_size(request),
            endpoint=endpoint_name,
            version=version,
        )
        return 200, self._page(cursor, 0, None), {}

    def _page(self, cursor: _Cursor, start: int, locator: str | None) -> dict[str, Any]:
        end = min(start + cursor.batch_size, len(cursor.records))
        records = [self._project(r, cursor.sobject, cursor.fields, cursor.version) for r in cursor.records[start:end]]
        body: dict[str, Any] = {"totalSize": len(cursor.records), "done": end >= len(cursor.records)}
        if end < len(cursor.records):
            if locator is None:
                locator = make_id("01g", self._counter_bump())
                cursor.touched = time.monotonic()
                self._cursors[locator] = cursor
                while len(self._cursors) > MAX_OPEN_CURSORS:
                    self._cursors.popitem(last=False)
            body["nextRecordsUrl"] = f"/services/data/v{cursor.version}/{cursor.endpoint}/{locator}-{end}"
        body["records"] = records
        return body

    def _counter_bump(self) -> int:
        self._counter += 1
        return self._counter

    def _h_query_more(self, request: Request, version: str, locator: str) -> tuple[int, Any, dict[str, str]]:
        cursor_id, _, position = locator.partition("-")
        cursor = self._cursors.get(cursor_id)
        if cursor is not None and time.monotonic() - cursor.touched > CURSOR_TTL.total_seconds():
            del self._cursors[cursor_id]
            cursor = None
        if cursor is None or not position.isdigit() or int(position) > len(cursor.records):
            raise ApiError.of(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        self._cursors.move_to_end(cursor_id)
        cursor.touched = time.monotonic()
        return 200, self._page(cursor, int(position), cursor_id), {}

    # ------------------------------------------------------------------------------------------
    # OAuth 2.0 (web-server flow with client secret or PKCE, refresh token, revoke, userinfo).

    def _oauth(self, endpoint: str, request: Request) -> Response:
        handler = getattr(self, f"_{endpoint}")
        result: Response = handler(request)
        return result

    @staticmethod
    def _oauth_error(error: str, description: str, status: int = 400) -> Response:
        return Response(
            json.dumps({"error": error, "error_description": description}),
            status=status,
            content_type=_JSON_TYPE,
        )

    def _oauth_authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != self.client_id:
            return Response(
                "error=invalid_client_id&error_description=client%20identifier%20invalid",
                status=400,
                content_type="text/plain",
            )
        redirect_uri = args.get("redirect_uri")
        if not redirect_uri or urlsplit(redirect_uri).scheme not in {"http", "https"}:
            return Response(
                "error=redirect_uri_mismatch&error_description=redirect_uri%20must%20match%20configuration",
                status=400,
                content_type="text/plain",
            )
        state = args.get("state")
        if args.get("response_type") != "code":
            return _redirect(
                redirect_uri,
                {
                    "error": "unsupported_response_type",
                    "error_description": "response type not supported",
                    "state": state,
                },
            )
        method = args.get("code_challenge_method") or ("S256" if args.get("code_challenge") else None)
        if method not in {None, "S256", "plain"}:
            return _redirect(
                redirect_uri,
                {
                    "error": "invalid_request",
                    "error_description": "invalid code_challenge_method",
                    "state": state,
                },
            )
        code = "aPrx" + secrets.token_urlsafe(48)
        token = _Token(
            kind="code",
            client_id=self.client_id,
            scope=args.get("scope") or "api refresh_token",
            issued_at=time.time(),
            redirect_uri=redirect_uri,
            code_challenge=args.get("code_challenge"),
            code_challenge_method=method,
        )
        self._tokens[code] = token
        self._persist_token(code, token)
        return _redirect(redirect_uri, {"code": code, "state": state})

    def _client_credentials(self, request: Request) -> tuple[str | None, str | None]:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
            except (ValueError, UnicodeDecodeError):
                return None, None
            client_id, _, secret = decoded.partition(":")
            return unquote_plus(client_id), unquote_plus(secret)
        return request.form.get("client_id"), request.form.get("client_secret")

    def _oauth_token(self, request: Request) -> Response:
        form = request.form
        client_id, secret = self._client_credentials(request)
        if client_id != self.client_id:
            return self._oauth_error("invalid_client_id", "client identifier invalid")
        if secret is not None and not hmac.compare_digest(secret, self.client_secret):
            return self._oauth_error("invalid_client", "invalid client credentials")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._grant_code(request, secret)
        if grant == "refresh_token":
            refresh_value = form.get("refresh_token") or ""
            refresh = self._tokens.get(refresh_value)
            if refresh is None or refresh.kind != "refresh" or refresh.revoked or refresh.client_id != client_id:
                return self._oauth_error("invalid_grant", "expired access/refresh token")
            access = self._new_access_token(client_id=client_id, scope=refresh.scope, refresh=refresh_value)
            return self._token_response(request, access, None, refresh.scope)
        return self._oauth_error("unsupported_grant_type", "grant type not supported")

    def _grant_code(self, request: Request, secret: str | None) -> Response:
        form = request.form
        code_value = form.get("code") or ""
        code = self._tokens.get(code_value)
        if code is None or code.kind != "code" or code.revoked:
            return self._oauth_error("invalid_grant", "invalid authorization code")
        if time.time() - code.issued_at > AUTH_CODE_TTL.total_seconds():
            return self._oauth_error("invalid_grant", "expired authorization code")
        if form.get("redirect_uri") != code.redirect_uri:
            return self._oauth_error("redirect_uri_mismatch", "redirect_uri must match configuration")
        verifier = form.get("code_verifier")
        if code.code_challenge:
            # Salesforce: a missing verifier is invalid_grant, a verifier that does not match is
            # invalid_request (REST API Developer Guide, web server flow).
            if verifier is None:
                return self._oauth_error("invalid_grant", "code verifier is required")
            expected = _s256(verifier) if code.code_challenge_method == "S256" else verifier
            if not hmac.compare_digest(expected, code.code_challenge):
                return self._oauth_error("invalid_request", "invalid code verifier")
        elif secret is None:
            return self._oauth_error("invalid_client", "invalid client credentials")
        code.revoked = True  # codes are single use
        self._persist_token(code_value, code)
        refresh_value = "5Aep" + secrets.token_urlsafe(64)
        refresh = _Token(kind="refresh", client_id=code.client_id, scope=code.scope, issued_at=time.time())
        self._tokens[refresh_value] = refresh
        self._persist_token(refresh_value, refresh)
        access = self._new_access_token(client_id=code.client_id, scope=code.scope, refresh=refresh_value)
        return self._token_response(request, access, refresh_value, code.scope)

    def _token_response(self, request: Request, access: str, refresh: str | None, scope: str) -> Response:
        instance_url = request.host_url.rstrip("/")
        identity = f"{instance_url}/id/{ORG_ID}/{self.user_id}"
        issued_at = str(int(time.time() * 1000))
        signature = base64.b64encode(
            hmac.new(self.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
        ).decode()
        body: dict[str, Any] = {"access_token": access}
        if refresh is not None:
            body["refresh_token"] = refresh
        body.update(
            {
                "signature": signature,
                "scope": scope,
                "instance_url": instance_url,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
            }
        )
        logger.debug("issued sandbox access token for client %s", self.client_id)
        return Response(
            json.dumps(body),
            status=200,
            content_type=_JSON_TYPE,
            headers={"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"},
        )

    def _oauth_revoke(self, request: Request) -> Response:
        value = request.values.get("token") or ""
        token = self._tokens.get(value)
        if token is None or token.kind == "code" or token.revoked:
            return self._oauth_error("unsupported_token_type", "this token type is not supported")
        token.revoked = True
        self._persist_token(value, token)
        if token.kind == "refresh":
            for other_value, other in self._tokens.items():
                if other.refresh == value and not other.revoked:
                    other.revoked = True
                    self._persist_token(other_value, other)
        return Response(status=200)

    def _oauth_userinfo(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        _, _, value = header.partition(" ")
        token = self._tokens.get(value.strip())
        if token is None or token.kind != "access" or token.revoked or token.expired:
            return Response("Bad_OAuth_Token", status=403, content_type="text/plain")
        user = self._store.get(self.user_id) or {}
        instance_url = request.host_url.rstrip("/")
        body = {
            "sub": f"{instance_url}/id/{ORG_ID}/{self.user_id}",
            "user_id": self.user_id,
            "organization_id": ORG_ID,
            "preferred_username": user.get("Username"),
            "nickname": user.get("Alias"),
            "name": user.get("Name"),
            "email": user.get("Email"),
            "email_verified": True,
            "given_name": user.get("FirstName"),
            "family_name": user.get("LastName"),
            "zoneinfo": user.get("TimeZoneSidKey"),
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": -18000000,
            "updated_at": user.get("LastModifiedDate"),
        }
        return Response(json.dumps(body), status=200, content_type=_JSON_TYPE)


# --------------------------------------------------------------------------------------------------
# Module helpers.


def _converted_lead() -> SfError:
    """What Salesforce answers for a write to, or a reference to, a converted lead."""
    return SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", ())


def _locked_fields(names: Sequence[str]) -> SfError:
    return SfError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(names)}. Please check the security settings of this "
        "field and verify that it is read/write for your profile or permission set.",
        tuple(names),
    )


def _json_token(raw: Any) -> str:
    if isinstance(raw, bool):
        return "VALUE_TRUE" if raw else "VALUE_FALSE"
    if isinstance(raw, (int, float)):
        return "VALUE_NUMBER_INT" if isinstance(raw, int) else "VALUE_NUMBER_FLOAT"
    if isinstance(raw, dict):
        return "START_OBJECT"
    if isinstance(raw, list):
        return "START_ARRAY"
    return "VALUE_STRING"


def _parse_datetime_input(text: str) -> datetime | None:
    """Datetimes Salesforce accepts on write: ISO 8601 with ``Z``, ``+hh:mm`` or ``+hhmm`` (UTC if none)."""
    m = _DATETIME_IN.fullmatch(text)
    if m is None:
        return None
    day, hour, minute, second, fraction, zone = m.groups()
    try:
        value = datetime.fromisoformat(
            f"{day}T{hour or '00'}:{minute or '00'}:{second or '00'}"
            f"{'.' + (fraction or '0')[:6].ljust(6, '0') if fraction else ''}"
        )
    except ValueError:
        return None
    if zone in (None, "Z"):
        return value.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (value - sign * offset).replace(tzinfo=UTC)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redirect(uri: str, params: Mapping[str, str | None]) -> Response:
    parts = urlsplit(uri)
    query = "&".join(p for p in (parts.query, urlencode({k: v for k, v in params.items() if v is not None})) if p)
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return Response(status=302, headers={"Location": location})


def ensure_tls_files(cert_dir: Path) -> tuple[Path, Path, Path]:
    """The sandbox's TLS files in ``cert_dir``, made with a trustme CA the first time.

    Returns:
        ``(ca.pem, server.pem, server.key)``: the CA bundle clients trust, and the certificate chain
        and key of the server (valid for 127.0.0.1 and localhost).
    """
    ca_path, cert_path, key_path = cert_dir / "ca.pem", cert_dir / "server.pem", cert_dir / "server.key"
    if ca_path.exists() and cert_path.exists() and key_path.exists():
        return ca_path, cert_path, key_path
    cert_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="nurturehub sandbox CA")
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(ca_path))
    server_cert.private_key_pem.write_to_path(str(key_path))
    cert_path.write_bytes(b"".join(pem.bytes() for pem in server_cert.cert_chain_pems))
    return ca_path, cert_path, key_path


def serve_salesforce(
    sandbox: SalesforceSandbox, *, port: int = 0, cert_dir: Path | None = None
) -> tuple[SandboxServer, Path]:
    """Start ``sandbox`` over TLS on a loopback port, with a certificate from a trustme CA.

    Args:
        sandbox: the org to serve.
        port: the port to bind (0 picks a free one).
        cert_dir: where the CA and the server certificate live; written once and reused (the demo).
            Without it they go to a fresh temporary directory.

    Returns:
        The running server (``server.url`` is the instance URL) and the CA bundle (PEM) that clients
        must trust (``session.verify = str(ca_path)``).
    """
    directory = cert_dir if cert_dir is not None else Path(tempfile.mkdtemp(prefix="nurturehub-sf-tls-"))
    ca_path, cert_path, key_path = ensure_tls_files(directory)
    server = SandboxServer(sandbox, port=port, ssl_context=tls_context(cert_path, key_path))
    server.start()
    logger.info("salesforce sandbox listening on %s", server.url)
    return server, ca_path
