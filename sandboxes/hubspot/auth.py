"""The HubSpot sandbox's authentication and admission: private-app and OAuth 2.0 tokens (authorize,
token, token info), scopes, and the rate limits every API call is admitted against.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sandboxes.hubspot.model import (
    HubSpotError,
    expired_authentication,
    invalid_authentication,
    oauth_error,
    rate_limit_error,
)
from sandboxes.hubspot.state import HubSpotState, Json, _Caller, _json, logger

ACCESS_TOKEN_TTL_S = 1800
AUTH_CODE_TTL_S = 600
DEFAULT_SCOPES = (
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.objects.owners.read",
)


def _s256(verifier: str) -> str:
    """RFC 7636's S256 challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AuthMixin(HubSpotState):
    """Tokens, OAuth 2.0 endpoints, and admitting a call (auth, scopes, rate limits)."""

    # --- public helpers -------------------------------------------------------------------------

    def issue_token(self) -> str:
        """A valid private-app access token (no OAuth dance, no time expiry)."""
        token = "pat-na1-" + str(uuid.uuid4())
        self.store.put_token(
            token,
            "access",
            {"private_app": True, "scopes": list(DEFAULT_SCOPES), "expires_at_ms": None, "user_id": 9100101},
        )
        return token

    def reset_day(self) -> None:
        """Start a new API "day": the daily call count goes back to zero."""
        with self._lock:
            self._daily_used = 0

    # --- auth, limits, faults -------------------------------------------------------------------

    def _admit(self, request: Request, headers: dict[str, str]) -> _Caller:
        caller = self._authenticate(request)
        with self._lock:
            budget = self.faults.daily_budget
            if budget is not None and self._daily_used >= budget:
                raise rate_limit_error("DAILY", None)
            self._daily_used += 1
            used = self._daily_used
        daily = budget if budget is not None else self.limits.daily
        wait = self._burst.admit()
        headers.update(self._limit_headers(caller, daily, used))
        if wait is not None:
            logger.info("hubspot sandbox: burst limit hit")
            raise rate_limit_error("TEN_SECONDLY_ROLLING", wait)
        if request.path.endswith("/search"):
            wait = self._search.admit()
            if wait is not None:
                raise rate_limit_error("SECONDLY", wait)
        roll = self.faults.roll()
        if roll == "429":
            raise rate_limit_error("SECONDLY", self.faults.retry_after_s)
        if roll == "5xx":
            status = 502 if secrets.randbelow(2) else 503
            raise HubSpotError.of(status, "INTERNAL_ERROR", "Bad Gateway" if status == 502 else "Service Unavailable")
        return caller

    def _limit_headers(self, caller: _Caller, daily: int, used: int) -> dict[str, str]:
        secondly = max(1, self.limits.burst // 10)
        found = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.limits.burst_window_s * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.limits.burst),
            "X-HubSpot-RateLimit-Remaining": str(self._burst.remaining()),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(self._burst.remaining(1.0, secondly)),
        }
        if caller.private_app:
            found["X-HubSpot-RateLimit-Daily"] = str(daily)
            found["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, daily - used))
        return found

    def _authenticate(self, request: Request) -> _Caller:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise invalid_authentication()
        token = token.strip()
        data = self.store.token(token, "access")
        if data is None:
            raise invalid_authentication()
        now_ms = self.store.now_ms()
        expired_at = data.get("expired_at_ms")
        if expired_at is None and data.get("expires_at_ms") is not None and now_ms >= data["expires_at_ms"]:
            expired_at = data["expires_at_ms"]
        if expired_at is None and self.faults.expire_session_after is not None:
            with self._lock:
                count = self._calls_by_token.get(token, 0) + 1
                self._calls_by_token[token] = count
            if count > self.faults.expire_session_after:
                expired_at = now_ms
                self.store.put_token(token, "access", {**data, "expired_at_ms": now_ms})
                logger.info("hubspot sandbox: session expired after %d calls", count - 1)
        if expired_at is not None:
            raise expired_authentication(int(expired_at), now_ms)
        return _Caller(token=token, private_app=bool(data.get("private_app")))

    # --- OAuth ----------------------------------------------------------------------------------

    def _h_authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != self.client_id:
            return Response("Unknown client_id", status=400, content_type="text/plain")
        redirect_uri = args.get("redirect_uri")
        if not redirect_uri:
            return Response("redirect_uri is required", status=400, content_type="text/plain")
        scopes = [s for s in args.get("scope", "").replace(",", " ").split() if s] or list(DEFAULT_SCOPES)
        challenge, method = args.get("code_challenge"), args.get("code_challenge_method") or "plain"
        if challenge and method not in ("S256", "plain"):
            return Response("code_challenge_method must be S256 or plain", status=400, content_type="text/plain")
        code = str(uuid.uuid4())
        self.store.put_token(
            code,
            "code",
            {
                "redirect_uri": redirect_uri,
                "scopes": scopes,
                "expires_at_ms": self.store.now_ms() + AUTH_CODE_TTL_S * 1000,
                # PKCE (RFC 7636), as HubSpot's token endpoint takes ``code_verifier``.
                "code_challenge": challenge,
                "code_challenge_method": method,
            },
        )
        query = {"code": code}
        if args.get("state"):
            query["state"] = args["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return Response(status=302, headers={"Location": f"{redirect_uri}{separator}{urlencode(query)}"})

    def _h_token(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != self.client_id:
            raise oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != self.client_secret:
            raise oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = form.get("code", "")
            data = self.store.token(code, "code")
            if data is None or self.store.now_ms() >= data["expires_at_ms"]:
                raise oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
            if form.get("redirect_uri") != data["redirect_uri"]:
                raise oauth_error("BAD_REDIRECT_URI", "redirect_uri does not match initial auth code URL")
            if data.get("code_challenge"):
                verifier = form.get("code_verifier", "")
                expected = _s256(verifier) if data.get("code_challenge_method") == "S256" else verifier
                if not verifier or not hmac.compare_digest(expected, data["code_challenge"]):
                    raise oauth_error("BAD_CODE_VERIFIER", "missing or invalid code_verifier")
            self.store.delete_token(code)
            refresh = str(uuid.uuid4())
            self.store.put_token(refresh, "refresh", {"scopes": data["scopes"], "user_id": 9100101})
            return _json(self._grant(refresh, data["scopes"]))
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            data = self.store.token(refresh, "refresh")
            if data is None:
                raise oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            return _json(self._grant(refresh, data["scopes"]))
        raise oauth_error("BAD_GRANT_TYPE", "grant_type must be authorization_code or refresh_token")

    def _grant(self, refresh: str, scopes: list[str]) -> Json:
        access = "C" + secrets.token_urlsafe(48)
        self.store.put_token(
            access,
            "access",
            {
                "private_app": False,
                "scopes": scopes,
                "expires_at_ms": self.store.now_ms() + ACCESS_TOKEN_TTL_S * 1000,
                "user_id": 9100101,
                "refresh_token": refresh,
            },
        )
        logger.info("hubspot sandbox: access token granted")
        return {
            "token_type": "bearer",
            "refresh_token": refresh,
            "access_token": access,
            "expires_in": ACCESS_TOKEN_TTL_S,
        }

    def _h_access_token_info(self, request: Request, token: str) -> Response:
        data = self.store.token(token, "access")
        now = self.store.now_ms()
        if (
            data is None
            or data.get("expired_at_ms") is not None
            or (data.get("expires_at_ms") is not None and now >= data["expires_at_ms"])
        ):
            raise HubSpotError.of(404, "OBJECT_NOT_FOUND", "Access token not found or expired")
        expires_in = (data["expires_at_ms"] - now) // 1000 if data.get("expires_at_ms") else ACCESS_TOKEN_TTL_S
        return _json(
            {
                "token": token,
                "user": "frontdesk@clinic.example",
                "hub_domain": f"portal-{self.portal_id}.sandbox.hubspot.test",
                "scopes": data["scopes"],
                "scope_to_scope_group_pks": list(range(1, len(data["scopes"]) + 1)),
                "trial_scopes": [],
                "trial_scope_to_scope_group_pks": [],
                "hub_id": self.portal_id,
                "app_id": 4000001,
                "expires_in": int(expires_in),
                "user_id": data.get("user_id", 9100101),
                "token_type": "access",
            }
        )

    def _h_refresh_token_info(self, request: Request, token: str) -> Response:
        data = self.store.token(token, "refresh")
        if data is None:
            raise HubSpotError.of(404, "OBJECT_NOT_FOUND", "Refresh token not found")
        if request.method == "DELETE":
            self.store.delete_token(token)
            return Response(status=204)
        return _json(
            {
                "token": token,
                "user": "frontdesk@clinic.example",
                "hub_domain": f"portal-{self.portal_id}.sandbox.hubspot.test",
                "scopes": data["scopes"],
                "hub_id": self.portal_id,
                "client_id": self.client_id,
                "user_id": data.get("user_id", 9100101),
                "token_type": "refresh",
            }
        )
