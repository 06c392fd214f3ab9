"""The FHIR sandbox's authorization: SMART Backend Services discovery, the client-credentials token
endpoint (``private_key_jwt`` assertions checked against the client's JWKS, or a client secret),
scopes, and checking a request's bearer token.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable

from joserfc import jwt
from joserfc.errors import JoseError
from werkzeug.wrappers import Request, Response

from sandboxes.fhir.model import ASSERTION_TYPE, TOKEN_PATH, FhirError, _b64json
from sandboxes.fhir.state import _SCOPE, DEFAULT_SCOPES, FhirState, _Client, _Token


def _allows(scopes: Iterable[str], rtype: str, op: str) -> bool:
    """Whether SMART v1/v2 system scopes allow ``op`` ("read" or "write") on ``rtype``."""
    for scope in scopes:
        m = _SCOPE.match(scope)
        if m is None or m[1] != "system" or m[2] not in ("*", rtype):
            continue
        perm = m[3]
        if perm in ("*", op):
            return True
        if perm not in ("read", "write") and set(perm) & ({"r", "s"} if op == "read" else {"c", "u"}):
            return True
    return False


class AuthMixin(FhirState):
    """``/.well-known/smart-configuration``, ``/auth/token`` and bearer tokens."""

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (the next call gets a 401)."""
        with self._lock:
            self._tokens.clear()

    def _authorize(self, request: Request) -> _Token:
        header = request.headers.get("Authorization", "")
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        if not header.startswith("Bearer "):
            raise FhirError(401, "login", "an access token is required", headers=challenge)
        value = header[len("Bearer ") :].strip()
        with self._lock:
            token = self._tokens.get(value)
            if token is None or token.expires_at <= time.time():
                self._tokens.pop(value, None)
                raise FhirError(401, "expired", "the access token is invalid or expired", headers=challenge)
            token.calls += 1
            limit = self.faults.expire_session_after
            if limit is not None and token.calls > limit:
                del self._tokens[value]
                raise FhirError(401, "expired", "the access token is invalid or expired", headers=challenge)
            return token

    def _h_smart(self, request: Request) -> Response:
        body = {
            "token_endpoint": request.host_url.rstrip("/") + TOKEN_PATH,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "scopes_supported": sorted(DEFAULT_SCOPES),
            "capabilities": ["client-confidential-asymmetric", "client-confidential-symmetric"],
        }
        return Response(json.dumps(body), content_type="application/json")

    def _oauth_error(self, status: int, error: str, description: str) -> Response:
        body = {"error": error, "error_description": description}
        return Response(
            json.dumps(body),
            status=status,
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    def _h_token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return self._oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
        client, problem = self._authenticate(request)
        if client is None:
            return self._oauth_error(401, "invalid_client", problem)
        requested = frozenset((form.get("scope") or "").split())
        if not requested:
            return self._oauth_error(400, "invalid_scope", "a scope is required")
        if not requested <= client.scopes:
            return self._oauth_error(400, "invalid_scope", "the client may not have: " + " ".join(sorted(requested)))
        value = "fhir-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[value] = _Token(client.client_id, requested, time.time() + self.token_ttl_s)
        body = {
            "access_token": value,
            "token_type": "bearer",
            "expires_in": self.token_ttl_s,
            "scope": " ".join(sorted(requested)),
        }
        return Response(json.dumps(body), content_type="application/json", headers={"Cache-Control": "no-store"})

    def _authenticate(self, request: Request) -> tuple[_Client | None, str]:
        form = request.form
        assertion_type = form.get("client_assertion_type")
        if assertion_type is not None:
            if assertion_type != ASSERTION_TYPE:
                return None, "unsupported client_assertion_type"
            return self._check_assertion(request, form.get("client_assertion") or "")
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            client_id, secret = auth.username or "", auth.password or ""
        else:
            client_id, secret = form.get("client_id") or "", form.get("client_secret") or ""
        with self._lock:
            client = self._clients.get(client_id)
        if client is None or client.secret is None or not secrets.compare_digest(client.secret, secret):
            return None, "client authentication failed"
        return client, ""

    def _check_assertion(self, request: Request, assertion: str) -> tuple[_Client | None, str]:
        try:
            unverified = json.loads(_b64json(assertion.split(".")[1]))
        except (IndexError, ValueError):
            return None, "the client assertion is not a JWT"
        client_id = str(unverified.get("iss", ""))
        with self._lock:
            client = self._clients.get(client_id)
        if client is None or client.jwks is None:
            return None, "unknown client, or no public key registered for it"
        try:
            token = jwt.decode(assertion, client.jwks, algorithms=["RS384", "ES384"])
        except (JoseError, ValueError) as exc:
            return None, f"the client assertion's signature does not verify ({type(exc).__name__})"
        claims, header = token.claims, token.header
        audience = request.host_url.rstrip("/") + TOKEN_PATH
        now = time.time()
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        problems = [
            "sub must equal iss" if claims.get("sub") != client_id else "",
            "aud must be the token endpoint" if audience not in auds else "",
            "kid header is required" if not header.get("kid") else "",
            "exp is missing or in the past" if not isinstance(claims.get("exp"), int) or claims["exp"] <= now else "",
            "exp is more than five minutes ahead"
            if isinstance(claims.get("exp"), int) and claims["exp"] > now + 300 + 30
            else "",
            "jti is required" if not claims.get("jti") else "",
        ]
        problem = next((p for p in problems if p), "")
        if problem:
            return None, f"client assertion rejected: {problem}"
        with self._lock:
            self._jtis = {j: exp for j, exp in self._jtis.items() if exp > now}
            if claims["jti"] in self._jtis:
                return None, "client assertion rejected: jti was already used"
            self._jtis[str(claims["jti"])] = float(claims["exp"])
        return client, ""
