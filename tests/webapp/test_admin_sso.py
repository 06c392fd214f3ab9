"""Single sign-on with OpenID Connect (Authlib), against a small identity provider served on loopback
that signs real RS256 ID tokens."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.wrappers import Request, Response

from hub.accounts import users
from hub.app.bootstrap import Hub
from sandboxes.common import SandboxServer
from tests.webapp.admin_support import add_account, text_of
from webapp import create_app


class Provider:
    """An OpenID provider that approves at once: discovery, authorize, token and JWKS endpoints."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.url = ""
        self.codes: dict[str, dict[str, str]] = {}
        self.claims: dict[str, Any] = {"sub": "u-100", "email": "nina@clinic.example", "name": "Nina", "groups": []}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self.route(request)
        return response(environ, start_response)

    def route(self, request: Request) -> Response:
        if request.path == "/.well-known/openid-configuration":
            return self.json(
                {
                    "issuer": self.url,
                    "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token",
                    "jwks_uri": f"{self.url}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            )
        if request.path == "/jwks":
            return self.json({"keys": [self.key.as_dict(private=False)]})
        if request.path == "/authorize":
            code = secrets.token_urlsafe(8)
            self.codes[code] = {"nonce": request.args.get("nonce", ""), "client_id": request.args["client_id"]}
            query = urlencode({"code": code, "state": request.args["state"]})
            return Response(status=302, headers={"Location": f"{request.args['redirect_uri']}?{query}"})
        if request.path == "/token":
            grant = self.codes.pop(request.form["code"])
            now = int(time.time())
            claims = {
                "iss": self.url,
                "aud": grant["client_id"],
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
                **self.claims,
            }
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            return self.json({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})
        return Response("not found", status=404)

    @staticmethod
    def json(data: Any) -> Response:
        return Response(json.dumps(data), mimetype="application/json")


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    the_provider = Provider()
    server = SandboxServer(the_provider).start()
    the_provider.url = server.url
    yield the_provider
    server.stop()


@pytest.fixture
def sso_app(hub: Hub, provider: Provider) -> Flask:
    web = {
        "oidc": {
            "issuer": provider.url,
            "client_id": "nurturehub",
            "roles": {"nurturehub-admins": "admin", "front-desk": "coordinator"},
        }
    }
    config = replace(hub.config, raw={**hub.config.raw, "web": web})
    sso_hub = replace(hub, config=config, environ={**hub.environ, "NURTUREHUB_OIDC_CLIENT_SECRET": "oidc-secret"})
    return create_app(sso_hub, TESTING=True)


def sign_in_with_sso(client: FlaskClient) -> Any:
    start = client.get("/sign-in/sso")
    assert start.status_code == 302
    answer = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(answer.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def test_the_sign_in_page_offers_single_sign_on(sso_app: Flask) -> None:
    assert "Sign in with single sign-on" in sso_app.test_client().get("/sign-in").text


def test_the_providers_group_gives_the_role_and_the_account_is_made_on_first_use(
    sso_app: Flask, hub: Hub, provider: Provider
) -> None:
    provider.claims["groups"] = ["staff", "front-desk"]
    client = sso_app.test_client()
    response = sign_in_with_sso(client)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    account = users.get_user(hub.store, username="nina@clinic.example")
    assert account is not None and account.role == "coordinator" and account.sso
    assert client.get("/leads").status_code == 200
    assert client.get("/users").status_code == 403
    provider.claims["groups"] = ["nurturehub-admins", "front-desk"]  # promoted at the provider
    sign_in_with_sso(sso_app.test_client())
    promoted = users.get_user(hub.store, username="nina@clinic.example")
    assert promoted is not None and promoted.role == "admin"


def test_someone_without_a_mapped_group_is_refused(sso_app: Flask, hub: Hub, provider: Provider) -> None:
    provider.claims["groups"] = ["billing"]
    response = sign_in_with_sso(sso_app.test_client())
    assert response.status_code == 403
    assert "Your account has no nurturehub role" in text_of(response.text)
    assert users.get_user(hub.store, username="nina@clinic.example") is None


def test_a_local_account_with_the_same_name_is_not_taken_over(sso_app: Flask, hub: Hub, provider: Provider) -> None:
    add_account(hub, "nina@clinic.example", "viewer")
    provider.claims["groups"] = ["nurturehub-admins"]
    response = sign_in_with_sso(sso_app.test_client())
    assert response.status_code == 401
    assert "A local account already uses this name" in text_of(response.text)


def test_a_callback_without_a_started_sign_in_is_refused(sso_app: Flask) -> None:
    response = sso_app.test_client().get("/sign-in/sso/callback?code=x&state=y")
    assert response.status_code == 401
    assert "Single sign-on did not complete" in text_of(response.text)


def test_without_single_sign_on_configured_its_routes_do_not_exist(client: FlaskClient) -> None:
    assert client.get("/sign-in/sso").status_code == 404
