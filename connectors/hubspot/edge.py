"""The HubSpot connector's edge: the SDK client, the rate limiters, retries, and the one table that
translates what HubSpot answers into the hub's error tree (``nurture.errors``).

Every request the connector sends goes through :meth:`HubSpotEdge.call`::

    call ──► search bucket (searches only) ──► portal bucket ──► SDK ``*_with_http_info``
      ▲                                                             │
      └──── retry: 401 once after a token refresh; 429 after Retry-After; 5xx / network after backoff

What a failure means is decided by :data:`RULES`, read top to bottom (first match wins). A record
that HubSpot refused surfaces as :class:`Refused` (a ``SkipRecord``), which batch writers catch to
isolate the bad input; everything else leaves as ``ConfigError``, ``RetryLater``,
``BudgetExhausted`` or ``FatalError``. Messages carry ids, codes and property names, never values:
HubSpot's own error messages quote values, so they are parsed here and then dropped.

Every other way the SDK can fail — refusing a request client-side, or an answer its generated
models cannot read (a missing required field when ``validate_responses`` is on, a body that is not
JSON, an unexpected type) — is a :class:`~nurture.errors.FatalError` naming the call: no vendor or
Python exception leaves the edge.

Per-record errors of a batch answered 207 Multi-Status are values (:func:`record_failures`), turned
into failures and classified by :func:`retriable` (fix the data, or try again later).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Any

import hubspot
import urllib3
from hubspot.crm.associations.v4 import exceptions as associations_errors
from hubspot.crm.contacts import exceptions as contacts_errors
from hubspot.crm.objects.tasks import exceptions as tasks_errors
from hubspot.crm.owners import exceptions as owners_errors
from hubspot.crm.properties import exceptions as properties_errors
from urllib3.util import Retry

from connectors.base import OAuthToken, TokenSource
from connectors.limits import RetryPolicy, TokenBucket
from nurture.errors import BudgetExhausted, ConfigError, FatalError, RetryLater, SkipRecord

__all__ = [
    "RETRIABLE_CATEGORIES",
    "RULES",
    "Action",
    "Failure",
    "HubSpotEdge",
    "Limits",
    "Refused",
    "record_failures",
    "retriable",
    "translate",
]

logger = logging.getLogger(__name__)

SYSTEM = "hubspot"

#: The SDK generates one exception family per API package; these are the packages the connector uses.
_API_ERRORS: tuple[type[Exception], ...] = (
    contacts_errors.ApiException,
    tasks_errors.ApiException,
    associations_errors.ApiException,
    properties_errors.ApiException,
    owners_errors.ApiException,
)
_SDK_ERRORS: tuple[type[Exception], ...] = (
    contacts_errors.OpenApiException,
    tasks_errors.OpenApiException,
    associations_errors.OpenApiException,
    properties_errors.OpenApiException,
    owners_errors.OpenApiException,
)
_NON_UNIQUE = re.compile(r"non-unique \S+ property (\S+)")
_UNIQUE_CLASH = re.compile(r"for property '([^']+)'")
_EXISTING_ID = re.compile(r"Existing ID: (\d+)")
_MODEL_FIELD = re.compile(r"Invalid value for `([A-Za-z_][A-Za-z0-9_]*)`")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """How hard the connector may push HubSpot, and how long it waits before giving up.

    Attributes:
        requests_per_second: sustained rate of all calls (HubSpot allows 100 per 10 s on Starter).
        burst: calls allowed back to back before the rate applies.
        searches_per_second: sustained rate of search calls (HubSpot allows 5 per second).
        max_retries: retries of one call after 429s, 5xx and network errors before ``RetryLater``.
        max_wait_s: the longest Retry-After (or backoff) slept in place; longer raises ``RetryLater``.
        backoff_s: the first backoff after a 5xx or network error (doubles each retry).
        timeout_s: socket timeout of one request.
    """

    requests_per_second: float
    burst: int
    searches_per_second: float
    max_retries: int
    max_wait_s: float
    backoff_s: float
    timeout_s: float

    @property
    def retry_policy(self) -> RetryPolicy:
        """How one call retries in place (connectors.limits)."""
        return RetryPolicy(self.max_retries, self.max_wait_s, self.backoff_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A failed request, as far as the error table needs to know it (no values kept).

    Attributes:
        status: HTTP status; 0 for a network error (no answer).
        category: HubSpot's ``category`` (``VALIDATION_ERROR``, ``CONFLICT`` …) or ``errorType``.
        sub_category: HubSpot's ``subCategory``, if any.
        policy: the rate-limit policy of a 429 (``SECONDLY``, ``TEN_SECONDLY_ROLLING``, ``DAILY``).
        codes: the ``code`` of each entry of ``errors[]``.
        properties: property names from ``errors[].context.propertyName`` and the message.
        retry_after: the Retry-After header, as sent.
        correlation_id: HubSpot's id for the failed request (safe to log, useful to their support).
        non_unique_id: the message says an upsert named a property that is not unique.
        unknown_object: the message says the object type does not exist.
        existing_id: a 409 "Contact already exists. Existing ID: …": the contact that holds the email.
        clash_id: any 409 conflict's "Existing ID: …": the record already holding the unique value.
        bad_association: the message says an association is invalid (its target does not exist).
    """

    status: int
    category: str = ""
    sub_category: str = ""
    policy: str = ""
    codes: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    retry_after: str | None = None
    correlation_id: str = ""
    non_unique_id: bool = False
    unknown_object: bool = False
    existing_id: str | None = None
    clash_id: str | None = None
    bad_association: bool = False

    @property
    def code(self) -> str:
        """The most specific code there is: the first ``errors[].code``, else the category."""
        return self.codes[0] if self.codes else (self.category or f"HTTP_{self.status}")


class Action(Enum):
    """What :meth:`HubSpotEdge.call` does with a failure."""

    REFRESH = "refresh the token once and retry; a second 401 is ConfigError"
    SCOPE = "ConfigError: the token lacks a scope"
    BUDGET = "BudgetExhausted: the daily allowance is spent"
    WAIT = "hold every call until Retry-After, retry (RetryLater after max_retries or a long wait)"
    BACKOFF = "back off exponentially, retry (RetryLater after max_retries)"
    MISSING = "ConfigError: the object, property or owner does not exist"
    UNKNOWN_PROPERTY = "ConfigError naming the property: run `nurturehub crm setup`"
    NOT_UNIQUE = "ConfigError: the idProperty is not a unique property"
    REFUSED = "Refused (a SkipRecord): batch writers isolate the bad input"
    FATAL = "FatalError: a request the connector should never send"


#: The error table: (what HubSpot answered, how to recognise it, what the connector does).
RULES: tuple[tuple[str, Callable[[Failure], bool], Action], ...] = (
    ("401 any", lambda f: f.status == 401, Action.REFRESH),
    ("403 any", lambda f: f.status == 403, Action.SCOPE),
    ("429 policyName DAILY", lambda f: f.status == 429 and f.policy == "DAILY", Action.BUDGET),
    ("429 SECONDLY / TEN_SECONDLY_ROLLING", lambda f: f.status == 429, Action.WAIT),
    ("5xx, network error", lambda f: f.status == 0 or f.status >= 500, Action.BACKOFF),
    ("404 any", lambda f: f.status == 404, Action.MISSING),
    ("400 unknown object type", lambda f: f.unknown_object, Action.MISSING),
    ("400 PROPERTY_DOESNT_EXIST", lambda f: "PROPERTY_DOESNT_EXIST" in f.codes, Action.UNKNOWN_PROPERTY),
    ("400 upsert by a non-unique property", lambda f: f.non_unique_id, Action.NOT_UNIQUE),
    ("400 / 409 / 422 other", lambda f: f.status in (400, 409, 422), Action.REFUSED),
    ("anything else", lambda f: True, Action.FATAL),
)


def action_for(failure: Failure) -> Action:
    """The first rule of :data:`RULES` that matches ``failure``."""
    return next(action for _, matches, action in RULES if matches(failure))


class Refused(SkipRecord):
    """HubSpot refused a request because of what it carried (a 400, 409 or 422).

    Batch writers catch it and split the batch to find the input at fault; anywhere else it is a
    ``SkipRecord`` for the one thing that was sent.

    Attributes:
        failure: what HubSpot said (codes, category, property names; no values).
    """

    def __init__(self, what: str, failure: Failure) -> None:
        field = failure.properties[0] if failure.properties else None
        super().__init__(
            f"HubSpot refused {what}: {failure.status} {failure.code}"
            + (f" on {field}" if field else "")
            + (f" (correlation {failure.correlation_id})" if failure.correlation_id else ""),
            field=field,
            code=failure.code,
        )
        self.failure = failure


def failure_of(exc: BaseException) -> Failure | None:
    """What the error table needs from an SDK or urllib3 exception; None for anything else."""
    if isinstance(exc, _API_ERRORS):
        status = int(getattr(exc, "status", 0) or 0)
        headers = getattr(exc, "headers", None) or {}
        return _parse_failure(status, getattr(exc, "body", None), headers)
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return Failure(status=0, category="NETWORK_ERROR")
    return None


def _parse_failure(status: int, raw_body: Any, headers: Mapping[str, str]) -> Failure:
    body: dict[str, Any] = {}
    if raw_body:
        try:
            parsed = json.loads(raw_body)
        except (TypeError, ValueError):
            parsed = None
        if isinstance(parsed, dict):
            body = parsed
    codes: list[str] = []
    properties: list[str] = []
    for entry in body.get("errors") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("code"):
            codes.append(str(entry["code"]))
        context = entry.get("context")
        names = context.get("propertyName") if isinstance(context, dict) else None
        for name in names if isinstance(names, list) else []:
            if str(name) not in properties:
                properties.append(str(name))
    message = str(body.get("message") or "")
    non_unique = _NON_UNIQUE.search(message) if "upsert" in message else None
    clash = _UNIQUE_CLASH.search(message)
    if non_unique:
        properties.append(non_unique.group(1))
    elif clash and clash.group(1) not in properties:
        properties.append(clash.group(1))
    existing = clash_id = None
    if body.get("category") == "CONFLICT":
        found = _EXISTING_ID.search(message)
        clash_id = found.group(1) if found else None
        if message.startswith("Contact already exists"):
            if not (clash or non_unique):
                properties.append("email")
            existing = clash_id
    return Failure(
        status=status,
        category=str(body.get("category") or body.get("errorType") or ""),
        sub_category=str(body.get("subCategory") or ""),
        policy=str(body.get("policyName") or ""),
        codes=tuple(codes),
        properties=tuple(properties),
        retry_after=headers.get("Retry-After"),
        correlation_id=str(body.get("correlationId") or ""),
        non_unique_id=non_unique is not None,
        unknown_object=body.get("subCategory") == "INVALID_OBJECT_TYPE"
        or message.startswith("Unable to infer object type"),
        existing_id=existing,
        clash_id=clash_id,
        bad_association="association" in message.lower() and body.get("category") != "CONFLICT",
    )


#: Per-record error categories of a 207 that say "this record is fine, send it again later" (the
#: others say "fix the data": VALIDATION_ERROR, CONFLICT, OBJECT_NOT_FOUND …).
RETRIABLE_CATEGORIES = frozenset({"RATE_LIMITS", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT", "LOCKED"})


def retriable(failure: Failure) -> bool:
    """Whether one record's failure is transient (retry later) rather than a problem with the data."""
    return failure.category in RETRIABLE_CATEGORIES or failure.status == 0 or failure.status >= 500


def record_failures(data: Any) -> dict[str, Failure]:
    """The per-record errors of a batch answered 207 Multi-Status, by the ``objectWriteTraceId`` of
    the input each is about (HubSpot's multi-status mode: every input carries a trace id).

    An error names its input in ``context.objectWriteTraceId`` (or, on some endpoints, ``id``); an
    error naming no input is ignored here, and the input it was about gets no result — the batch
    writers treat that as retriable ``NO_RESULT``.
    """
    found: dict[str, Failure] = {}
    for error in getattr(data, "errors", None) or []:
        context = getattr(error, "context", None) or {}
        traces = [str(t) for t in context.get("objectWriteTraceId") or []]
        if not traces and getattr(error, "id", None):
            traces = [str(error.id)]
        body = {
            "category": getattr(error, "category", "") or "",
            "subCategory": getattr(error, "sub_category", "") or "",
            "message": getattr(error, "message", "") or "",
            "errors": [
                {"code": getattr(d, "code", None), "context": getattr(d, "context", None) or {}}
                for d in getattr(error, "errors", None) or []
            ],
        }
        status = 409 if body["category"] == "CONFLICT" else 400
        failure = _parse_failure(status, json.dumps(body), {})
        for trace in traces:
            found.setdefault(trace, failure)
    return found


class _Apis:
    """The SDK's API objects for one access token, built once each (every ``client.crm.…`` access
    would otherwise build a new ApiClient and connection pool)."""

    def __init__(self, token: OAuthToken, host: str, timeout_s: float, *, validate: bool = False) -> None:
        self.client = hubspot.Client.create(
            access_token=token.access_token,
            host=host,
            retry=Retry(total=0, respect_retry_after_header=False, raise_on_status=False),
            # Copied onto each generated Configuration: answers are deserialised into the SDK's
            # models with their required fields and enums checked.
            client_side_validation=validate,
        )
        self.timeout = timeout_s

    @cached_property
    def contacts_batch(self) -> Any:
        return self.client.crm.contacts.batch_api

    @cached_property
    def contacts_search(self) -> Any:
        return self.client.crm.contacts.search_api

    @cached_property
    def tasks_batch(self) -> Any:
        return self.client.crm.objects.tasks.batch_api

    @cached_property
    def tasks_search(self) -> Any:
        return self.client.crm.objects.tasks.search_api

    @cached_property
    def associations(self) -> Any:
        return self.client.crm.associations.v4.batch_api

    @cached_property
    def properties(self) -> Any:
        return self.client.crm.properties.core_api

    @cached_property
    def groups(self) -> Any:
        return self.client.crm.properties.groups_api

    @cached_property
    def owners(self) -> Any:
        return self.client.crm.owners.owners_api

    def close(self) -> None:
        """Close the connection pools of every API object built."""
        for name in ("contacts_batch", "contacts_search", "tasks_batch", "tasks_search", "associations"):
            self._clear(name)
        for name in ("properties", "groups", "owners"):
            self._clear(name)

    def _clear(self, name: str) -> None:
        api = self.__dict__.get(name)
        if api is not None:
            api.api_client.rest_client.pool_manager.clear()


class HubSpotEdge:
    """Sends SDK calls to one HubSpot portal within its limits, and translates what goes wrong.

    Args:
        host: the API host (``https://api.hubapi.com``, or a sandbox).
        tokens: where the access token comes from; ``refresh`` is called once on a 401.
        limits: rates, retries and waits.
        sleep: how to wait (tests pass a fake).
        monotonic: the clock the rate limiters read.
        validate: deserialise answers with the SDK's client-side validation (required fields,
            enums): an answer that does not fit HubSpot's published models is a ``FatalError``.
    """

    def __init__(
        self,
        *,
        host: str,
        tokens: TokenSource,
        limits: Limits,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        validate: bool = False,
    ) -> None:
        self.host = host
        self.limits = limits
        self.validate = validate
        self._tokens = tokens
        self._sleep = sleep
        self.bucket = TokenBucket(limits.requests_per_second, limits.burst, monotonic=monotonic, sleep=sleep)
        self.search_bucket = TokenBucket(limits.searches_per_second, 1, monotonic=monotonic, sleep=sleep)
        self._lock = threading.Lock()
        self._generation = 0
        self._apis: _Apis | None = None
        #: HubSpot's count of today's calls, from the last response that carried the daily headers.
        self.daily_limit: int | None = None
        self.daily_remaining: int | None = None
        #: Calls sent (including retried ones), for reports and tests.
        self.calls = 0

    def call(self, what: str, request: Callable[[_Apis], Any], *, search: bool = False, idempotent: bool = True) -> Any:
        """Send one request (an SDK ``*_with_http_info`` call) and answer its data.

        Args:
            what: a name for logs and errors (``contacts.batch.upsert``): no values.
            request: makes the call with the current API objects and answers ``(data, status, headers)``.
            search: the call is a CRM search (also limited by the search bucket).
            idempotent: sending it twice does no harm. A 5xx or network error may come after HubSpot
                did the work, so a call that is not idempotent (a batch create) is not retried in
                place: it raises ``RetryLater`` and the hub retries later, by when a search finds
                what the first attempt made. A 429 is always retried: HubSpot did nothing.

        Raises:
            Refused: HubSpot refused what was sent (400/409/422 not otherwise explained).
            ConfigError: bad credentials after a refresh, a missing scope, object or property.
            BudgetExhausted: the daily allowance is spent.
            RetryLater: 429s, 5xx or network errors outlasted the retries, or HubSpot asked for a
                longer wait than ``max_wait_s``.
            FatalError: any other answer.
        """
        refreshed = False
        attempt = 0
        while True:
            if search:
                self.search_bucket.acquire()
            self.bucket.acquire()
            generation, apis = self._current()
            self.calls += 1
            try:
                data, status, headers = request(apis)
            except Exception as exc:  # the SDK's, urllib3's, or its models' (ValueError, TypeError …)
                failure = failure_of(exc)
                if failure is None:
                    raise _unreadable(what, exc) from None
            else:
                self._note_usage(headers)
                if not _is_model(data):
                    raise FatalError(
                        f"hubspot {what}: HubSpot answered {status} with a body the SDK could not read as "
                        f"its model (got {type(data).__name__})"
                    )
                return data
            action = action_for(failure)
            if action is Action.REFRESH:
                if refreshed:
                    raise ConfigError(
                        [
                            f"hubspot connection ({self.host}): the access token was refused after a "
                            f"refresh ({failure.category or 'HTTP 401'}); reconnect HubSpot"
                        ],
                        source=SYSTEM,
                    ) from None
                refreshed = True
                self._renew(generation)
                continue
            if action in (Action.WAIT, Action.BACKOFF):
                attempt += 1
                wait = self.wait_for(failure, action, attempt)
                unsafe = action is Action.BACKOFF and not idempotent
                if unsafe or self.limits.retry_policy.gives_up(attempt, wait):
                    logger.warning(
                        "hubspot %s: giving up after %d attempt(s) (%s %s)",
                        what, attempt, failure.status, failure.policy or failure.category,
                    )  # fmt: skip
                    raise RetryLater(
                        f"hubspot {what}: {failure.status} {failure.policy or failure.category} "
                        f"after {attempt} attempt(s)",
                        retry_after=wait,
                    ) from None
                logger.info(
                    "hubspot %s: %s %s, retrying in %.2f s (attempt %d)",
                    what, failure.status, failure.policy or failure.category, wait, attempt,
                )  # fmt: skip
                if action is Action.WAIT:
                    self.bucket.hold_until(wait)  # HubSpot's limits are per portal: hold every caller
                else:
                    self._sleep(wait)
                continue
            raise self._translate(what, failure, action) from None

    def _translate(self, what: str, failure: Failure, action: Action) -> Exception:
        logger.info("hubspot %s: %s %s (correlation %s)", what, failure.status, failure.code, failure.correlation_id)
        return translate(what, failure, action)

    def wait_for(self, failure: Failure, action: Action, attempt: int) -> float:
        """Seconds to wait before retry ``attempt``: Retry-After (else 1 s, or 10 s for the rolling
        10-second limit) for a 429, exponential backoff for a 5xx or network error."""
        policy = self.limits.retry_policy
        if action is Action.WAIT:
            default = 10.0 if failure.policy == "TEN_SECONDLY_ROLLING" else 1.0
            return policy.wait(attempt, failure.retry_after, default=default)
        return policy.backoff(attempt)

    def _current(self) -> tuple[int, _Apis]:
        with self._lock:
            if self._apis is None:
                self._apis = _Apis(self._tokens.token(), self.host, self.limits.timeout_s, validate=self.validate)
            return self._generation, self._apis

    def _renew(self, generation: int) -> None:
        """A new token and client, unless another thread already renewed since ``generation``."""
        with self._lock:
            if generation != self._generation:
                return
            token = self._tokens.refresh()
            logger.info("hubspot: access token refreshed after a 401")
            old, self._apis = self._apis, _Apis(token, self.host, self.limits.timeout_s, validate=self.validate)
            self._generation += 1
        if old is not None:
            old.close()

    def _note_usage(self, headers: Mapping[str, str] | None) -> None:
        if not headers:
            return
        limit = _int_or_none(headers.get("X-HubSpot-RateLimit-Daily"))
        remaining = _int_or_none(headers.get("X-HubSpot-RateLimit-Daily-Remaining"))
        if limit is not None and remaining is not None:
            self.daily_limit, self.daily_remaining = limit, remaining

    def close(self) -> None:
        """Close the connection pools."""
        with self._lock:
            apis, self._apis = self._apis, None
        if apis is not None:
            apis.close()


def translate(what: str, failure: Failure, action: Action) -> Exception:
    """The hub's error for a failure :data:`RULES` gave ``action`` (not the retried ones)."""
    if action is Action.BUDGET:
        return BudgetExhausted(f"hubspot {what}: the daily API allowance is spent")
    if action is Action.SCOPE:
        return ConfigError(
            [f"hubspot {what}: the access token lacks a required scope ({failure.category})"],
            source=SYSTEM,
        )
    if action is Action.MISSING:
        return ConfigError(
            [f"hubspot {what}: not found ({failure.code}); check the object name and owners, or run "
             "`nurturehub crm setup`"],
            source=SYSTEM,
        )  # fmt: skip
    if action is Action.UNKNOWN_PROPERTY:
        names = ", ".join(failure.properties) or "a property"
        return ConfigError(
            [f"hubspot property {names} does not exist ({what}): run `nurturehub crm setup`"],
            source=SYSTEM,
        )
    if action is Action.NOT_UNIQUE:
        names = ", ".join(failure.properties) or "the idProperty"
        return ConfigError(
            [f"hubspot property {names} is not unique, so HubSpot refuses to upsert by it ({what}): "
             "run `nurturehub crm setup`"],
            source=SYSTEM,
        )  # fmt: skip
    if action is Action.REFUSED:
        return Refused(what, failure)
    return FatalError(
        f"hubspot {what}: unexpected answer {failure.status} {failure.code} "
        f"(correlation {failure.correlation_id or 'none'})"
    )


def _unreadable(what: str, exc: BaseException) -> FatalError:
    """The connector's error for an SDK failure that is not an HTTP answer: a request the SDK
    refused client-side, or an answer its models cannot hold. Only the exception's type and the
    SDK's sentence about a field are kept (model errors name fields, never values)."""
    if isinstance(exc, _SDK_ERRORS):
        return FatalError(f"hubspot {what}: the SDK refused the request ({type(exc).__name__})")
    named = _MODEL_FIELD.search(str(exc)) if isinstance(exc, ValueError) else None
    detail = f": field `{named.group(1)}` missing or invalid" if named else ""
    return FatalError(f"hubspot {what}: HubSpot's answer does not fit the SDK's model ({type(exc).__name__}{detail})")


def _is_model(data: Any) -> bool:
    """Whether ``data`` is one of the SDK's generated models holding something (what every call the
    connector makes answers with). A plain string or None, or a model with every field empty (how
    the SDK, without validation, reads a body that is not JSON), means the answer was unreadable."""
    fields: Mapping[str, str] = getattr(type(data), "openapi_types", None) or {}
    return any(getattr(data, name, None) is not None for name in fields)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
