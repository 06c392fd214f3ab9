"""The OAuth 2.0 web-server flow, driven by Authlib's requests client (as the hub will)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from simple_salesforce import Salesforce

from tests.fixtures.salesforce_sandbox import SalesforceOrg

REDIRECT_URI = "https://hub.example.org/oauth/salesforce/callback"


@pytest.fixture
def oauth(sf_org: SalesforceOrg) -> Iterator[OAuth2Session]:
    client = OAuth2Session(
        client_id=sf_org.sandbox.client_id,
        client_secret=sf_org.sandbox.client_secret,
        redirect_uri=REDIRECT_URI,
        scope="api refresh_token",
    )
    client.verify = str(sf_org.ca_path)
    client.trust_env = False
    with client:
        yield client


def authorize(org: SalesforceOrg, client: OAuth2Session, **kwargs: str) -> str:
    """Follow the authorize endpoint to the redirect, as a browser would; return the callback URL."""
    url, _state = client.create_authorization_url(f"{org.server.url}/services/oauth2/authorize", **kwargs)
    response = org.new_session().get(url, allow_redirects=False)
    assert response.status_code == 302
    location: str = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return location


def test_code_flow_with_client_secret_gives_a_working_token(sf_org: SalesforceOrg, oauth: OAuth2Session) -> None:
    callback = authorize(sf_org, oauth, state="xyz")

    token = oauth.fetch_token(f"{sf_org.server.url}/services/oauth2/token", authorization_response=callback)

    assert parse_qs(urlsplit(callback).query)["state"] == ["xyz"]
    assert set(token) >= {
        "access_token",
        "refresh_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
        "scope",
    }
    assert token["token_type"] == "Bearer"
    assert token["instance_url"] == sf_org.server.url
    assert token["id"].endswith(f"/id/00D5g000004NHXYEA4/{sf_org.sandbox.user_id}")
    sf = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=sf_org.session)
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_code_flow_with_pkce_and_no_secret(sf_org: SalesforceOrg) -> None:
    verifier = secrets.token_urlsafe(48)
    client = OAuth2Session(
        client_id=sf_org.sandbox.client_id,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    client.verify = str(sf_org.ca_path)
    client.trust_env = False
    with client:
        callback = authorize(sf_org, client, code_verifier=verifier)
        token = client.fetch_token(
            f"{sf_org.server.url}/services/oauth2/token",
            authorization_response=callback,
            code_verifier=verifier,
        )

    assert token["access_token"]


def test_pkce_with_the_wrong_verifier_is_invalid_request(sf_org: SalesforceOrg) -> None:
    session = sf_org.new_session()
    challenge_for = secrets.token_urlsafe(48)
    client = OAuth2Session(client_id=sf_org.sandbox.client_id, redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    client.verify = str(sf_org.ca_path)
    client.trust_env = False
    with client:
        callback = authorize(sf_org, client, code_verifier=challenge_for)
    code = parse_qs(urlsplit(callback).query)["code"][0]

    response = session.post(
        f"{sf_org.server.url}/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": sf_org.sandbox.client_id,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": "not-the-verifier",
        },
    )

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": "invalid code verifier"}


def test_refresh_token_gives_a_new_access_token(sf_org: SalesforceOrg, oauth: OAuth2Session) -> None:
    callback = authorize(sf_org, oauth)
    first = oauth.fetch_token(f"{sf_org.server.url}/services/oauth2/token", authorization_response=callback)

    refreshed = oauth.refresh_token(f"{sf_org.server.url}/services/oauth2/token", refresh_token=first["refresh_token"])

    assert refreshed["access_token"] != first["access_token"]
    assert "refresh_token" not in refreshed or refreshed["refresh_token"] == first["refresh_token"]
    sf = Salesforce(instance_url=sf_org.server.url, session_id=refreshed["access_token"], session=sf_org.session)
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_a_code_works_once(sf_org: SalesforceOrg, oauth: OAuth2Session) -> None:
    callback = authorize(sf_org, oauth)
    oauth.fetch_token(f"{sf_org.server.url}/services/oauth2/token", authorization_response=callback)
    code = parse_qs(urlsplit(callback).query)["code"][0]

    response = sf_org.new_session().post(
        f"{sf_org.server.url}/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": sf_org.sandbox.client_id,
            "client_secret": sf_org.sandbox.client_secret,
            "redirect_uri": REDIRECT_URI,
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_id": "someone-else"}, "invalid_client_id"),
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "5Aep-unknown"}, "invalid_grant"),
    ],
)
def test_token_endpoint_errors(sf_org: SalesforceOrg, form: dict[str, str], error: str) -> None:
    data = {
        "grant_type": "authorization_code",
        "code": "nope",
        "client_id": sf_org.sandbox.client_id,
        "client_secret": sf_org.sandbox.client_secret,
        "redirect_uri": REDIRECT_URI,
        **form,
    }

    response = sf_org.new_session().post(f"{sf_org.server.url}/services/oauth2/token", data=data)

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_authorize_checks_client_id_and_redirect_uri(sf_org: SalesforceOrg) -> None:
    session = sf_org.new_session()
    url = f"{sf_org.server.url}/services/oauth2/authorize"

    wrong_client = session.get(
        url,
        params={"response_type": "code", "client_id": "x", "redirect_uri": REDIRECT_URI},
        allow_redirects=False,
    )
    no_redirect = session.get(
        url, params={"response_type": "code", "client_id": sf_org.sandbox.client_id}, allow_redirects=False
    )

    assert wrong_client.status_code == 400
    assert "invalid_client_id" in wrong_client.text
    assert no_redirect.status_code == 400
    assert "redirect_uri_mismatch" in no_redirect.text


def test_revoking_the_refresh_token_ends_its_sessions(sf_org: SalesforceOrg, oauth: OAuth2Session) -> None:
    callback = authorize(sf_org, oauth)
    token = oauth.fetch_token(f"{sf_org.server.url}/services/oauth2/token", authorization_response=callback)
    session = sf_org.new_session()

    revoked = session.post(f"{sf_org.server.url}/services/oauth2/revoke", data={"token": token["refresh_token"]})
    after = session.get(f"{sf_org.api_url}/sobjects", headers={"Authorization": f"Bearer {token['access_token']}"})
    refresh = session.post(
        f"{sf_org.server.url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": sf_org.sandbox.client_id,
            "client_secret": sf_org.sandbox.client_secret,
        },
    )

    assert revoked.status_code == 200
    assert after.status_code == 401
    assert refresh.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}


def test_userinfo_describes_the_integration_user(sf_org: SalesforceOrg) -> None:
    session: requests.Session = sf_org.new_session()
    token = sf_org.sandbox.issue_token()

    info = session.get(f"{sf_org.server.url}/services/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"})
    bad = session.get(f"{sf_org.server.url}/services/oauth2/userinfo", headers={"Authorization": "Bearer nope"})

    assert info.json()["user_id"] == sf_org.sandbox.user_id
    assert info.json()["organization_id"] == "00D5g000004NHXYEA4"
    assert bad.status_code == 403


def test_pkce_without_a_verifier_is_invalid_grant(sf_org: SalesforceOrg) -> None:
    client = OAuth2Session(client_id=sf_org.sandbox.client_id, redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    with client:
        callback = authorize(sf_org, client, code_verifier=secrets.token_urlsafe(48))
    code = parse_qs(urlsplit(callback).query)["code"][0]

    response = sf_org.new_session().post(
        f"{sf_org.server.url}/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": sf_org.sandbox.client_id,
            "redirect_uri": REDIRECT_URI,
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
