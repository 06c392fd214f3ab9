"""CRM connections: their configuration (``[crm.salesforce]``, ``[crm.hubspot]``), OAuth (Authlib)
with tokens kept encrypted in the store, and the connectors and sync destinations built from them.

Production first: every endpoint — authorize and token URLs, instance URL, API host, API version —
comes from configuration, the defaults are the vendors' real endpoints, and the local sandboxes are
just another configuration.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError, fields, validate

from connectors.base import CrmConnector, OAuthToken
from hub.settings.config import flatten_errors
from hub.store import Store
from hub.store.crypto import Vault
from hub.store.models import ConnectionRow
from nurture.errors import ConfigError, RetryLater

if TYPE_CHECKING:  # Authlib and requests load when a connection is made, not for every CLI command
    import requests
    from authlib.integrations.requests_client import OAuth2Session

log = logging.getLogger(__name__)

__all__ = ["CrmSettings", "StoredTokens", "load_crm_settings"]

SYSTEMS = ("salesforce", "hubspot")
_LOCAL = "http://localhost:8000"
_ENV = validate.Regexp(r"^[A-Z][A-Z0-9_]*$", error="must be an environment variable name")


class _Strict(Schema):
    pass


class SalesforceSchema(_Strict):
    enabled = fields.Boolean(load_default=False)
    object = fields.String(load_default="Lead", validate=validate.OneOf(["Lead", "Contact", "Account"]))
    person_record_type = fields.String(
        load_default="PersonAccount", validate=validate.Regexp(r"^[A-Za-z][A-Za-z0-9_]*$", error="not an API name")
    )
    login_url = fields.Url(load_default="https://login.salesforce.com", require_tld=False)
    api_version = fields.String(load_default="59.0", validate=validate.Regexp(r"^\d{2}\.0$"))
    client_id = fields.String(load_default="")
    client_secret_env = fields.String(load_default="NURTUREHUB_SALESFORCE_CLIENT_SECRET", validate=_ENV)
    redirect_uri = fields.Url(load_default="http://localhost:8000/connections/salesforce/callback", require_tld=False)
    ca_bundle = fields.String(load_default="")
    pull_minutes = fields.Integer(load_default=5, validate=validate.Range(min=1, max=1440))
    overlap_seconds = fields.Integer(load_default=300, validate=validate.Range(min=0, max=3600))
    requests_per_second = fields.Float(load_default=20.0, validate=validate.Range(min=0.1, max=100))
    burst = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))
    task_owners = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    lead_queue_owners = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    default_task_owner = fields.String(load_default=None, allow_none=True)
    allow_duplicate_save = fields.Boolean(load_default=False)


class HubSpotSchema(_Strict):
    enabled = fields.Boolean(load_default=False)
    api_host = fields.Url(load_default="https://api.hubapi.com", require_tld=False)
    authorize_url = fields.Url(load_default="https://app.hubspot.com/oauth/authorize", require_tld=False)
    token_url = fields.Url(load_default="https://api.hubapi.com/oauth/v1/token", require_tld=False)
    client_id = fields.String(load_default="")
    client_secret_env = fields.String(load_default="NURTUREHUB_HUBSPOT_CLIENT_SECRET", validate=_ENV)
    redirect_uri = fields.Url(load_default="http://localhost:8000/connections/hubspot/callback", require_tld=False)
    scopes = fields.List(
        fields.String(),
        load_default=lambda: [
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "crm.schemas.contacts.read",
            "crm.schemas.contacts.write",
            "crm.objects.owners.read",
        ],
    )
    pull_minutes = fields.Integer(load_default=5, validate=validate.Range(min=1, max=1440))
    overlap_seconds = fields.Integer(load_default=300, validate=validate.Range(min=0, max=3600))
    requests_per_second = fields.Float(load_default=9.0, validate=validate.Range(min=0.1, max=19))
    burst = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))
    owners = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    default_owner = fields.String(load_default=None, allow_none=True)


class CrmSchema(_Strict):
    salesforce = fields.Nested(SalesforceSchema, load_default=lambda: SalesforceSchema().load({}))
    hubspot = fields.Nested(HubSpotSchema, load_default=lambda: HubSpotSchema().load({}))


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmSettings:
    """One CRM's configuration.

    Attributes:
        system: "salesforce" or "hubspot".
        enabled: sync with it.
        authorize_url, token_url: OAuth endpoints.
        client_id: the connected app's / public app's client id (not a secret).
        client_secret_env: the environment variable holding the client secret.
        redirect_uri: where the CRM sends the admin back after consent.
        scopes: OAuth scopes to ask for.
        options: the rest of the section (object, API version, owners, rates …) for the connector.
    """

    system: str
    enabled: bool
    authorize_url: str
    token_url: str
    client_id: str
    client_secret_env: str
    redirect_uri: str
    scopes: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pull_interval(self) -> timedelta:
        return timedelta(minutes=int(self.options.get("pull_minutes", 5)))

    @property
    def overlap(self) -> timedelta:
        return timedelta(seconds=int(self.options.get("overlap_seconds", 300)))


def load_crm_settings(raw: Mapping[str, Any]) -> dict[str, CrmSettings]:
    """Validate the ``[crm]`` section. Raises ConfigError listing every problem."""
    try:
        data = CrmSchema().load(dict(raw.get("crm", {})))
    except ValidationError as exc:
        raise ConfigError([f"crm.{p}" for p in flatten_errors(exc.messages)]) from None
    sf, hs = data["salesforce"], data["hubspot"]
    login = sf["login_url"].rstrip("/")
    return {
        "salesforce": CrmSettings(
            system="salesforce",
            enabled=sf["enabled"],
            authorize_url=f"{login}/services/oauth2/authorize",
            token_url=f"{login}/services/oauth2/token",
            client_id=sf["client_id"],
            client_secret_env=sf["client_secret_env"],
            redirect_uri=sf["redirect_uri"],
            scopes=("api", "refresh_token"),
            options=sf,
        ),
        "hubspot": CrmSettings(
            system="hubspot",
            enabled=hs["enabled"],
            authorize_url=hs["authorize_url"],
            token_url=hs["token_url"],
            client_id=hs["client_id"],
            client_secret_env=hs["client_secret_env"],
            redirect_uri=hs["redirect_uri"],
            scopes=tuple(hs["scopes"]),
            options=hs,
        ),
    }


# --- tokens -------------------------------------------------------------------------------------


def _session(settings: CrmSettings, secret: str | None, *, token: Mapping[str, Any] | None = None) -> OAuth2Session:
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(
        client_id=settings.client_id,
        client_secret=secret,
        scope=" ".join(settings.scopes),
        redirect_uri=settings.redirect_uri,
        token=dict(token) if token else None,
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name, not a secret
        code_challenge_method="S256",  # PKCE: both Salesforce and HubSpot take code_verifier
    )
    ca = str(settings.options.get("ca_bundle") or "")
    if ca:
        session.verify = ca
        session.trust_env = False
    return session


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the admin, and what to keep until the CRM sends them back.

    Attributes:
        url: the CRM's consent page, with ``state`` and the PKCE ``code_challenge`` (S256).
        state: to compare with the callback's (a forged callback is refused).
        code_verifier: the PKCE secret the code exchange must present (RFC 7636): a code stolen
            on its way back is useless without it. Kept server-side, never in a URL.
    """

    url: str
    state: str
    code_verifier: str = field(repr=False)

    def __iter__(self) -> Iterator[str]:  # ``url, state = authorization_url(...)`` still works
        return iter((self.url, self.state))


def authorization_url(settings: CrmSettings, secret: str | None) -> AuthorizationRequest:
    """The URL to send the admin to (with a PKCE S256 challenge), the ``state`` and code verifier."""
    from authlib.common.security import generate_token

    verifier = generate_token(64)
    url, state = _session(settings, secret).create_authorization_url(settings.authorize_url, code_verifier=verifier)
    return AuthorizationRequest(str(url), str(state), verifier)


def exchange_code(
    settings: CrmSettings, secret: str | None, *, callback_url: str, state: str, code_verifier: str | None = None
) -> dict[str, Any]:
    """Trade the authorization code in ``callback_url`` for tokens (Authlib checks the state; the
    PKCE verifier goes with the code)."""
    from authlib.integrations.base_client import OAuthError

    session = _session(settings, secret)
    session.state = state
    extra = {"code_verifier": code_verifier} if code_verifier else {}
    token = session.fetch_token(settings.token_url, authorization_response=callback_url, **extra)
    if not token.get("access_token"):
        # HubSpot answers a refused exchange with {"status": "BAD_…", "message": …}, which Authlib
        # does not read as an OAuth error: without this, a refusal would be stored as a token.
        raise OAuthError(error=str(token.get("status") or "invalid_grant"), description=str(token.get("message") or ""))
    return dict(token)


class StoredTokens:
    """A connector's :class:`~connectors.base.TokenSource`: the tokens of one connection, kept
    encrypted in the store and refreshed with Authlib when the CRM says they expired."""

    def __init__(self, store: Store, vault: Vault, settings: CrmSettings, secret: str | None) -> None:
        self.store = store
        self.vault = vault
        self.settings = settings
        self.secret = secret
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.settings.system

    def save(self, token: Mapping[str, Any], *, now: datetime, detail: str = "connected") -> None:
        with self.store.tx() as session:
            row = session.get(ConnectionRow, self.settings.system)
            if row is None:
                row = ConnectionRow(name=self.settings.system, updated_at=now)
                session.add(row)
            row.tokens = self.vault.encrypt(json.dumps(dict(token)).encode("utf-8"))
            row.instance_url = token.get("instance_url") or row.instance_url
            row.status, row.detail, row.updated_at = "connected", detail, now
            row.connected_at = row.connected_at or now

    def _load(self) -> dict[str, Any]:
        with self.store.tx() as session:
            row = session.get(ConnectionRow, self.settings.system)
            blob = row.tokens if row is not None else None
        if blob is None:
            raise ConfigError([f"crm.{self.name}: not connected; run `nurturehub connect {self.name}`"])
        data: dict[str, Any] = json.loads(self.vault.decrypt(blob))
        return data

    def token(self) -> OAuthToken:
        data = self._load()
        return OAuthToken(access_token=str(data["access_token"]), instance_url=data.get("instance_url"))

    def refresh(self) -> OAuthToken:
        with self._lock:
            data = self._load()
            refresh_token = data.get("refresh_token")
            if not refresh_token:
                raise ConfigError([f"crm.{self.settings.system}: the session expired and there is no refresh token"])
            try:
                new = dict(
                    _session(self.settings, self.secret).refresh_token(
                        self.settings.token_url, refresh_token=refresh_token
                    )
                )
            except Exception as exc:  # Authlib raises OAuthError, requests raises its own
                raise _refresh_failure(self.name, exc) from None
            merged = {**data, **new}
            merged.setdefault("refresh_token", refresh_token)  # Salesforce does not send a new one
            self.save(merged, now=datetime.now(UTC), detail="token refreshed")
            log.info("%s: access token refreshed", self.settings.system)
            return OAuthToken(access_token=str(merged["access_token"]), instance_url=merged.get("instance_url"))


#: OAuth error codes (RFC 6749 §5.2 and common practice) that mean "the server is busy", not "connect again".
_TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error", "slow_down"})


def _refresh_failure(name: str, exc: Exception) -> Exception:
    """What a failed token refresh means for the caller: the network or a busy authorization
    server is "retry later" (the lead's writes wait in the outbox); a refused refresh token, a TLS
    failure or a malformed answer is "connect again" (a person must act)."""
    import requests
    from authlib.integrations.base_client import OAuthError

    what = type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError):
        return ConfigError([f"crm.{name}: the token endpoint's TLS certificate was refused ({what}); check ca_bundle"])
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return RetryLater(f"crm.{name}: the token endpoint could not be reached ({what}); retrying later")
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 429 or status >= 500:
            wait = exc.response.headers.get("Retry-After", "")
            return RetryLater(
                f"crm.{name}: the token endpoint answered HTTP {status}; retrying later",
                retry_after=float(wait) if wait.isdigit() else None,
            )
    if isinstance(exc, OAuthError) and getattr(exc, "error", None) in _TRANSIENT_OAUTH_ERRORS:
        return RetryLater(f"crm.{name}: the authorization server is busy ({exc.error}); retrying later")
    detail = getattr(exc, "error", None) if isinstance(exc, OAuthError) else None
    return ConfigError([f"crm.{name}: refreshing the token failed ({detail or what}); connect again"])


def http_session(settings: CrmSettings) -> requests.Session:
    """A requests session that trusts the configured CA bundle (the sandbox's) when there is one."""
    import requests

    session = requests.Session()
    ca = str(settings.options.get("ca_bundle") or "")
    if ca:
        session.verify = ca
        session.trust_env = False  # else REQUESTS_CA_BUNDLE silently wins over verify
    return session


def build_connector(settings: CrmSettings, tokens: StoredTokens, *, clinic_timezone: str | None = None) -> CrmConnector:
    """The connector for one configured CRM.

    Args:
        clinic_timezone: the clinic's zone: Salesforce task due dates (``ActivityDate``, a date
            without a zone) are the due time's date there, not in UTC, so an evening call is not
            shown as due the next day.
    """
    options = settings.options
    if settings.system == "salesforce":
        from connectors.salesforce import SalesforceConnector, SalesforceSettings

        sf_settings = SalesforceSettings(
            api_version=str(options["api_version"]),
            lead_object=str(options["object"]),
            person_record_type=str(options["person_record_type"]),
            task_owners=dict(options["task_owners"]),
            lead_queue_owners=dict(options["lead_queue_owners"]),
            default_task_owner=options["default_task_owner"],
            requests_per_second=float(options["requests_per_second"]),
            burst=int(options["burst"]),
            allow_duplicate_save=bool(options["allow_duplicate_save"]),
            task_date_timezone=clinic_timezone,
        )
        return SalesforceConnector(sf_settings, tokens, session=http_session(settings))
    from connectors.hubspot import HubSpotConnector, HubSpotSettings

    hs_settings = HubSpotSettings(
        api_host=str(options["api_host"]).rstrip("/"),
        owners=dict(options["owners"]),
        default_owner=options["default_owner"],
        requests_per_second=float(options["requests_per_second"]),
        burst=int(options["burst"]),
    )
    return HubSpotConnector(hs_settings, tokens)
