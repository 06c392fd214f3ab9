"""SMART Backend Services tokens: OAuth 2.0 client credentials with Authlib, the client authenticated
by ``private_key_jwt`` (RS384/ES384, ``kid``, five-minute expiry, fresh ``jti``) or a client
secret; the token endpoint from configuration or ``.well-known/smart-configuration``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from authlib.common.urls import add_params_to_qs
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from joserfc.jwk import ECKey, RSAKey

from connectors.base import OAuthToken
from connectors.scheduling.fhir.settings import ASSERTION_TYPE, FhirSettings
from nurture.errors import ConfigError, RetryLater

logger = logging.getLogger(__name__)


class _SmartAssertion:
    """Authlib client authentication for SMART Backend Services: ``private_key_jwt`` with the
    ``kid`` header and a five-minute expiry (Authlib's own default is an hour)."""

    name = "private_key_jwt"

    def __init__(self, token_url: str, key: RSAKey | ECKey, *, alg: str, kid: str) -> None:
        self.token_url = token_url
        self.key = key
        self.alg = alg
        self.kid = kid

    def __call__(self, auth: Any, method: str, uri: str, headers: Any, body: str) -> tuple[str, Any, str]:
        assertion = private_key_jwt_sign(
            self.key,
            client_id=auth.client_id,
            token_endpoint=self.token_url,
            alg=self.alg,
            header={"kid": self.kid, "typ": "JWT"},
            expires_in=300,
        )
        body = add_params_to_qs(
            body or "", [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", assertion)]
        )
        return uri, headers, body


class SmartBackendTokens:
    """A :class:`~connectors.base.TokenSource` for a FHIR server: client-credentials tokens from
    Authlib, cached until a minute before they expire.

    Args:
        settings: the connection's settings.
        credential: the client's private key (PEM) for ``private_key_jwt``, or its client secret.
        session: the HTTP session (CA bundle, proxies) discovery and the token request use.
        clock: seconds since the epoch (tests move it).
    """

    def __init__(
        self,
        settings: FhirSettings,
        credential: str,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not credential:
            raise ConfigError([f"fhir: no credential for client {settings.client_id} (private key or secret)"])
        self.settings = settings
        self._credential = credential
        self._key: RSAKey | ECKey | None = None
        if settings.auth_method == "private_key_jwt":
            try:
                if settings.jwt_alg.startswith("ES"):
                    self._key = ECKey.import_key(credential)
                else:
                    self._key = RSAKey.import_key(credential)
            except Exception:  # joserfc raises several types for a malformed key
                raise ConfigError([f"fhir: the private key for client {settings.client_id} cannot be read"]) from None
        self._session = session or requests.Session()
        self._clock = clock
        self._lock = threading.Lock()
        self._token: OAuthToken | None = None
        self._expires: float = 0.0
        self._token_url = settings.token_url
        self.fetches = 0

    def __repr__(self) -> str:
        return f"SmartBackendTokens(client_id={self.settings.client_id!r})"

    def token(self) -> OAuthToken:
        with self._lock:
            if self._token is not None and self._clock() < self._expires - 60:
                return self._token
        return self.refresh()

    def refresh(self) -> OAuthToken:
        with self._lock:
            token_url = self._token_url or self._discover()
            self._token_url = token_url
            s = self.settings
            oauth = OAuth2Session(
                client_id=s.client_id,
                client_secret=None if self._key is not None else self._credential,
                scope=" ".join(s.scopes),
                token_endpoint_auth_method=s.auth_method,
            )
            oauth.verify, oauth.trust_env, oauth.proxies = (
                self._session.verify,
                self._session.trust_env,
                dict(self._session.proxies),
            )
            if self._key is not None:
                oauth.register_client_auth_method(_SmartAssertion(token_url, self._key, alg=s.jwt_alg, kid=s.key_id))
            try:
                raw = oauth.fetch_token(token_url, grant_type="client_credentials", timeout=s.timeout_s)
            except OAuthError as exc:
                error = str(getattr(exc, "error", "") or "error")
                raise ConfigError(
                    [f"fhir: the token endpoint refused client {s.client_id} ({error}); check its key or secret"]
                ) from None
            except (requests.RequestException, ValueError) as exc:
                raise RetryLater(f"fhir: the token endpoint did not answer ({type(exc).__name__})") from None
            finally:
                oauth.close()
            self.fetches += 1
            expires_in = float(raw.get("expires_in") or 300)
            self._expires = self._clock() + expires_in
            self._token = OAuthToken(
                access_token=str(raw["access_token"]),
                expires_at=datetime.fromtimestamp(self._expires, UTC),
            )
            logger.info("fhir: access token obtained for client %s (expires in %ds)", s.client_id, int(expires_in))
            return self._token

    def _discover(self) -> str:
        url = f"{self.settings.base_url}/.well-known/smart-configuration"
        try:
            response = self._session.get(url, timeout=self.settings.timeout_s, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise RetryLater(f"fhir: SMART discovery failed ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise ConfigError([f"fhir.token_url: not set, and {url} answered {response.status_code}"])
        endpoint = response.json().get("token_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise ConfigError([f"fhir.token_url: not set, and {url} names no token_endpoint"])
        return endpoint


# --- the error table ---------------------------------------------------------------------------
