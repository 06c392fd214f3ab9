"""How every Salesforce call is made: the connector's state, the client and its token refresh, the
token bucket, waiting out transient failures (``Retry-After`` included), the org's API usage, and
the one translation of a refused call into the hub's error tree (table in
:mod:`connectors.salesforce.errors`). SOQL paging (``_query``) lives here too: every part reads."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import tzinfo
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connectors.base import FieldInfo, OAuthToken, TokenSource
from connectors.limits import TokenBucket
from connectors.salesforce import soql
from connectors.salesforce.errors import Action, VendorError, classify, field_from_message, object_from_message
from connectors.salesforce.settings import SalesforceSettings
from nurture.clock import zone
from nurture.errors import BudgetExhausted, ConfigError, FatalError, HubError, RetryLater

logger = logging.getLogger(__name__)

T = TypeVar("T")


#: Records one sObject Collections call takes.
MAX_BATCH: Final = 200


class _RecordRefused(Exception):
    """A whole collections call refused because of one record's value (JSON_PARSER_ERROR)."""

    def __init__(self, error: VendorError) -> None:
        super().__init__(error.code)
        self.error = error


class SalesforceTransport:
    """The connector's state and its one way to call Salesforce (see :class:`SalesforceConnector`)."""

    system = "salesforce"
    max_batch = MAX_BATCH

    def __init__(
        self,
        settings: SalesforceSettings,
        tokens: TokenSource,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.lead_object = settings.lead_object
        self.external_id_field = settings.external_id_field
        self._tokens = tokens
        self._own_session = session is None
        self._session = session if session is not None else _new_session(settings.verify)
        self._session.hooks["response"].append(self._remember_retry_after)
        self._monotonic = monotonic
        self._bucket = TokenBucket(settings.requests_per_second, settings.burst, monotonic=monotonic, sleep=sleep)
        self._task_zone: tzinfo | None = zone(settings.task_date_timezone) if settings.task_date_timezone else None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._client: Salesforce | None = None
        self._paused_until: float | None = None
        self._person_type_id: str | None = None
        self._task_link = "WhatId" if settings.lead_object == "Account" else "WhoId"
        self._lead_owner_ids: dict[str, str] | None = None
        self._task_owner_ids: dict[str, str] | None = None
        self._described: dict[str, tuple[float, Mapping[str, FieldInfo]]] = {}
        # Task keys this process wrote (or found): sent as updates, not create-only, next time.
        self._known_tasks: set[str] = set()
        self.api_used: int | None = None
        #: Requests sent so far, retries included (for the hub's API-call metric).
        self.requests_sent = 0
        self.api_limit: int | None = None

    @property
    def persons(self) -> bool:
        """Leads are Person Accounts."""
        return self.lead_object == "Account"

    def close(self) -> None:
        """Close the HTTP session if the connector made it."""
        if self._own_session:
            self._session.close()

    def _query(self, query: str, what: str) -> Iterator[dict[str, Any]]:
        """Every record of ``query``, page by page through ``nextRecordsUrl``."""
        timeout = self.settings.timeout_s
        page = self._call(what, lambda sf: sf.query(query, timeout=timeout))
        while True:
            yield from page.get("records", [])
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._call(what, functools.partial(_query_more, url=next_url, timeout=timeout))

    # --- every call goes through here ---------------------------------------------------------

    def _call(self, what: str, call: Callable[[Salesforce], T], *, split_on_record: bool = False) -> T:
        """Run ``call`` with the current client: through the token bucket, refreshing an expired
        session once, waiting out transient failures, and translating the rest (see
        ``connectors.salesforce.errors``)."""
        refreshed = False
        failures = 0
        while True:
            self._stop_if_paused()
            self._bucket.acquire()
            client = self._current_client()
            self.requests_sent += 1
            self._local.retry_after = None
            error: VendorError | None = None
            network = ""
            try:
                result = call(client)
            except SalesforceError as exc:
                error = VendorError.of(exc.status, exc.content)
                action = classify(error)
            except requests.exceptions.SSLError:
                raise ConfigError(
                    [f"verify: the TLS certificate of {self._host()} was not trusted"],
                    source=self.settings.connection_name,
                ) from None
            except (
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                action = Action.WAIT
                network = type(exc).__name__
            else:
                self._note_usage(client)
                return result
            if action is Action.REFRESH:
                if refreshed:
                    raise ConfigError(
                        [
                            "token: Salesforce refused a freshly refreshed access token "
                            "(INVALID_SESSION_ID); reconnect the org"
                        ],
                        source=self.settings.connection_name,
                    )
                refreshed = True
                logger.info("salesforce %s: session expired; refreshing the token", what)
                self._refresh(client)
                continue
            if action is Action.WAIT:
                failures += 1
                policy = self.settings.retry_policy
                wait = policy.wait(failures, self._local.retry_after)
                reason = f"HTTP {error.status} {error.code}".rstrip() if error else network
                if policy.gives_up(failures, wait):
                    raise RetryLater(
                        f"Salesforce {what}: {reason} after {failures} attempt(s)", retry_after=wait
                    ) from None
                logger.warning(
                    "salesforce %s: %s; waiting %.1fs (retry %d of %d)",
                    what,
                    reason,
                    wait,
                    failures,
                    self.settings.max_retries,
                )
                self._bucket.hold_until(wait)
                continue
            assert error is not None
            if action is Action.RECORD and split_on_record:
                raise _RecordRefused(error)
            raise self._translate(action, error, what) from None

    def _translate(self, action: Action, error: VendorError, what: str) -> HubError:
        source = self.settings.connection_name
        code = f"{error.status} {error.code}".strip()
        if action is Action.BUDGET:
            with self._lock:
                self._paused_until = self._monotonic() + self.settings.budget_pause_s
            logger.error("salesforce %s: daily API allowance spent (%s); pausing calls", what, code)
            return BudgetExhausted(
                f"Salesforce {what}: the org's daily API allowance is spent ({code})",
                retry_after=self.settings.budget_pause_s,
            )
        if action is Action.RETRY_LATER:
            return RetryLater(f"Salesforce {what}: {code}; start again")
        if action is Action.CONFIG:
            if error.code == "INVALID_FIELD":
                name = error.fields[0] if error.fields else field_from_message(error.message)
                problem = f"fields: Salesforce has no field {name or '?'!r} for {what} (INVALID_FIELD)"
            elif error.code == "INVALID_TYPE":
                name = object_from_message(error.message)
                problem = f"objects: Salesforce has no object {name or '?'!r} for {what} (INVALID_TYPE)"
            elif error.status == 404:
                problem = (
                    f"{what}: Salesforce answered 404 {error.code or 'NOT_FOUND'}: the object or "
                    "external-id field does not exist in this org"
                )
            else:
                problem = f"{what}: Salesforce refused the request ({code}); check the integration user"
            return ConfigError([problem], source=source)
        if action is Action.RECORD:
            return FatalError(f"Salesforce {what}: {code}: {error.message}")
        return FatalError(f"Salesforce {what}: unexpected {code}: {error.message}")

    def _stop_if_paused(self) -> None:
        with self._lock:
            until = self._paused_until
        if until is None:
            return
        left = until - self._monotonic()
        if left > 0:
            raise BudgetExhausted("Salesforce: the org's daily API allowance is spent", retry_after=left)
        with self._lock:
            self._paused_until = None

    def _current_client(self) -> Salesforce:
        with self._lock:
            if self._client is None:
                self._client = self._build(self._tokens.token())
            return self._client

    def _refresh(self, failed: Salesforce) -> None:
        with self._lock:
            if self._client is not failed:
                return  # another thread refreshed already
            try:
                token = self._tokens.refresh()
            except HubError:
                raise
            except Exception as exc:
                raise ConfigError(
                    [f"token: refreshing the access token failed ({type(exc).__name__})"],
                    source=self.settings.connection_name,
                ) from None
            self._client = self._build(token)

    def _build(self, token: OAuthToken) -> Salesforce:
        if not token.instance_url:
            raise ConfigError(["token: the access token carries no instance_url"], source=self.settings.connection_name)
        return Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            session=self._session,
            version=self.settings.api_version,
        )

    def _note_usage(self, client: Salesforce) -> None:
        usage = client.api_usage.get("api-usage")
        if usage is not None:
            self.api_used, self.api_limit = int(usage.used), int(usage.total)

    def _remember_retry_after(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # simple-salesforce's exceptions keep the body but not the headers.
        self._local.retry_after = response.headers.get("Retry-After")

    def _host(self) -> str:
        return urlsplit(self._tokens.token().instance_url or "").netloc or "the org"

    def _name(self, name: str, what: str) -> str:
        try:
            return soql.check_name(name, what)
        except ValueError as exc:
            raise ConfigError([str(exc)], source=self.settings.connection_name) from None


def _query_more(sf: Salesforce, *, url: str, timeout: float) -> Any:
    return sf.query_more(url, identifier_is_url=True, timeout=timeout)


def _new_session(verify: str | bool) -> requests.Session:
    session = requests.Session()
    session.verify = verify
    if isinstance(verify, str):
        # Otherwise REQUESTS_CA_BUNDLE in the environment silently wins over the configured bundle.
        session.trust_env = False
    return session
