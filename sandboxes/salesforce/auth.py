"""The Salesforce sandbox's authentication: the OAuth 2.0 web-server flow (authorization code with a
client secret or PKCE, refresh, revoke, userinfo), access tokens and session expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from sandboxes.salesforce.state import _JSON_TYPE, ORG_ID, SalesforceState, _Token, logger

AUTH_CODE_TTL: Final = timedelta(minutes=15)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redirect(uri: str, params: Mapping[str, str | None]) -> Response:
    parts = urlsplit(uri)
    query = "&".join(p for p in (parts.query, urlencode({k: v for k, v in params.items() if v is not None})) if p)
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return Response(status=302, headers={"Location": location})


class AuthMixin(SalesforceState):
    """OAuth 2.0 endpoints, access tokens and their expiry (``Faults.expire_session_after``)."""

    # ------------------------------------------------------------------------------------------
    # Public helpers for tests and the demo.

    def issue_token(self) -> str:
        """A valid access token, bypassing OAuth (tests and the demo's CLI)."""
        with self._state.lock:
            return self._new_access_token(client_id=self.client_id, scope="api", refresh=None)

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
